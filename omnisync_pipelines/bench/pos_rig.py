"""The POS side of the initial-sync benchmark: an X-Series emulator holding SKUs × outlets of
inventory, read by omnisync's X-Series connector through the paged 2.0 API with the documented
request budget on (300 × registers + 50 requests per 300 s: the connector's own throttle, and the
emulator answering 429 with an HTTP-date Retry-After past it), then written to the DuckDB
snapshot `lightspeed_x.stock` as the snapshot asset does.

Seeding goes straight into the emulator's store (the retailer's existing account; the product API's
one-SKU-at-a-time uniqueness scan would make seeding, not the sync, the slow part). Every count is
`level(s, l)`, so the snapshot read back can be checked against the POS unit for unit.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

import duckdb

from omnisync_pipelines.bench.sandbox import CountingTransport, Meters, TimedApp
from omnisync_pipelines.bench.scale import location, sku
from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.connectors.lightspeed_x.client import build_client
from omnisync_pipelines.connectors.lightspeed_x.connector import LightspeedXConnector
from omnisync_pipelines.connectors.lightspeed_x.settings import WINDOW_S, LightspeedXSettings
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator, writes
from omnisync_pipelines.sandbox.emulators.lightspeed_x.store import now_iso
from omnisync_pipelines.sandbox.transport import EmulatorTransport
from omnisync_pipelines.store import warehouse

BASE = "http://lightspeed-x.bench"
POS = "lightspeed_x"


def level(s: int, l: int) -> int:  # noqa: E741  (SKU index, location index)
    return (s * 7 + l * 3 + 7) % 40


def budget(registers: int) -> int:
    """X-Series: requests per 300-second window (API_FACTS §2, "Rate limit")."""
    return 300 * registers + 50


def read_requests(skus: int, outlets: int, page_size: int) -> int:
    """Requests of a full stock read: outlets, products, inventory, each paged until an empty page."""
    return 2 + (math.ceil(skus / page_size) + 1) + (math.ceil(skus * outlets / page_size) + 1)


def rate_limit_floor_s(requests: int, registers: int) -> float:
    """The least time the budget imposes on `requests` sent as fast as possible: every budget's worth
    beyond the first waits for the next 300-second window."""
    return max(0, math.ceil(requests / budget(registers)) - 1) * WINDOW_S


class _TimedThrottle:
    """The connector's throttle, with the time spent waiting in it summed."""

    def __init__(self, inner, meters: Meters):
        self.inner, self.meters = inner, meters

    async def acquire(self, cost: float = 1) -> None:
        started = time.perf_counter()
        try:
            await self.inner.acquire(cost)
        finally:
            self.meters.seconds["throttle_wait"] += time.perf_counter() - started


@dataclass
class PosRig:
    emulator: LightspeedXEmulator
    connector: LightspeedXConnector
    meters: Meters
    skus: int
    outlets: int
    registers: int
    page_size: int

    async def read_stock_into(self, con: duckdb.DuckDBPyConnection) -> dict:
        """Full stock read (outlets checked, products, inventory) -> `lightspeed_x.stock`. Returns the
        time split and what was read."""
        self.meters.seconds.update(throttle_wait=0.0, retry_sleep=0.0)
        started = time.perf_counter()
        await self.connector.verify_locations()
        result = await self.connector.read("stock")
        read_at = time.perf_counter()
        frame = schemas.frame_from_records("stock", result.tables["stock"])
        warehouse.replace_table(con, POS, "stock", frame)
        written_at = time.perf_counter()
        waits = self.meters.seconds["throttle_wait"] + self.meters.seconds["retry_sleep"]
        limit = self.emulator.limiter
        used = next(iter(limit.windows.values()), (0.0, 0))[1]
        return {
            "read_s": round(read_at - started, 3), "snapshot_write_s": round(written_at - read_at, 3),
            "emulator_s": round(self.meters.seconds["emulator"], 3), "rate_limit_wait_s": round(waits, 3),
            "requests": self.meters.total, "throttled_429": self.meters.statuses.get(429, 0),
            "budget": budget(self.registers), "budget_used": used, "rows": len(frame),
            "rejected": len(result.rejected),
        }

    def matches_pos(self, con: duckdb.DuckDBPyConnection) -> bool:
        """The snapshot holds every (SKU, outlet) with the count the POS holds."""
        got = tuple(con.execute(f"SELECT count(*), sum(on_hand) FROM {POS}.stock").fetchall()[0])
        want = sum(level(s, l) for s in range(self.skus) for l in range(self.outlets))  # noqa: E741
        return got == (self.skus * self.outlets, want)

    async def aclose(self) -> None:
        await self.connector.aclose()


def _seed(emulator: LightspeedXEmulator, skus: int, outlets: int, registers: int) -> dict[str, str]:
    tax_id = emulator.seed_tax("VAT", 0.19)["id"]
    outlet_ids = {}
    for l in range(outlets):  # noqa: E741
        outlet = emulator.seed_outlet(location(l), "EUR", "Europe/Berlin", default_tax_id=tax_id)
        outlet_ids[location(l)] = outlet["id"]
    for index in range(registers):
        emulator.seed_register(list(outlet_ids.values())[index % outlets], f"till {index + 1}")
    for s in range(skus):
        row = {"id": emulator.store.new_id(), "created_at": now_iso(), "variant_parent_id": None,
               "has_variants": False, "deleted_at": None}
        inventory = [{"outlet_id": outlet_ids[location(l)], "current_amount": level(s, l)} for l in range(outlets)]  # noqa: E741
        writes._apply_product(emulator.store, row, {"name": f"Product {s // 6}", "tax_id": tax_id},
                              {"sku": sku(s), "price_excluding_tax": 10.0, "inventory": inventory})
    return outlet_ids


def open_pos_rig(skus: int, outlets: int, *, registers: int | None = None, page_size: int = 1000) -> PosRig:
    """An X-Series account of `skus` × `outlets` (one register per outlet unless told) and the
    connector on it, built as production builds it (settings, throttle, retry), over a metered transport."""
    registers = registers or outlets
    emulator = LightspeedXEmulator(seed=7)
    outlet_ids = _seed(emulator, skus, outlets, registers)
    meters = Meters()
    meters.seconds.update(throttle_wait=0.0, retry_sleep=0.0)

    async def timed_sleep(seconds: float) -> None:
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        meters.seconds["retry_sleep"] += time.perf_counter() - started

    settings = LightspeedXSettings(domain_prefix=emulator.domain_prefix, base_url=BASE,
                                   personal_token=emulator.personal_token, registers=registers, page_size=page_size)
    transport = CountingTransport(EmulatorTransport(TimedApp(emulator.app, meters), default_timeout_s=120), meters,
                                  resource_at=2)
    client = build_client(settings, transport=transport, sleep=timed_sleep)
    client.session.throttle = _TimedThrottle(client.session.throttle, meters)
    connector = LightspeedXConnector(client, {v: k for k, v in outlet_ids.items()})
    return PosRig(emulator, connector, meters, skus, outlets, registers, page_size)
