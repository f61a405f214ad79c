"""A stock-flow rig for the API benchmarks: the commercetools emulator (in-process ASGI, optionally
with added latency), omnisync's connector on it, a throwaway ops store and DuckDB, and meters.

Meters: every HTTP call the connector sends is counted by method (a write is any non-GET call other
than the OAuth token request), the time spent inside the emulator's app is summed, and so is the
time spent in the engine's ledger (the ops store). The rig runs on one event loop in one thread, so
those sums are shares of the wall time.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import httpx
import pandas as pd

from omnisync_pipelines.bench.scale import Scale, build_snapshots, location
from omnisync_pipelines.connectors.commercetools.client import CommercetoolsClient, build_client
from omnisync_pipelines.connectors.commercetools.connector import CommercetoolsConnector
from omnisync_pipelines.connectors.commercetools.predicates import quote
from omnisync_pipelines.connectors.commercetools.settings import CommercetoolsSettings
from omnisync_pipelines.engine.options import SyncOptions
from omnisync_pipelines.engine.statistics import SyncStatistics
from omnisync_pipelines.engine.stock_plan import plan_stock
from omnisync_pipelines.engine.stock_push import push_stock
from omnisync_pipelines.rest.retry import RetryPolicy
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport
from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines.systems import DEFAULT_POS

BASE = "http://commercetools.bench"


@dataclass
class Meters:
    calls: Counter = field(default_factory=Counter)  # by "METHOD resource"
    statuses: Counter = field(default_factory=Counter)  # by HTTP status of the answers
    seconds: dict = field(default_factory=lambda: {"emulator": 0.0, "ledger": 0.0})

    @property
    def writes(self) -> int:
        return sum(n for k, n in self.calls.items() if not k.startswith("GET") and "oauth" not in k)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()
        self.statuses.clear()
        self.seconds = {"emulator": 0.0, "ledger": 0.0}


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts each request by "METHOD resource" (`resource_at`: which path segment names it) and
    each answer by status."""

    def __init__(self, inner: httpx.AsyncBaseTransport, meters: Meters, resource_at: int = 1):
        self.inner, self.meters, self.resource_at = inner, meters, resource_at

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        resource = "oauth" if parts[-1] == "token" else parts[min(self.resource_at, len(parts) - 1)]
        self.meters.calls[f"{request.method} {resource}"] += 1
        response = await self.inner.handle_async_request(request)
        self.meters.statuses[response.status_code] += 1
        return response


class TimedApp:
    """Sums the time spent inside the emulator per request (its handlers do not await I/O)."""

    def __init__(self, app, meters: Meters):
        self.app, self.meters = app, meters

    async def __call__(self, scope, receive, send):
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.meters.seconds["emulator"] += time.perf_counter() - started


class _TimedOps:
    """The engine's ops store, with the time spent in it summed (its calls are synchronous)."""

    def __init__(self, ops: OpsStore, meters: Meters):
        self._ops, self._meters = ops, meters

    def __getattr__(self, name):
        attr = getattr(self._ops, name)
        if not callable(attr):
            return attr

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self._meters.seconds["ledger"] += time.perf_counter() - started

        return timed


@dataclass
class StockRig:
    emulator: CommercetoolsEmulator
    client: CommercetoolsClient
    connector: CommercetoolsConnector
    ops: OpsStore
    con: duckdb.DuckDBPyConnection
    meters: Meters
    concurrency: int
    workdir: tempfile.TemporaryDirectory
    pos: str = DEFAULT_POS  # whose snapshot (`<pos>.stock`) the rig plans and pushes

    @property
    def timed_ops(self):
        return _TimedOps(self.ops, self.meters)

    async def sync(self, scale: Scale, concurrency: int | None = None) -> tuple[SyncStatistics, dict]:
        """One stock-flow run: generated snapshot `scale` -> plan against the ops baselines -> push.
        Returns (push statistics, {"changed", "planned", "plan_s", "push_s"})."""
        changed = build_snapshots(self.con, scale, self.pos)
        stats, info = await self.push_snapshot(concurrency)
        return stats, {"changed": changed, **info}

    async def push_snapshot(self, concurrency: int | None = None) -> tuple[SyncStatistics, dict]:
        """Plan `<pos>.stock` (already in `con`) against the ops baselines, then push. Returns
        (push statistics, {"planned", "plan_s", "push_s"})."""
        started = time.perf_counter()
        plan, _ = plan_stock(self.con, self.pos, self.ops.baselines_frame(self.pos))
        planned_at = time.perf_counter()
        stats = await push_stock(plan, self.connector, self.timed_ops, pos_system=self.pos,
                                 options=SyncOptions(concurrency=concurrency or self.concurrency))
        done = time.perf_counter()
        return stats, {"planned": len(plan), "plan_s": round(planned_at - started, 3),
                       "push_s": round(done - planned_at, 3)}

    def pos_snapshot(self) -> pd.DataFrame:
        return self.con.execute(f"SELECT sku, location_key, on_hand FROM {self.pos}.stock ORDER BY location_key, sku").df()

    async def aclose(self) -> None:
        await self.connector.aclose()
        self.con.close()
        self.ops.engine.dispose()
        self.workdir.cleanup()


