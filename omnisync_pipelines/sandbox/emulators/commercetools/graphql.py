"""`POST /{projectKey}/graphql` for inventory entries and customer updates, executed with graphql-core
against the same store, validation and versioning as the REST routes (`writes.py`).

What the real API documents and this follows: the body is `{"query", "variables", "operationName"}`;
root mutation fields run in order, each with its own outcome, so a failing one answers
`{"data": {alias: null}, "errors": [{"message", "path": [alias], "extensions": {"code", ...}}]}`
(the REST error's code and fields, e.g. `ConcurrentModification` with `currentVersion`) while the
others apply (HTTP 200); custom field values travel as JSON-encoded strings. A document that does
not parse or validate, and a request whose data is null (an InvalidInput on a non-null root), answer
HTTP 400 (GraphQL over HTTP, release note 2026-01-29). The token is checked for the whole request
(401 as REST); scopes are checked per field as REST checks them per route: `view_products` or
`manage_products` to read inventory, `manage_products` to write it, `manage_customers` to update a
customer (a field without the scope gets an `insufficient_scope` error, the others still run).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache, partial
from inspect import isawaitable
from typing import Any

from graphql import DocumentNode, GraphQLError, build_schema, execute, parse, validate
from starlette.datastructures import QueryParams

from . import writes
from .auth import Auth
from .errors import CtError, invalid_input
from .graphql_schema import SDL
from .query import run_query
from .resources import ResourceKind
from .resources.customers import CUSTOMERS
from .resources.inventory import INVENTORY
from .store import Store

SCHEMA = build_schema(SDL)


@dataclass(frozen=True)
class _Request:
    store: Store
    auth: Auth
    authorization: str | None
    project: str

    def allow(self, kind: ResourceKind, write: bool) -> None:
        any_of = kind.manage_scopes if write else kind.view_scopes + kind.manage_scopes
        self.auth.check(self.authorization, self.project, any_of)


async def execute_request(body: dict, store: Store, auth: Auth, authorization: str | None, project: str) -> tuple[dict, int]:
    """(response body, HTTP status) for one GraphQL request; CtError for what fails before GraphQL."""
    auth.authenticate(authorization)
    query, variables = body.get("query"), body.get("variables")
    if not isinstance(query, str):
        raise CtError(400, "InvalidJsonInput", "Request body does not contain valid JSON.", detailedErrorMessage="query: Missing required value")
    if variables is not None and not isinstance(variables, dict):
        raise CtError(400, "InvalidJsonInput", "Request body does not contain valid JSON.", detailedErrorMessage="variables: expected an object")
    document, refused = _checked(query)
    if refused:
        return {"errors": [_error(e) for e in refused]}, 400
    result = execute(SCHEMA, document, variable_values=variables, operation_name=body.get("operationName"),
                     context_value=_Request(store, auth, authorization, project))
    if isawaitable(result):
        result = await result
    response: dict[str, Any] = {"data": result.data}
    if result.errors:
        response["errors"] = [_error(e) for e in result.errors]
    return response, 400 if result.data is None else 200


@lru_cache(maxsize=512)
def _checked(query: str) -> tuple[DocumentNode | None, tuple[GraphQLError, ...]]:
    """The parsed document and its validation errors. Cached by text: a client sends the same few
    documents over and over with other variables, and parsing plus validating a 100-alias document
    costs more than running it."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        return None, (exc,)
    return document, tuple(validate(SCHEMA, document))


def _error(error: GraphQLError) -> dict:
    cause = error.original_error
    out: dict[str, Any] = {"message": cause.message if isinstance(cause, CtError) else error.message}
    if error.locations:
        out["locations"] = [{"line": at.line, "column": at.column} for at in error.locations]
    if error.path:
        out["path"] = list(error.path)
    if isinstance(cause, CtError):
        out["extensions"] = {"code": cause.code, **cause.fields}
    elif cause is not None:
        out["extensions"] = {"code": "General"}
    return out


# -- GraphQL inputs as the REST drafts and actions they stand for ----------------------------------
def _identifier(value: dict | None) -> dict | None:
    return None if value is None else {k: v for k, v in value.items() if v is not None}


