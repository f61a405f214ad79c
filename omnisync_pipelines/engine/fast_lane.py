"""The low-latency lane: a store sale's stock movement reaches commercetools about a second later.

Dagster cannot give second-level latency (sensor ticks, run start-up), so beside it this plain
loop reads a POS's events from the webhook inbox, re-reads the current POS count of every item the
events name (the POS plugin's `LiveStock`, with its version) and hands the changed counts to the
very same `push_stock` the Dagster push asset uses. One lane per configured POS that has one
(`Capabilities.fast_lane`). The idempotency key is
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
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import pandas as pd

from omnisync_pipelines.canonical.keys import idempotency_key
from omnisync_pipelines.canonical.models import StockLevel
from omnisync_pipelines.connectors.pos import LiveStock
from omnisync_pipelines.engine.options import SyncOptions
from omnisync_pipelines.engine.statistics import SyncStatistics
from omnisync_pipelines.engine.stock_plan import PLAN_COLUMNS, stock_flow
from omnisync_pipelines.engine.stock_push import StockTarget, push_stock
from omnisync_pipelines.store.inbox import Inbox
from omnisync_pipelines.store.ops import OpsStore

log = logging.getLogger("omnisync.fast_lane")


def _payloads(events: Iterable[dict], pos_system: str) -> Iterable[tuple[str, dict]]:
    for event in events:
        if event["system"] != pos_system:
            continue
        try:
            payload = json.loads(event["payload"])
        except ValueError:
            continue
        if isinstance(payload, dict):
            yield event["event_type"], payload


def stock_items_of_events(events: Iterable[dict]) -> set[str]:
    """The POS item ids whose counts any of these inbox events (of any registered POS) may have moved."""
    from omnisync_pipelines.systems import pos_ids, pos_plugin

    found: set[str] = set()
    for pos in {e["system"] for e in events} & set(pos_ids()):
        plugin = pos_plugin(pos)
        for event_type, payload in _payloads(events, pos):
            found |= plugin.stock_items_of_event(event_type, payload)
    return found


@dataclass
class FastLaneBatch:
    events: int
    products: int
    planned: int
    stats: SyncStatistics | None
    seconds: float
    rejected_levels: list[str] = field(default_factory=list)
    pos_system: str = ""

    def summary(self) -> str:
        pushed = self.stats.summary() if self.stats else "nothing to push"
        return (f"fast lane {self.pos_system}: {self.events} events, {self.products} products, {self.planned} counts "
                f"planned; {pushed} ({self.seconds:.3f}s)")


class FastLane:
    """`live`: the POS's live stock read (its plugin's `LiveStock`); `target`: the commercetools connector."""

    def __init__(self, pos_system: str, live: LiveStock, target: StockTarget, ops: OpsStore,
                 options: SyncOptions = SyncOptions()):
        self.pos_system = pos_system
        self.live = live
        self.options = options
        self.target = target
        self.ops = ops
        self.flow = stock_flow(pos_system)

    def items_of_events(self, events: Iterable[dict]) -> set[str]:
        return stock_items_of_events([e for e in events if e["system"] == self.pos_system])

    async def apply_events(self, events: list[dict]) -> FastLaneBatch:
        started = time.perf_counter()
        for event_type, payload in _payloads(events, self.pos_system):
            self.live.forget(event_type, payload)
        items = sorted(self.items_of_events(events))
        levels, bad = await self.pos_levels(items)
        plan = self.plan(levels)
        stats = await push_stock(plan, self.target, self.ops, pos_system=self.pos_system, options=self.options) if len(plan) else None
        return FastLaneBatch(len(events), len(items), len(plan), stats, time.perf_counter() - started, bad, self.pos_system)

    async def pos_levels(self, item_ids: list[str]) -> tuple[list[StockLevel], list[str]]:
        return await self.live.levels(item_ids) if item_ids else ([], [])

    def plan(self, levels: list[StockLevel]) -> pd.DataFrame:
        """Plan rows as `plan_stock` makes them, for counts that moved past their baseline."""
        rows = []
        pos = self.pos_system
        for level in levels:
            baseline = self.ops.baseline(pos, level.sku, level.location_key)
            if baseline is None or level.on_hand == baseline["level"] or level.system_version <= baseline["version"]:
                continue
            key = idempotency_key(pos, f"{level.sku}@{level.location_key}", level.system_version, self.flow)
            rows.append({
                "idempotency_key": key, "source_system": pos, "sku": level.sku, "location_key": level.location_key,
                "pos_level": level.on_hand, "pos_version": level.system_version, "baseline_level": baseline["level"],
                "expected_delta": level.on_hand - baseline["level"], "kind": "level_change",
            })
        return pd.DataFrame(rows, columns=PLAN_COLUMNS)


async def drain_inbox(lane: FastLane, inbox: Inbox, *, limit: int = 200) -> FastLaneBatch | None:
    """One pass: the lane's POS's unprocessed events, applied, then marked processed."""
    events = inbox.pending(limit=limit, system=lane.pos_system)
    if not events:
        return None
    batch = await lane.apply_events(events)
    inbox.mark_processed(e["id"] for e in events)
    return batch


async def drain_inboxes(lanes: list[FastLane], inbox: Inbox, *, limit: int = 200) -> list[FastLaneBatch]:
    batches = [await drain_inbox(lane, inbox, limit=limit) for lane in lanes]
    return [b for b in batches if b is not None]


async def run_fast_lanes(
    lanes: list[FastLane], inbox: Inbox, *, poll_s: float = 0.2, stop: Callable[[], bool] = lambda: False,
    on_batch: Callable[[FastLaneBatch], None] | None = None,
) -> None:
    """The long-running loop: drain every lane, sleep `poll_s` when idle, until `stop()`. A failed pass
    is logged and retried at the next poll; the events stay unprocessed until a pass succeeds."""
    while not stop():
        try:
            batches = await drain_inboxes(lanes, inbox)
        except Exception:  # noqa: BLE001  (the loop must outlive one bad pass; Dagster runs are the safety net)
            log.exception("fast lane pass failed; retrying at the next poll")
            batches = []
            await asyncio.sleep(max(poll_s, 1.0))
        for batch in batches:
            log.info(batch.summary())
            if on_batch:
                on_batch(batch)
        if not batches:
            await asyncio.sleep(poll_s)


async def run_fast_lane(lane: FastLane, inbox: Inbox, **options) -> None:
    await run_fast_lanes([lane], inbox, **options)


def lane_systems(config) -> tuple[str, ...]:
    """The configured POS that have a fast lane."""
    from omnisync_pipelines.systems import pos_plugin

    return tuple(pos for pos in config.pos_systems if pos_plugin(pos).capabilities.fast_lane)


@asynccontextmanager
async def open_fast_lanes(config, secrets: dict[str, dict], ops: OpsStore, *, call_log=None,
                          systems: tuple[str, ...] | None = None) -> AsyncIterator[list[FastLane]]:
    """A lane per configured POS with a fast lane (or per POS of `systems`: reprocessing reads live
    counts of every POS), over connectors from the configuration file; `secrets` per system."""
    from omnisync_pipelines.connectors.registry import build_live_stock, open_connector

    systems = lane_systems(config) if systems is None else systems
    if not systems:
        raise ValueError(f"no configured POS has a fast lane ({', '.join(config.pos_systems)} are polled by delta runs)")
    options = SyncOptions(negative_stock_policy=config.stock.negative_stock_policy)
    async with AsyncExitStack() as stack:
        ct = await stack.enter_async_context(open_connector("commercetools", config, secrets["commercetools"], call_log=call_log))
        lanes = []
        for pos in systems:
            connector = await stack.enter_async_context(open_connector(pos, config, secrets[pos], call_log=call_log))
            lanes.append(FastLane(pos, build_live_stock(connector), ct, ops, options))
        yield lanes


@asynccontextmanager
async def open_fast_lane(config, secrets: dict[str, dict], ops: OpsStore, *, pos: str | None = None,
                         call_log=None) -> AsyncIterator[FastLane]:
    """One POS's lane (`pos`; default: the only configured POS with one)."""
    from omnisync_pipelines.connectors.registry import build_live_stock, open_connector

    systems = lane_systems(config)
    pos = pos or (systems[0] if len(systems) == 1 else None)
    if pos is None or pos not in systems:
        raise ValueError(f"name the POS whose fast lane to open: one of {', '.join(systems) or 'none configured'}")
    async with open_connector(pos, config, secrets[pos], call_log=call_log) as connector, \
            open_connector("commercetools", config, secrets["commercetools"], call_log=call_log) as ct:
        yield FastLane(pos, build_live_stock(connector), ct, ops,
                       SyncOptions(negative_stock_policy=config.stock.negative_stock_policy))
