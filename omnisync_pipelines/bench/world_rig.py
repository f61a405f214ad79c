"""A two-system rig for the catalog and customer economy benchmarks: the commercetools emulator and the
POS's (`--pos`) in process, a bench-sized world loaded into them through their public APIs (the
sandbox loader: a retailer whose catalog, prices and customers already exist on both sides), the
configuration a deployment would have (the sandbox plugin's system block and environment), and
omnisync's connectors built from it (`connectors.registry`) over metered transports.

A POS budget that drains over time (a leaky bucket) runs on the rig's clock (`pacing.py`), in the
emulator and in every connector opened on it: its waits are counted, not slept.

`snapshot` reads an entity as the snapshot asset does (full: replace; delta: from the stored cursor,
merged by the table's keys); each read opens its own connector, as each asset does.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx

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
from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.config import OmnisyncConfig, parse_config
from omnisync_pipelines.connectors.registry import open_connector
from omnisync_pipelines.defs.specs import ENTITY_TABLES, TABLE_KEYS, delta_merge_parents
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.loader import LoadedWorld, load_world
from omnisync_pipelines.sandbox.scenario import COLOURS, SIZES, START, STORES, ean13
from omnisync_pipelines.sandbox.transport import EmulatorTransport
from omnisync_pipelines.sandbox.world import Shopper, Variant, World
from omnisync_pipelines.store import warehouse
from omnisync_pipelines.store.ops import OpsStore

CT = systems.COMMERCETOOLS
CT_BASE = "http://commercetools.bench"


REGISTERS_PER_STORE = 10  # a flagship-sized retailer (a POS may budget its API requests per till)


def bench_world(products: int, stores: int, customers: int, seed: int = 11) -> World:
    """`products` families of size × colour variants, `customers` shoppers known to both systems
    (each with a loyalty id), the first `stores` sandbox stores with `REGISTERS_PER_STORE` tills each.

    A POS may budget API requests per till (X-Series does, and its emulator enforces it). With the
    sandbox's one or two tills a store, the full-size naive pushes (2,400 product updates, 2,000
    customer updates) would wait out several budget windows; a retailer with ten tills a store is an
    ordinary one and lets the benchmark run in a few minutes. The counts do not depend on it."""
    variants = [
        Variant(f"P{p:05d}-{colour}-{size}", f"p{p:05d}", f"Product {p}", size, colour,
                ean13(f"4{p:08d}{SIZES.index(size)}{COLOURS.index(colour)}0"), Decimal("0.19"),
                {"EUR": 999 + 100 * (p % 40), "GBP": 899 + 100 * (p % 40)})
        for p in range(products) for size in SIZES for colour in COLOURS
    ]
    shoppers = [Shopper(f"c{i:05d}", f"shopper{i}@example.com", "Ann", f"Lee{i}", None, f"LOY-{i:05d}", True, True)
                for i in range(customers)]
    chosen = [replace(store, registers=REGISTERS_PER_STORE) for store in STORES[:stores]]
    return World(seed, START, chosen, variants, shoppers, {(v.sku, s.key): 5 for v in variants for s in chosen})


@dataclass
class WorldRig:
    pos: str
    world: World
    emulators: dict[str, Any]  # system -> emulator
    hooks: EmulatorBench  # the POS's emulator bench hooks (retailer edits)
    loaded: LoadedWorld
    config: OmnisyncConfig
    secrets: dict[str, dict]
    ops: OpsStore
    con: duckdb.DuckDBPyConnection
    workdir: tempfile.TemporaryDirectory
    meters: dict[str, Meters] = field(default_factory=dict)
    clock: RigClock | None = None  # the POS's budget drains on it (None: the POS's budget is not paced)
    cursors: dict[tuple[str, str], str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.meters = {system: Meters() for system in self.emulators}

    def base_url(self, system: str) -> str:
        return CT_BASE if system == CT else pos_base_url(system)

    def transport(self, system: str) -> httpx.AsyncBaseTransport:
        counting = CountingTransport(EmulatorTransport(TimedApp(self.emulators[system].app, self.meters[system])),
                                     self.meters[system], resource_at=1 if system == CT else self.hooks.resource_at)
        return InFlight(counting, self.clock) if system == self.pos and self.clock is not None else counting

    @asynccontextmanager
    async def connector(self, system: str) -> AsyncIterator:
        async with open_connector(system, self.config, self.secrets[system], transport=self.transport(system)) as c:
            if system == self.pos and self.clock is not None:
                use_clock(connector_bench(system), c, self.clock)
            yield c

    @asynccontextmanager
    async def raw(self, system: str) -> AsyncIterator[httpx.AsyncClient]:
        """A plain client for the retailer's own edits (not metered: not omnisync's calls)."""
        transport = EmulatorTransport(self.emulators[system].app)
        async with httpx.AsyncClient(base_url=self.base_url(system), transport=transport) as client:
            yield client

    async def snapshot(self, system: str, entity: str, *, delta: bool) -> int:
        """Read `entity` (full, or since its cursor) into `<system>.<table>`; returns the records read."""
        since = self.cursors.get((system, entity)) if delta else None
        async with self.connector(system) as connector:
            result = await connector.read(entity, since=since)
        frames = {table: schemas.frame_from_records(table, result.tables.get(table, [])) for table in ENTITY_TABLES[entity]}
        for table, frame in frames.items():
            if since is None:
                warehouse.replace_table(self.con, system, table, frame)
            else:  # merged as the snapshot asset merges a delta read
                warehouse.upsert_table(self.con, system, table, frame, list(TABLE_KEYS[table]),
                                       **delta_merge_parents(system, table, frames))
        if result.cursor:
            self.cursors[(system, entity)] = result.cursor
        return result.raw_count

    def reset_meters(self) -> None:
        for meters in self.meters.values():
            meters.reset()

    async def aclose(self) -> None:
        self.con.close()
        self.ops.engine.dispose()
        self.workdir.cleanup()


async def open_world_rig(world: World, pos: str = systems.DEFAULT_POS) -> WorldRig:
    hooks = emulator_bench(pos)
    ct, emulator = CommercetoolsEmulator(seed=world.seed), systems.sandbox_plugin(pos).emulator(seed=world.seed)
    base = pos_base_url(pos)
    ct_credentials = ct.credentials(CT_BASE)
    async with httpx.AsyncClient(base_url=CT_BASE, transport=EmulatorTransport(ct.app)) as ct_http, \
            httpx.AsyncClient(base_url=base, transport=EmulatorTransport(emulator.app)) as pos_http:
        loaded = await load_world(world, ct_http, ct_credentials, {pos: (pos_http, emulator)})
    block, pos_secrets = sandbox_system(pos, base, emulator)
    config = parse_config({
        "pos": pos,
        "systems": {CT: {k: ct_credentials[k] for k in ("api_url", "auth_url", "project_key")}, pos: block},
        "locations": loaded.location_map,
    })
    secrets = {CT: {"client_id": ct_credentials["client_id"], "client_secret": ct_credentials["client_secret"]},
               pos: pos_secrets}
    clock = RigClock()
    paced = use_clock(hooks, emulator, clock)  # the world is loaded: omnisync's calls start here
    workdir = tempfile.TemporaryDirectory(prefix="omnisync-bench-")
    ops = OpsStore.from_url(f"sqlite:///{Path(workdir.name) / 'ops.sqlite'}")
    return WorldRig(pos, world, {CT: ct, pos: emulator}, hooks, loaded, config, secrets, ops, duckdb.connect(), workdir,
                    clock=clock if paced else None)
