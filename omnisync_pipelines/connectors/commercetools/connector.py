"""The commercetools `Connector`: reads each entity into canonical records (full or since a cursor)
and is the stock target of the engine's push (by canonical location key)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from omnisync_pipelines.canonical.models import Rejection
from omnisync_pipelines.connectors.base import ReadResult, UnknownEntity
from omnisync_pipelines.connectors.commercetools.client import CommercetoolsClient
from omnisync_pipelines.connectors.commercetools.graphql_inventory import BatchStockWriter, StockWrite
from omnisync_pipelines.connectors.commercetools.inventory import FETCH, last_movement
from omnisync_pipelines.connectors.commercetools.mapping import (
    Invalid,
    map_channel,
    map_customer,
    map_inventory_entry,
    map_product_prices,
    map_product_projection,
    timestamp,
)
from omnisync_pipelines.connectors.commercetools.order_mapping import map_order, map_order_returns
from omnisync_pipelines.connectors.commercetools.settings import SYSTEM
from omnisync_pipelines.rest.errors import ApiError

INVENTORY_SUPPLY = "InventorySupply"
PREFETCH_BATCH = 100  # SKUs per `sku in (...)` query: keeps the URL well under common limits


class UnmappedLocation(ValueError):
    pass


@dataclass(frozen=True)
class InventoryState:
    """What the engine needs to know about an entry (duck-compatible with engine's TargetStock)."""

    quantity_on_stock: int
    last_movement: str | None
    entry_id: str
    version: int


class _Batch:
    """Accumulates one read: tables, rejections, raw count and the newest lastModifiedAt."""

    def __init__(self, *tables: str):
        self.result = ReadResult(tables={t: [] for t in tables}, rejected=[])
        self.newest: datetime | None = None

    def saw(self, raw: dict) -> None:
        self.result.raw_count += 1
        try:
            modified = timestamp(raw.get("lastModifiedAt"), "lastModifiedAt") if isinstance(raw, dict) else None
        except Invalid:
            modified = None
        if modified is not None and (self.newest is None or modified > self.newest):
            self.newest = modified

    def add(self, table: str, records: Any) -> None:
        if isinstance(records, Rejection):
            self.result.rejected.append(records)
        else:
            self.result.tables[table].extend(records if isinstance(records, list) else [records])

    def done(self, since: str | None) -> ReadResult:
        self.result.cursor = self.newest.isoformat() if self.newest else since
        return self.result


def _latest_per_id(items: list[dict]) -> list[dict]:
    latest: dict[str, dict] = {}
    for item in items:
        known = latest.get(item.get("id"))
        if known is None or (item.get("version") or 0) >= (known.get("version") or 0):
            latest[item.get("id")] = item
    return list(latest.values())


class CommercetoolsConnector:
    system = SYSTEM

    def __init__(
        self,
        client: CommercetoolsClient,
        location_map: dict[str, str],
        store_map: dict[str, str] | None = None,
        aggregate_channels: tuple[str, ...] = (),
    ):
        """`location_map`: supply channel key -> location key; `store_map`: store key -> location key;
        `aggregate_channels`: supply channel keys omnisync writes sellable totals to (not locations)."""
        self.client = client
        self.aggregate_channels = tuple(aggregate_channels)
        self._aggregate_ids: set[str] = set()
        self.location_map = dict(location_map)
        self.store_map = dict(store_map or {})
        self._channel_locations: dict[str, str] | None = None
        self._channel_ids: dict[str, str] | None = None
        self._entries: dict[tuple[str, str], dict | None] = {}  # (sku, location) -> entry, from prefetch_stock
        self._batch_writer = BatchStockWriter(client)

    async def channel_locations(self) -> dict[str, str]:
        """Channel id -> location key, resolved once from the configured channel keys."""
        if self._channel_locations is None:
            ids = await self.client.channel_ids_by_key()
            self._channel_ids = {loc: ids[key] for key, loc in self.location_map.items() if key in ids}
            self._channel_locations = {ids[key]: loc for key, loc in self.location_map.items() if key in ids}
            self._aggregate_ids = {ids[key] for key in self.aggregate_channels if key in ids}
        return self._channel_locations

    async def verify_locations(self) -> None:
        """Every configured supply channel key exists, else `LocationMapError` naming each one."""
        from omnisync_pipelines.connectors.base import unknown_locations

        ids = await self.client.channel_ids_by_key()
        missing = {loc: key for key, loc in self.location_map.items() if key not in ids}
        if missing:
            raise unknown_locations("commercetools", "supply_channel_key", missing)

    async def channel_id_for(self, location_key: str) -> str:
        await self.channel_locations()
        channel_id = (self._channel_ids or {}).get(location_key)
        if channel_id is None:
            raise UnmappedLocation(f"location {location_key!r} has no commercetools supply channel (by key) in the map")
        return channel_id

    async def read(self, entity: str, *, since: str | None = None) -> ReadResult:
        readers: dict[str, Callable[[datetime | None], Any]] = {
            "locations": self._locations,
            "catalog": self._catalog,
            "prices": self._prices,
            "stock": self._stock,
            "orders": self._orders,
            "returns": self._returns,
            "customers": self._customers,
        }
        if entity not in readers:
            raise UnknownEntity(SYSTEM, entity)
        batch = await readers[entity](datetime.fromisoformat(since) if since else None)
        return batch.done(since)

    async def _each(self, source: AsyncIterator[dict], batch: _Batch) -> list[dict]:
        items = []
        async for raw in source:
            batch.saw(raw)
            items.append(raw)
        return _latest_per_id(items)

    async def _locations(self, since: datetime | None) -> _Batch:
        batch = _Batch("locations")
        for raw in await self.client.channels(INVENTORY_SUPPLY):
            batch.saw(raw)
            batch.add("locations", map_channel(raw, self.location_map, self.client.settings.locale))
        return batch

    async def _catalog(self, since: datetime | None) -> _Batch:
        batch = _Batch("catalog")
        for raw in await self._each(self.client.iter_product_projections(since=since), batch):
            items, rejected = map_product_projection(raw, self.client.settings.locale)
            batch.add("catalog", items)
            batch.result.rejected.extend(rejected)
        return batch

    async def _prices(self, since: datetime | None) -> _Batch:
        batch = _Batch("prices")
        channels = await self.channel_locations()
        for raw in await self._each(self.client.iter_product_projections(since=since), batch):
            prices, rejected = map_product_prices(raw, channels)
            batch.add("prices", prices)
            batch.result.rejected.extend(rejected)
        return batch

    async def _stock(self, since: datetime | None) -> _Batch:
        batch = _Batch("stock")
        channels = await self.channel_locations()
        for raw in await self._each(self.client.iter_inventory(since=since), batch):
            if ((raw.get("supplyChannel") or {}).get("id")) in self._aggregate_ids:
                continue  # an aggregate (online) channel's sellable total, written by omnisync: not a location
            batch.add("stock", map_inventory_entry(raw, channels))
        return batch

    async def _orders(self, since: datetime | None) -> _Batch:
        batch = _Batch("orders", "order_lines", "order_payments")
        channels = await self.channel_locations()
        for raw in await self._each(self.client.iter_orders(since=since), batch):
            mapped = map_order(raw, channels, self.store_map)
            if isinstance(mapped, Rejection):
                batch.add("orders", mapped)
                continue
            order, lines, payments = mapped
            batch.add("orders", order)
            batch.add("order_lines", lines)
            batch.add("order_payments", payments)
        return batch

    async def _returns(self, since: datetime | None) -> _Batch:
        batch = _Batch("returns", "return_lines")
        channels = await self.channel_locations()
        for raw in await self._each(self.client.iter_orders(since=since), batch):
            returns, rejected = map_order_returns(raw, channels, self.store_map)
            for ret, lines in returns:
                batch.add("returns", ret)
                batch.add("return_lines", lines)
            batch.result.rejected.extend(rejected)
        return batch

    async def _customers(self, since: datetime | None) -> _Batch:
        batch = _Batch("customers")
        for raw in await self._each(self.client.iter_customers(since=since), batch):
            batch.add("customers", map_customer(raw))
        return batch

    # the engine's stock target ---------------------------------------------------------------

    async def prefetch_stock(self, keys: Iterable[tuple[str, str]]) -> None:
        """Resolve the inventory entries a push will touch, one query per batch of SKUs at a location
        (instead of one read per record); each is used once by `apply_stock_delta`, and
        `drop_prefetched` forgets the rest when the push ends, so nothing stale outlives it."""
        by_location: dict[str, list[str]] = {}
        for sku, location_key in dict.fromkeys(keys):
            by_location.setdefault(location_key, []).append(sku)

        async def fetch(location_key: str, skus: list[str]) -> None:
            found = await self.client.find_inventory_entries(skus, await self.channel_id_for(location_key))
            self._entries.update({(sku, location_key): found.get(sku) for sku in skus})

        await asyncio.gather(*(
            fetch(location_key, skus[i : i + PREFETCH_BATCH])
            for location_key, skus in by_location.items() for i in range(0, len(skus), PREFETCH_BATCH)
        ))

    def drop_prefetched(self) -> None:
        self._entries.clear()

    def forget_prefetched(self, keys: Iterable[tuple[str, str]]) -> None:
        """Read these (sku, location) fresh next time (another writer may have moved them)."""
        for key in keys:
            self._entries.pop(key, None)

    async def read_stock(self, sku: str, location_key: str) -> InventoryState | None:
        key = (sku, location_key)
        if key in self._entries:
            entry = self._entries[key]
        else:
            entry = await self.client.find_inventory_entry(sku, await self.channel_id_for(location_key))
        if entry is None:
            return None
        return InventoryState(entry["quantityOnStock"], last_movement(entry), entry["id"], entry["version"])

    async def apply_stock_delta(self, sku: str, location_key: str, delta: int, movement_key: str) -> dict:
        channel_id = await self.channel_id_for(location_key)
        current = self._entries.pop((sku, location_key), FETCH)
        result = await self.client.apply_stock_delta(sku, channel_id, delta, movement_key, current=current)
        return result.as_dict()

    @property
    def batches_stock_writes(self) -> bool:
        """Whether `apply_stock_deltas` sends batches (GraphQL on, and not found missing); when not, the
        push sends each write itself, within its own concurrency bound."""
        return self._batch_writer.graphql.use

    async def apply_stock_deltas(self, writes: Iterable[tuple[str, str, int, str]]) -> list[dict | ApiError]:
        """`apply_stock_delta` for many (sku, location_key, delta, movement_key) at once: one GraphQL
        document per chunk instead of one request per write; each write's result or error, in order."""
        writes = list(writes)
        unresolved = [(sku, location_key) for sku, location_key, _, _ in writes if (sku, location_key) not in self._entries]
        if unresolved:
            await self.prefetch_stock(unresolved)
        planned = [
            StockWrite(sku, await self.channel_id_for(location_key), delta, key, self._entries.pop((sku, location_key), None))
            for sku, location_key, delta, key in writes
        ]
        return await self._batch_writer.apply(planned)

    async def aclose(self) -> None:
        await self.client.aclose()
