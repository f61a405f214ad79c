"""The POS side of the initial-sync benchmark: an emulated POS account holding SKUs × locations of
inventory, read by omnisync's connector for that POS (built through the POS contract, as production
builds it: settings, throttle, retry) over a metered transport, with the POS's request budget on where
it has one (the connector's throttle, and the emulator answering 429 past it), then written to the
DuckDB snapshot `<pos>.stock` as the snapshot asset does. A budget that drains over time (a leaky
bucket) runs on the rig's clock (`pacing.py`): its waits are counted at full length, not slept.

Seeding is the POS's emulator bench hook (`EmulatorBench.seed_stock`: straight into the emulator's
store, the retailer's existing account). Every count is `level(s, l)`, so the snapshot read back can
be checked against the POS unit for unit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import duckdb

from omnisync_pipelines import systems
from omnisync_pipelines.bench.pacing import InFlight, RigClock
from omnisync_pipelines.bench.pos_hooks import (
    EmulatorBench,
    connector_bench,
    emulator_bench,
    pos_base_url,
    sandbox_system,
    use_clock,
)
from omnisync_pipelines.bench.sandbox import CountingTransport, Meters, TimedApp
from omnisync_pipelines.bench.scale import location, sku
from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.sandbox.transport import EmulatorTransport
from omnisync_pipelines.store import warehouse


def level(s: int, l: int) -> int:  # noqa: E741  (SKU index, location index)
    return (s * 7 + l * 3 + 7) % 40


class _TimedThrottle:
    """A session's throttle, with the time spent waiting in it summed."""

    def __init__(self, inner, meters: Meters):
        self.inner, self.meters = inner, meters

    async def acquire(self, cost: float = 1) -> None:
        started = time.perf_counter()
        try:
            await self.inner.acquire(cost)
        finally:
            self.meters.seconds["throttle_wait"] += time.perf_counter() - started


def _timed_sleep(sleep, meters: Meters):
    async def timed(seconds: float) -> None:
        started = time.perf_counter()
        try:
            await sleep(seconds)
        finally:
            meters.seconds["retry_sleep"] += time.perf_counter() - started

    return timed


def meter_waits(connector, meters: Meters) -> None:
    """Sum the time the connector's `ApiSession` (rest/, every connector's plumbing) waits: in its
    throttle, and in the sleeps before retries (a 429's Retry-After)."""
    session = connector.client.session
    session.throttle = _TimedThrottle(session.throttle, meters)
    session._retrier.sleep = _timed_sleep(session._retrier.sleep, meters)  # read at each request


@dataclass
class PosRig:
    pos: str
    emulator: Any
    hooks: EmulatorBench
    connector: Any
    meters: Meters
    skus: int
    outlets: int
    clock: RigClock
    connect: Any = None  # () -> a new connector, as the next Dagster step opens its own

    async def read_stock_into(self, con: duckdb.DuckDBPyConnection) -> dict:
        """Full stock read (locations checked, then the stock entity) -> `<pos>.stock`. Returns the
        time split and what was read."""
        self.meters.seconds.update(throttle_wait=0.0, retry_sleep=0.0)
        skipped_before = self.clock.skipped_s
        started = time.perf_counter()
        verify = getattr(self.connector, "verify_locations", None)
        if verify is not None:
            await verify()
        result = await self.connector.read("stock")
        read_at = time.perf_counter()
        skipped = self.clock.skipped_s - skipped_before  # the budget's waits, counted in full, not slept
        frame = schemas.frame_from_records("stock", result.tables["stock"])
        warehouse.replace_table(con, self.pos, "stock", frame)
        written_at = time.perf_counter()
        waits = self.meters.seconds["throttle_wait"] + self.meters.seconds["retry_sleep"] + skipped
        budget = self.hooks.budget(self.emulator)
        return {
            "read_s": round(read_at - started + skipped, 3), "snapshot_write_s": round(written_at - read_at, 3),
            "emulator_s": round(self.meters.seconds["emulator"], 3), "rate_limit_wait_s": round(waits, 3),
            "requests": self.meters.total, "throttled_429": self.meters.statuses.get(429, 0),
            "budget": budget.limit if budget else None, "budget_used": budget.used if budget else None,
            "budget_unit": budget.unit if budget else None,
            "budget_refused": budget.throttled if budget else None,
            "rows": len(frame), "rejected": len(result.rejected),
        }

    def matches_pos(self, con: duckdb.DuckDBPyConnection) -> bool:
        """The snapshot holds every (SKU, location) with the count the POS holds."""
        got = tuple(con.execute(f"SELECT count(*), sum(on_hand) FROM {self.pos}.stock").fetchall()[0])
        want = sum(level(s, l) for s in range(self.skus) for l in range(self.outlets))  # noqa: E741
        return got == (self.skus * self.outlets, want)

    async def aclose(self) -> None:
        await self.connector.aclose()


def open_pos_rig(skus: int, outlets: int, *, pos: str = systems.DEFAULT_POS) -> PosRig:
    """A `pos` account of `skus` × `outlets` (one till per location) and the connector on it."""
    hooks = emulator_bench(pos)
    emulator = systems.sandbox_plugin(pos).emulator(seed=7)
    location_map = hooks.seed_stock(emulator, [sku(s) for s in range(skus)], [location(n) for n in range(outlets)], level)
    clock = RigClock()
    paced = use_clock(hooks, emulator, clock)
    meters = Meters()
    meters.seconds.update(throttle_wait=0.0, retry_sleep=0.0)
    block, secrets = sandbox_system(pos, pos_base_url(pos), emulator)
    plugin = systems.pos_plugin(pos)

    def connect():
        transport = CountingTransport(EmulatorTransport(TimedApp(emulator.app, meters), default_timeout_s=120), meters,
                                      resource_at=hooks.resource_at)
        if paced:
            transport = InFlight(transport, clock)
        connector = plugin.build_connector(plugin.settings_model(**block), location_map, secrets, transport=transport)
        if paced:
            use_clock(connector_bench(pos), connector, clock)
        meter_waits(connector, meters)
        return connector

    return PosRig(pos, emulator, hooks, connect(), meters, skus, outlets, clock, connect)
