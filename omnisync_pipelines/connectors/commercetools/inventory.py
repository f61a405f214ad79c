"""Inventory entries and the exactly-once stock write (`apply_stock_delta`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from omnisync_pipelines.connectors.commercetools.actions import (
    Action,
    compose,
    stamp_custom_field,
    stock_delta,
)
from omnisync_pipelines.connectors.commercetools.errors import duplicate_field
from omnisync_pipelines.connectors.commercetools.predicates import quote, sku_at_channel
from omnisync_pipelines.connectors.commercetools.settings import INVENTORY_TYPE_KEY, LAST_MOVEMENT_FIELD
from omnisync_pipelines.rest.errors import BadRequest, Conflict

if TYPE_CHECKING:
    from omnisync_pipelines.connectors.commercetools.client import CommercetoolsClient

RESOURCE = "inventory"
FETCH = object()  # apply_stock_delta: no entry was resolved beforehand, read it first


@dataclass(frozen=True)
class StockWriteResult:
    status: Literal["applied", "already_applied"]
    entry_id: str
    version: int
    quantity_on_stock: int

    def as_dict(self) -> dict:
        return asdict(self)


def last_movement(entry: dict) -> str | None:
    return ((entry.get("custom") or {}).get("fields") or {}).get(LAST_MOVEMENT_FIELD)


def _result(status, entry: dict) -> StockWriteResult:
    return StockWriteResult(status, entry["id"], entry["version"], entry["quantityOnStock"])


class InventoryApi:
    async def iter_inventory(self: CommercetoolsClient, *, since: datetime | None = None, where=()) -> AsyncIterator[dict]:
        source = (
            self.iter_query(RESOURCE, where=where) if since is None else self.iter_modified_since(RESOURCE, since, where=where)
        )
        async for entry in source:
            yield entry

    async def find_inventory_entry(self: CommercetoolsClient, sku: str, channel_id: str) -> dict | None:
        body = await self.call("GET", self.url(RESOURCE), params={"where": sku_at_channel(sku, channel_id), "limit": 1})
        results = body.get("results") or []
        return results[0] if results else None

    async def find_inventory_entries(self: CommercetoolsClient, skus: Sequence[str], channel_id: str) -> dict[str, dict]:
        """The entries of these SKUs at one supply channel, by SKU: one query (per page) for the batch."""
        where = f"sku in ({', '.join(quote(s) for s in skus)}) and supplyChannel(id = {quote(channel_id)})"
        return {entry["sku"]: entry async for entry in self.iter_query(RESOURCE, where=[where])}

    async def create_inventory_entry(
        self: CommercetoolsClient, sku: str, channel_id: str, quantity: int, *, fields: dict | None = None
    ) -> dict:
        draft: dict = {"sku": sku, "supplyChannel": {"typeId": "channel", "id": channel_id}, "quantityOnStock": quantity}
        if fields:
            draft["custom"] = {"type": {"typeId": "type", "key": INVENTORY_TYPE_KEY}, "fields": fields}
        return await self.create(RESOURCE, draft)

    async def update_inventory_entry(self: CommercetoolsClient, entry_id: str, version: int, actions: list[Action]) -> dict:
        return await self.update(RESOURCE, entry_id, version, actions)

    async def apply_stock_delta(
        self: CommercetoolsClient, sku: str, channel_id: str, delta: int, movement_key: str, *, current=FETCH
    ) -> StockWriteResult:
        """Apply a relative change and stamp `movement_key` on the entry in the same request.

        An entry already carrying the key had this change applied (maybe by a run whose answer was
        lost): `already_applied`. Concurrent writers meet as 409 (update) or DuplicateField
        (create); both re-read and try again, at most `max_conflict_retries` times. `current` is the
        entry (or None: none exists) when the caller resolved it in a batch; the first try then
        skips the read, and a stale one meets the same 409 / DuplicateField path.
        """
        await self.ensure_types()
        retries = self.settings.max_conflict_retries
        for attempt in range(retries + 1):
            last_try = attempt == retries
            entry = await self.find_inventory_entry(sku, channel_id) if attempt or current is FETCH else current
            if entry is None:
                try:
                    created = await self.create_inventory_entry(
                        sku, channel_id, delta, fields={LAST_MOVEMENT_FIELD: movement_key}
                    )
                    return _result("applied", created)
                except BadRequest as exc:
                    if last_try or duplicate_field(exc) is None:  # the field named varies: sku or supplyChannel
                        raise
                    continue  # created meanwhile by another writer
            if last_movement(entry) == movement_key:
                return _result("already_applied", entry)
            actions = compose(
                stock_delta(delta), stamp_custom_field(entry, INVENTORY_TYPE_KEY, LAST_MOVEMENT_FIELD, movement_key)
            )
            try:
                return _result("applied", await self.update_inventory_entry(entry["id"], entry["version"], actions))
            except Conflict:
                if last_try:
                    raise
        raise AssertionError("unreachable")
