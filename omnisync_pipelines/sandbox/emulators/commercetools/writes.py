"""Finding, creating and updating stored resources: the one code path the REST routes and the GraphQL
mutations share, so both give the same validation, versioning and errors."""

from __future__ import annotations

from collections.abc import Callable

from .errors import concurrent_modification, duplicate, invalid_input, invalid_json, not_found
from .resources import ResourceKind
from .resources.orders import ORDERS
from .store import Ctx, Store, clone

MAX_ACTIONS = 500


def lookup(store: Store, kind: ResourceKind, ident: str) -> dict:
    """`ident`: an id, `key=<key>` or (orders) `order-number=<n>`; 404 ResourceNotFound when absent."""
    if ident.startswith("key="):
        found, by = store.find(kind.type_id, "key", ident[4:]), "key"
    elif ident.startswith("order-number=") and kind is ORDERS:
        found, by = store.find(kind.type_id, "orderNumber", ident[13:]), "orderNumber"
    else:
        found, by = store.get(kind.type_id, ident), "ID"
    if found is None:
        raise not_found(ident.split("=", 1)[-1] if by != "ID" else ident, by)
    return found


def validate(ctx: Ctx, kind: ResourceKind, resource: dict) -> None:
    key = resource.get("key")
    if key is not None and any(r["id"] != resource["id"] and r.get("key") == key
                               for r in ctx.candidates(kind.type_id, ("key", key))):
        raise duplicate("key", key)
    if kind.validate is not None:
        kind.validate(ctx, resource)


async def create(store: Store, kind: ResourceKind, draft: dict, build: Callable[[Ctx, dict], dict]) -> dict:
    """The new resource (a copy), committed with its Created message; raises CtError."""
    async with store.lock:
        ctx = Ctx(store)
        fields = {k: v for k, v in build(ctx, draft).items() if v is not None}
        resource = ctx.stage_new(kind.type_id, fields)
        validate(ctx, kind, resource)
        if kind.message_prefix:
            payload_key, value = (kind.created_payload(resource) if kind.created_payload else
                                  (kind.message_prefix[0].lower() + kind.message_prefix[1:], clone(resource)))
            payload = {payload_key: value} if store.messages_enabled else {}  # not kept when off
            ctx.emit(kind.type_id, resource["id"], kind.created_message or f"{kind.message_prefix}Created", **payload)
        ctx.commit()
        return clone(resource)


async def update(store: Store, kind: ResourceKind, ident: str, version, actions) -> dict:
    """The updated resource (a copy) after every action applied, all or nothing; 409 on a stale version."""
    if not isinstance(version, int) or isinstance(version, bool):
        raise invalid_json("version: Missing required value")
    if not isinstance(actions, list):
        raise invalid_json("actions: Missing required value")
    if len(actions) > MAX_ACTIONS:
        raise invalid_input(f"The number of update actions ({len(actions)}) exceeds the limit of {MAX_ACTIONS}.")
    async with store.lock:
        current = lookup(store, kind, ident)
        if version != current["version"]:
            raise concurrent_modification(current["id"], version, current["version"])
        ctx = Ctx(store)
        changed = clone(current)
        for action in actions:
            name = action.get("action") if isinstance(action, dict) else None
            apply = kind.actions.get(name)
            if apply is None:
                raise invalid_input(f"Unknown update action '{name}' for resource type '{kind.type_id}'.")
            apply(ctx, changed, action)
        ctx.stage_update(kind.type_id, changed)
        validate(ctx, kind, changed)
        ctx.commit()
        return clone(store.get(kind.type_id, current["id"]))
