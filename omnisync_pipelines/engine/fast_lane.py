"""The low-latency lane: a store sale's stock movement reaches commercetools about a second later.

Dagster cannot give second-level latency (sensor ticks, run start-up), so beside it this plain
loop reads X-Series events from the webhook inbox, re-reads the current POS count of every
product the events name (`GET /api/2.0/products/{id}/inventory`, with its version) and hands the
changed counts to the very same `push_stock` the Dagster push asset uses. The idempotency key is
the plan's (`stock_<pos>_to_commercetools|<pos>|SKU@location|<pos version>`) and the baseline
advances in the same transaction as `applied`, so a later `delta_sync` plans nothing for those
counts (its POS count equals the baseline), and a push of the same key is `already_applied`.

Only counts that already have a baseline move here: the first alignment of a (SKU, location) and
the SKU-known-in-commercetools check stay with the Dagster plan. Any failure is left to the next
Dagster run: the inbox event is still marked processed, the ledger says what happened.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pandas as pd

from omnisync_pipelines.canonical.keys import idempotency_key
from omnisync_pipelines.canonical.models import StockLevel
from omnisync_pipelines.connectors.lightspeed_x.mapping import map_inventory
from omnisync_pipelines.engine.options import SyncOptions
from omnisync_pipelines.engine.statistics import SyncStatistics
from omnisync_pipelines.engine.stock_plan import PLAN_COLUMNS, stock_flow
from omnisync_pipelines.engine.stock_push import StockTarget, push_stock
from omnisync_pipelines.store.inbox import Inbox
from omnisync_pipelines.store.ops import OpsStore

log = logging.getLogger("omnisync.fast_lane")

POS_SYSTEM = "lightspeed_x"
STOCK_EVENT_TYPES = frozenset({"sale.update", "inventory.update", "product.update"})


def product_ids_of(event_type: str, payload: dict) -> set[str]:
    """The POS products whose counts an X-Series event may have moved."""
    if event_type == "product.update":
        return {str(payload["id"])} if payload.get("id") else set()
    if event_type == "inventory.update":
        product = payload.get("product_id") or (payload.get("product") or {}).get("id")
        return {str(product)} if product else set()
    if event_type == "sale.update":
        lines = payload.get("line_items") or payload.get("register_sale_products") or []
        return {str(line["product_id"]) for line in lines if isinstance(line, dict) and line.get("product_id")}
    return set()


def stock_products_of_events(events: Iterable[dict]) -> set[str]:
    found: set[str] = set()
    for event in events:
        if event["system"] != POS_SYSTEM or event["event_type"] not in STOCK_EVENT_TYPES:
            continue
        try:
            payload = json.loads(event["payload"])
        except ValueError:
            continue
        if isinstance(payload, dict):
            found |= product_ids_of(event["event_type"], payload)
    return found


@dataclass
class FastLaneBatch:
    events: int
    products: int
    planned: int
    stats: SyncStatistics | None
    seconds: float
    rejected_levels: list[str] = field(default_factory=list)

    def summary(self) -> str:
        pushed = self.stats.summary() if self.stats else "nothing to push"
        return f"fast lane: {self.events} events, {self.products} products, {self.planned} counts planned; {pushed} ({self.seconds:.3f}s)"


class FastLane:
    """`pos_client`: an X-Series client (`get`, `product_inventory`); `target`: the commercetools connector."""

    def __init__(self, pos_client, location_map: dict[str, str], target: StockTarget, ops: OpsStore,
                 options: SyncOptions = SyncOptions()):
        self.pos_client = pos_client
        self.options = options
        self.location_map = dict(location_map)
        self.target = target
        self.ops = ops
        self.flow = stock_flow(POS_SYSTEM)
        self._sku_of: dict[str, str | None] = {}

    async def apply_events(self, events: list[dict]) -> FastLaneBatch:
        started = time.perf_counter()
        for event in events:  # a product edit may have changed its SKU
            if event["event_type"] == "product.update":
                for product_id in stock_products_of_events([event]):
                    self._sku_of.pop(product_id, None)
        products = sorted(stock_products_of_events(events))
        levels, bad = await self.pos_levels(products)
        plan = self.plan(levels)
        stats = await push_stock(plan, self.target, self.ops, pos_system=POS_SYSTEM, options=self.options) if len(plan) else None
        return FastLaneBatch(len(events), len(products), len(plan), stats, time.perf_counter() - started, bad)

    async def pos_levels(self, product_ids: list[str]) -> tuple[list[StockLevel], list[str]]:
        async def one(product_id: str):
            sku = await self._sku(product_id)
            if sku is None:
                return [], [f"product {product_id}: no SKU"]
            rows = await self.pos_client.product_inventory(product_id)
            mapped = [map_inventory(r, sku_of={product_id: sku}, location_map=self.location_map) for r in rows]
            return [m for m in mapped if isinstance(m, StockLevel)], [m.reason for m in mapped if not isinstance(m, StockLevel)]

        found = await asyncio.gather(*(one(p) for p in product_ids))
        return [lvl for levels, _ in found for lvl in levels], [reason for _, bad in found for reason in bad]

    async def _sku(self, product_id: str) -> str | None:
        if product_id not in self._sku_of:
            product = await self.pos_client.get("products", product_id)
            self._sku_of[product_id] = (product.get("sku") or "").strip() or None
        return self._sku_of[product_id]

    def plan(self, levels: list[StockLevel]) -> pd.DataFrame:
        """Plan rows as `plan_stock` makes them, for counts that moved past their baseline."""
        rows = []
        for level in levels:
            baseline = self.ops.baseline(POS_SYSTEM, level.sku, level.location_key)
            if baseline is None or level.on_hand == baseline["level"] or level.system_version <= baseline["version"]:
                continue
            key = idempotency_key(POS_SYSTEM, f"{level.sku}@{level.location_key}", level.system_version, self.flow)
            rows.append({
                "idempotency_key": key, "source_system": POS_SYSTEM, "sku": level.sku, "location_key": level.location_key,
                "pos_level": level.on_hand, "pos_version": level.system_version, "baseline_level": baseline["level"],
                "expected_delta": level.on_hand - baseline["level"], "kind": "level_change",
            })
        return pd.DataFrame(rows, columns=PLAN_COLUMNS)


async def drain_inbox(lane: FastLane, inbox: Inbox, *, limit: int = 200) -> FastLaneBatch | None:
    """One pass: the unprocessed X-Series events, applied, then marked processed."""
    events = inbox.pending(limit=limit, system=POS_SYSTEM)
    if not events:
        return None
    batch = await lane.apply_events(events)
    inbox.mark_processed(e["id"] for e in events)
    return batch


async def run_fast_lane(
    lane: FastLane, inbox: Inbox, *, poll_s: float = 0.2, stop: Callable[[], bool] = lambda: False,
    on_batch: Callable[[FastLaneBatch], None] | None = None,
) -> None:
    """The long-running loop: drain, sleep `poll_s` when idle, until `stop()`. A failed pass is
    logged and retried at the next poll; the events stay unprocessed until a pass succeeds."""
    while not stop():
        try:
            batch = await drain_inbox(lane, inbox)
        except Exception:  # noqa: BLE001  (the loop must outlive one bad pass; Dagster runs are the safety net)
            log.exception("fast lane pass failed; retrying at the next poll")
            batch = None
            await asyncio.sleep(max(poll_s, 1.0))
        if batch is not None:
            log.info(batch.summary())
            if on_batch:
                on_batch(batch)
        else:
            await asyncio.sleep(poll_s)


@asynccontextmanager
async def open_fast_lane(config, secrets: dict[str, dict], ops: OpsStore, *, call_log=None) -> AsyncIterator[FastLane]:
    """Both connectors from the configuration file; `secrets` per system (from the environment)."""
    from omnisync_pipelines.connectors.registry import open_connector

    if config.pos != POS_SYSTEM:
        raise ValueError(f"the fast lane reads {POS_SYSTEM} events; the configured pos is {config.pos}")
    async with open_connector(POS_SYSTEM, config, secrets[POS_SYSTEM], call_log=call_log) as pos, \
            open_connector("commercetools", config, secrets["commercetools"], call_log=call_log) as ct:
        yield FastLane(pos.client, pos.location_map, ct, ops,
                       SyncOptions(negative_stock_policy=config.stock.negative_stock_policy))
