"""commercetools side of the engine's `CustomerTarget`: canonical Customer <-> customer drafts and actions.

A customer created from another system carries the link back twice: `externalId` = that system's
customer id and `key` = `pos-<system>-<id>`, so `find` recognises our own earlier create (also one
whose answer was lost). Loyalty id, marketing consent and phone live in custom fields of the type
`omnisync-customer`, created here when missing (the names are the ones `mapping.map_customer` reads).
Updates of a batch go through `update_many`: one read per 100 customers and one GraphQL document per
chunk (`graphql_customers.py`); `update` is the one-customer REST path.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from typing import Any

from omnisync_pipelines.canonical.models import Customer, Rejection
from omnisync_pipelines.connectors.commercetools.actions import (
    Action,
    change_email,
    compose,
    set_custom_field,
    set_custom_type,
    set_first_name,
    set_last_name,
)
from omnisync_pipelines.connectors.commercetools.client import CommercetoolsClient
from omnisync_pipelines.connectors.commercetools.errors import is_duplicate_of
from omnisync_pipelines.connectors.commercetools.graphql_customers import BatchCustomerUpdater, CustomerUpdate
from omnisync_pipelines.connectors.commercetools.mapping import map_customer
from omnisync_pipelines.connectors.commercetools.settings import SYSTEM
from omnisync_pipelines.rest.errors import ApiError, BadRequest

CUSTOMER_TYPE_KEY = "omnisync-customer"
CUSTOM_FIELDS = {"loyalty_id": "loyaltyId", "consent_marketing": "consentMarketing", "phone": "phone"}
PLAIN_FIELDS = {"email": "email", "first_name": "firstName", "last_name": "lastName"}
CUSTOMER_TYPE = {
    "key": CUSTOMER_TYPE_KEY,
    "name": {"en": "omnisync customer"},
    "resourceTypeIds": ["customer"],
    "fieldDefinitions": [
        {"name": name, "label": {"en": name}, "required": False,
         "type": {"name": "Boolean" if name == "consentMarketing" else "String"},
         **({} if name == "consentMarketing" else {"inputHint": "SingleLine"})}
        for name in CUSTOM_FIELDS.values()
    ],
}


def customer_key(system: str, customer_id: str) -> str:
    """`pos-<system>-<id>`, reduced to the characters a commercetools key allows."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"pos-{system}-{customer_id}")[:256]


def customer_draft(source: Customer) -> dict:
    """CustomerDraft for a customer created from `source` (another system's record)."""
    draft: dict[str, Any] = {
        "email": source.email,
        "externalId": source.customer_id,
        "key": customer_key(source.system, source.customer_id),
    }
    for field, name in PLAIN_FIELDS.items():
        if field != "email" and getattr(source, field) is not None:
            draft[name] = getattr(source, field)
    custom = {CUSTOM_FIELDS[f]: getattr(source, f) for f in CUSTOM_FIELDS if getattr(source, f) is not None}
    if custom:
        draft["custom"] = {"type": {"typeId": "type", "key": CUSTOMER_TYPE_KEY}, "fields": custom}
    return draft


def customer_update_actions(current: dict, values: Mapping[str, Any]) -> list[Action]:
    """Actions that set the canonical `values` (only those given) on the raw customer `current`."""
    plain = {"email": change_email, "first_name": set_first_name, "last_name": set_last_name}
    custom = {CUSTOM_FIELDS[f]: v for f, v in values.items() if f in CUSTOM_FIELDS}
    if custom and not current.get("custom"):
        custom_actions: list[Action | None] = [set_custom_type(CUSTOMER_TYPE_KEY, custom)]
    else:
        custom_actions = [set_custom_field(current, name, value) for name, value in custom.items()]
    return compose((plain[f](current, v) for f, v in values.items() if f in plain), custom_actions)


def to_canonical(raw: dict) -> Customer:
    mapped = map_customer(raw)
    if isinstance(mapped, Rejection):
        raise ValueError(f"commercetools customer {raw.get('id')} does not map: {mapped.field}: {mapped.reason}")
    return mapped


class CommercetoolsCustomers:
    """`CustomerTarget` over a `CommercetoolsClient`."""

    system = SYSTEM

    def __init__(self, client: CommercetoolsClient):
        self.client = client
        self._type_id: str | None = None
        self._type_lock = asyncio.Lock()
        self._batch = BatchCustomerUpdater(client, customer_update_actions, self._prepare)

    async def ensure_type(self) -> str:
        """Create the `omnisync-customer` type if it is missing; returns its id (cached)."""
        async with self._type_lock:
            if self._type_id is None:
                found = await self.client.get_by_key("types", CUSTOMER_TYPE_KEY)
                if found is None:
                    try:
                        found = await self.client.create("types", CUSTOMER_TYPE)
                    except BadRequest as exc:
                        if not is_duplicate_of(exc, "key"):
                            raise
                        found = await self.client.get_by_key("types", CUSTOMER_TYPE_KEY)
                self._type_id = found["id"]
        return self._type_id

    async def find(self, source: Customer) -> Customer | None:
        raw = (
            await self.client.get_customer_by_key(customer_key(source.system, source.customer_id))
            or await self.client.find_customer_by_external_id(source.customer_id)
            or (await self.client.find_customer_by_email(source.email) if source.email else None)
        )
        return to_canonical(raw) if raw else None

    async def create(self, source: Customer) -> Customer:
        draft = customer_draft(source)
        if "custom" in draft:
            await self.ensure_type()
        try:
            raw = await self.client.create_customer(draft)
        except BadRequest as exc:
            if not is_duplicate_of(exc, "key"):
                raise
            raw = await self.client.get_customer_by_key(draft["key"])  # our earlier create: counts as applied
        return to_canonical(raw)

    async def update(self, customer_id: str, values: Mapping[str, Any]) -> Customer | None:
        if any(f in CUSTOM_FIELDS for f in values):
            await self.ensure_type()
        raw = await self.client.update_with_retry(
            "customers", customer_id, lambda current: customer_update_actions(current, values)
        )
        return to_canonical(raw) if raw else None

    async def update_many(self, updates: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Customer | None | ApiError]:
        """`update` for many (customer id, values) at once, without a read per customer: each outcome in order."""
        done = await self._batch.apply([CustomerUpdate(customer_id, values) for customer_id, values in updates])
        return [to_canonical(raw) if isinstance(raw, dict) else raw for raw in done]

    async def _prepare(self, actions: list[Action]) -> None:
        if any(a["action"] == "setCustomType" for a in actions):  # it references the type by key
            await self.ensure_type()
