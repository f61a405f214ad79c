"""Benchmark 7, delta read cost: what a delta stock read costs the POS's API as the catalog grows.

The same few counts move in an account of N SKUs and in one of 4N (same stores); a new connector (each
Dagster step opens its own, with nothing in memory) then reads the stock since the last delta's cursor.
The rig seeds the whole account in one second, which deltas read again until a later change moves the
cursor past it (an R-Series cursor names at most 500 rows of its second: a bulk import is read again); so
an earlier round of moves and its delta run first, as a day's earlier runs would have.
Its requests and budget units (R-Series: bucket units; else requests) should follow the changes, not
the catalog: the figures are the large account's delta, the baseline the small one's, and the ratio
large / small (target ≤ 1.3). Beside it, each full read's cost, to show what a delta saves.
"""

from __future__ import annotations

import asyncio

from omnisync_pipelines.bench.pos_rig import open_pos_rig
from omnisync_pipelines.bench.results import BenchResult, ratio
from omnisync_pipelines.bench.scale import location, sku
from omnisync_pipelines.systems import DEFAULT_POS

SIZES = {"full": (2_000, 8_000, 5), "quick": (200, 800, 2)}  # (small SKUs, large SKUs, stores)
MOVES = 20  # counts moved between the full read and the delta
TARGET = "the delta's cost at 4× the catalog within 1.3× of the small catalog's"


def _spent(rig) -> float:
    budget = rig.hooks.budget(rig.emulator)
    return budget.used if budget is not None and budget.unit == "units" else float(rig.meters.total)


async def _measure(skus: int, stores: int, pos: str) -> dict:
    rig = open_pos_rig(skus, stores, pos=pos)
    try:
        before, requests_before = _spent(rig), rig.meters.total
        full = await rig.connector.read("stock")
        full_cost = {"requests": rig.meters.total - requests_before, "units": round(_spent(rig) - before, 2)}
        step = max(1, skus // MOVES)
        moves = [(sku(s), location(s % stores), -1) for s in range(0, skus, step)][:MOVES]
        await rig.clock.sleep(2)  # the moves land in later seconds than the reads before them
        rig.hooks.move_counts(rig.emulator, moves)
        earlier = await rig.connector.read("stock", since=full.cursor)
        await rig.connector.aclose()
        await rig.clock.sleep(2)
        rig.hooks.move_counts(rig.emulator, moves)
        rig.connector = rig.connect()
        before, requests_before = _spent(rig), rig.meters.total
        delta = await rig.connector.read("stock", since=earlier.cursor)
        return {"skus": skus, "stores": stores, "moved": MOVES, "rows_read": delta.raw_count,
                "requests": rig.meters.total - requests_before, "units": round(_spent(rig) - before, 2),
                "throttled_429": rig.meters.statuses.get(429, 0), "full_read": full_cost}
    finally:
        await rig.aclose()


def run(quick: bool = False, pos: str = DEFAULT_POS) -> list[BenchResult]:
    small, large, stores = SIZES["quick" if quick else "full"]
    baseline = asyncio.run(_measure(small, stores, pos))
    figures = asyncio.run(_measure(large, stores, pos))
    growth = ratio(figures["units"], baseline["units"])
    return [BenchResult(
        name="delta_read", title=f"{pos} delta stock read: {MOVES} moved counts at {small} and {large} SKUs × {stores} stores",
        figures=figures, baseline=baseline, ratio=growth,
        ratio_meaning="delta read cost at the large catalog / at the small one (1.0: flat in the catalog)",
        target=TARGET, met=growth is not None and growth <= 1.3,
        bounds="requests and budget units of one delta stock read by a new connector; a full read's cost beside it",
        extra={"system": pos})]