def _field_value(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise invalid_input(f"The value of the custom field '{name}' is not valid JSON: {text}") from None


def _custom(draft: dict) -> dict:
    type_ref = draft.get("type") or ({"id": draft["typeId"]} if draft.get("typeId")
                                     else {"key": draft["typeKey"]} if draft.get("typeKey") else None)
    fields = {f["name"]: _field_value(f["value"], f["name"]) for f in draft.get("fields") or []}
    return {"type": _identifier(type_ref), "fields": fields}


def _draft(draft: dict) -> dict:
    rest = {k: v for k, v in draft.items() if k not in ("supplyChannel", "custom") and v is not None}
    rest.setdefault("quantityOnStock", 0)
    if draft.get("supplyChannel") is not None:
        rest["supplyChannel"] = _identifier(draft["supplyChannel"])
    if draft.get("custom") is not None:
        rest["custom"] = _custom(draft["custom"])
    return rest


def _action(update: dict, input_type: str) -> dict:
    given = {name: payload for name, payload in update.items() if payload is not None}
    if len(given) != 1:
        raise invalid_input(f"An {input_type} must set exactly one action, got {sorted(given) or 'none'}.")
    ((name, payload),) = given.items()
    if name == "setCustomField":
        value = payload.get("value")
        return {"action": name, "name": payload["name"],
                **({"value": _field_value(value, payload["name"])} if value is not None else {})}
    if name == "setCustomType":
        custom = _custom(payload)
        return {"action": name, **(custom if custom["type"] else {})}
    if name == "setSupplyChannel":
        return {"action": name, "supplyChannel": _identifier(payload.get("supplyChannel"))}
    return {"action": name, **payload}


def _render(resource: dict) -> dict:
    out = {**resource, "supplyChannelRef": resource.get("supplyChannel")}
    if resource.get("custom"):
        out["custom"] = {"typeRef": resource["custom"]["type"], "fields": resource["custom"].get("fields") or {}}
    return out


def _ident(id: str | None, key: str | None) -> str:
    if (id is None) == (key is None):
        raise invalid_input("Exactly one of 'id' or 'key' must be given.")
    return id if id is not None else f"key={key}"


# -- resolvers --------------------------------------------------------------------------------
async def _create(_, info, draft: dict) -> dict:
    info.context.allow(INVENTORY, write=True)
    return _render(await writes.create(info.context.store, INVENTORY, _draft(draft), INVENTORY.create))


async def _update(_, info, version: int, actions: list[dict], id: str | None = None, key: str | None = None) -> dict:
    info.context.allow(INVENTORY, write=True)
    ident = _ident(id, key)
    rest_actions = [_action(a, "InventoryEntryUpdateAction") for a in actions]
    return _render(await writes.update(info.context.store, INVENTORY, ident, version, rest_actions))


async def _update_customer(_, info, version: int, actions: list[dict], id: str | None = None,
                           key: str | None = None) -> dict:
    info.context.allow(CUSTOMERS, write=True)
    ident = _ident(id, key)
    rest_actions = [_action(a, "CustomerUpdateAction") for a in actions]
    return _render(await writes.update(info.context.store, CUSTOMERS, ident, version, rest_actions))


def _entry(_, info, id: str | None = None, key: str | None = None) -> dict | None:
    info.context.allow(INVENTORY, write=False)
    ident = _ident(id, key)
    try:
        return _render(writes.lookup(info.context.store, INVENTORY, ident))
    except CtError as exc:
        if exc.status == 404:
            return None  # the GraphQL way to say "does not exist"
        raise


def _entries(_, info, where: str | None = None, sort: list[str] | None = None, limit: int | None = None,
             offset: int | None = None) -> dict:
    info.context.allow(INVENTORY, write=False)
    params = [("where", where)] if where is not None else []
    params += [("sort", s) for s in sort or []]
    params += [(name, str(value)) for name, value in (("limit", limit), ("offset", offset)) if value is not None]
    store = info.context.store
    found = run_query(partial(store.all, INVENTORY.type_id), QueryParams(params),
                      narrow=partial(store.matching, INVENTORY.type_id))
    return {**found, "results": [_render(e) for e in found["results"]]}


def _raw_fields(custom: dict, info, includeNames: list[str] | None = None, excludeNames: list[str] | None = None) -> list[dict]:
    return [{"name": name, "value": value} for name, value in custom["fields"].items()
            if (includeNames is None or name in includeNames) and name not in (excludeNames or ())]


SCHEMA.mutation_type.fields["createInventoryEntry"].resolve = _create
SCHEMA.mutation_type.fields["updateInventoryEntry"].resolve = _update
SCHEMA.mutation_type.fields["updateCustomer"].resolve = _update_customer
SCHEMA.query_type.fields["inventoryEntry"].resolve = _entry
SCHEMA.query_type.fields["inventoryEntries"].resolve = _entries
SCHEMA.type_map["CustomFieldsType"].fields["customFieldsRaw"].resolve = _raw_fields