async def open_rig(locations: int, *, concurrency: int = 16, latency_s: float = 0.0, graphql_writes: bool = True,
                   messages_enabled: bool = True, database: str = ":memory:", pos: str = DEFAULT_POS) -> StockRig:
    """`messages_enabled=False`: a project whose Messages Query is off (omnisync reads no messages),
    so the emulator keeps no message per write; a project-sized run fits in memory that way.
    `database`: the DuckDB file the snapshots are in (another process may have written them);
    `pos`: the POS whose snapshot is planned (the rig needs no POS emulator: the snapshot is generated)."""
    meters = Meters()
    emulator = CommercetoolsEmulator(seed=7, messages_enabled=messages_enabled)
    creds = emulator.credentials(BASE)
    settings = CommercetoolsSettings(
        api_url=BASE, auth_url=BASE, project_key=creds["project_key"], client_id=creds["client_id"],
        client_secret=creds["client_secret"], concurrency=concurrency, graphql_writes=graphql_writes,
    )
    transport = CountingTransport(EmulatorTransport(TimedApp(emulator.app, meters)), meters)
    client = build_client(settings, transport=transport, retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    channel_map = {}
    for index in range(locations):
        key = f"channel-{location(index)}"
        await client.create("channels", {"key": key, "roles": ["InventorySupply"]})
        channel_map[key] = location(index)
    workdir = tempfile.TemporaryDirectory(prefix="omnisync-bench-")
    ops = OpsStore.from_url(f"sqlite:///{Path(workdir.name) / 'ops.sqlite'}")
    emulator.faults.latency_s = latency_s
    meters.reset()
    con = duckdb.connect(database)
    con.execute("SET enable_progress_bar = false")  # a benchmark's stdout may carry its JSON
    return StockRig(emulator, client, CommercetoolsConnector(client, channel_map), ops, con, meters, concurrency, workdir,
                    pos)


async def naive_full_push(rig: StockRig, snapshot: pd.DataFrame, concurrency: int) -> float:
    """The baseline a sync without plans would be, at its cheapest: every location's entries read in
    pages of 500 (a `where` on the supply channel), then one REST write per record, changed or not.
    Returns its seconds."""
    client = rig.client
    gate = asyncio.Semaphore(concurrency)

    async def entries_at(location_key: str) -> tuple[str, str, dict[str, dict]]:
        channel_id = await rig.connector.channel_id_for(location_key)
        found = client.iter_query("inventory", where=[f"supplyChannel(id = {quote(channel_id)})"], page_size=500)
        return location_key, channel_id, {entry["sku"]: entry async for entry in found}

    async def one(sku: str, channel_id: str, entry: dict | None, quantity: int) -> None:
        async with gate:
            if entry is None:
                await client.create_inventory_entry(sku, channel_id, quantity)
            else:
                await client.update_inventory_entry(
                    entry["id"], entry["version"], [{"action": "changeQuantity", "quantity": quantity}]
                )

    started = time.perf_counter()
    found = {loc: (channel_id, entries) for loc, channel_id, entries in await asyncio.gather(
        *(entries_at(loc) for loc in snapshot["location_key"].unique()))}
    await asyncio.gather(*(
        one(r.sku, found[r.location_key][0], found[r.location_key][1].get(r.sku), int(r.on_hand))
        for r in snapshot.itertuples(index=False)
    ))
    return round(time.perf_counter() - started, 3)
