"""A two-system rig for the catalog and customer economy benchmarks: both emulators in process, a
bench-sized world loaded into them through their public APIs (the sandbox loader: a retailer whose
catalog, prices and customers already exist on both sides), the configuration a deployment would
have, and omnisync's connectors built from it (`connectors.registry`) over metered transports.

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

import duckdb
import httpx

from omnisync_pipelines.bench.sandbox import CountingTransport, Meters, TimedApp
from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.config import OmnisyncConfig, parse_config
from omnisync_pipelines.connectors.registry import open_connector
from omnisync_pipelines.defs.specs import ENTITY_TABLES, TABLE_KEYS, delta_merge_parents
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
from omnisync_pipelines.sandbox.loader import LoadedWorld, load_world
from omnisync_pipelines.sandbox.scenario import COLOURS, SIZES, START, STORES, ean13
from omnisync_pipelines.sandbox.transport import EmulatorTransport
from omnisync_pipelines.sandbox.world import Shopper, Variant, World
from omnisync_pipelines.store import warehouse
from omnisync_pipelines.store.ops import OpsStore

CT_BASE, LSX_BASE = "http://commercetools.bench", "http://lightspeed-x.bench"
POS = "lightspeed_x"
SYSTEMS = ("commercetools", POS)


REGISTERS_PER_STORE = 10  # a flagship-sized retailer: X-Series budget 300 × 10 + 50 requests per 300 s a store


def bench_world(products: int, stores: int, customers: int, seed: int = 11) -> World:
    """`products` families of size × colour variants, `customers` shoppers known to both systems
    (each with a loyalty id), the first `stores` sandbox stores with `REGISTERS_PER_STORE` tills each.

    X-Series' request budget is 300 × registers + 50 per 300 s (the emulator enforces it). With the
    sandbox's one or two tills a store, the full-size naive pushes (2,400 product updates, 2,000
    customer updates) wait out several budget windows; a retailer with ten tills a store is an
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
    ct: CommercetoolsEmulator
    lsx: LightspeedXEmulator
    loaded: LoadedWorld
    config: OmnisyncConfig
    secrets: dict[str, dict]
    ops: OpsStore
    con: duckdb.DuckDBPyConnection
    workdir: tempfile.TemporaryDirectory
    meters: dict[str, Meters] = field(default_factory=lambda: {s: Meters() for s in SYSTEMS})
    cursors: dict[tuple[str, str], str | None] = field(default_factory=dict)

    def transport(self, system: str) -> httpx.AsyncBaseTransport:
        app = (self.ct if system == "commercetools" else self.lsx).app
        return CountingTransport(EmulatorTransport(TimedApp(app, self.meters[system])), self.meters[system],
                                 resource_at=1 if system == "commercetools" else 2)

    @asynccontextmanager
    async def connector(self, system: str) -> AsyncIterator:
        async with open_connector(system, self.config, self.secrets[system], transport=self.transport(system)) as c:
            yield c

    @asynccontextmanager
    async def raw(self, system: str) -> AsyncIterator[httpx.AsyncClient]:
        """A plain client for the retailer's own edits (not metered: not omnisync's calls)."""
        emulator = self.ct if system == "commercetools" else self.lsx
        base = CT_BASE if system == "commercetools" else LSX_BASE
        async with httpx.AsyncClient(base_url=base, transport=EmulatorTransport(emulator.app)) as client:
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


async def open_world_rig(world: World) -> WorldRig:
    ct, lsx = CommercetoolsEmulator(seed=world.seed), LightspeedXEmulator(seed=world.seed)
    ct_credentials, lsx_credentials = ct.credentials(CT_BASE), lsx.credentials(LSX_BASE)
    async with httpx.AsyncClient(base_url=CT_BASE, transport=EmulatorTransport(ct.app)) as ct_http, \
            httpx.AsyncClient(base_url=LSX_BASE, transport=EmulatorTransport(lsx.app)) as lsx_http:
        loaded = await load_world(world, ct_http, ct_credentials, lsx_http, lsx)
    config = parse_config({
        "pos": POS,
        "systems": {
            "commercetools": {k: ct_credentials[k] for k in ("api_url", "auth_url", "project_key")},
            POS: {"base_url": LSX_BASE, "domain_prefix": lsx_credentials["domain_prefix"],
                  "registers": sum(len(ids) for ids in loaded.register_ids.values())},
        },
        "locations": loaded.location_map,
    })
    secrets = {"commercetools": {"client_id": ct_credentials["client_id"], "client_secret": ct_credentials["client_secret"]},
               POS: {"personal_token": lsx_credentials["personal_token"]}}
    workdir = tempfile.TemporaryDirectory(prefix="omnisync-bench-")
    ops = OpsStore.from_url(f"sqlite:///{Path(workdir.name) / 'ops.sqlite'}")
    return WorldRig(ct, lsx, loaded, config, secrets, ops, duckdb.connect(), workdir)
