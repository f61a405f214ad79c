"""Benchmark 4, initial sync: N SKUs × M stores from a POS account (`--pos`) into an empty commercetools
project, as the stock flow's first run does it: the POS's connector reads the stock through the POS's
API with its documented request budget on (pos_rig.py), the snapshot goes to DuckDB, the plan sets every (SKU, store) `initial`, and the push creates each
commercetools inventory entry once (batched `createInventoryEntry` mutations, 100 per GraphQL call:
commercetools has no bulk REST create, publishes no request rate limit, and its emulator enforces
none).

Where the time goes: POS read (HTTP client + mapping vs time inside the POS emulator),
rate-limit waits (the connector's throttle and 429 Retry-After sleeps), engine (snapshot write, plan,
ledger), commercetools push (HTTP client vs time inside the emulator). The baseline, same run: the
same POS read, then the naive push (entries read in pages, one REST write per record; no plan, no
ledger) into another empty emulator.

As Dagster's multiprocess executor runs the snapshot asset and the push asset, the two steps run in
their own processes with the DuckDB file between them: the POS emulator and the read in one,
the commercetools emulator, plan and push in the other. Each emulator keeps every record in memory
(the commercetools project without the Messages Query, which omnisync does not read), so the largest
step is the push: about 3 KB per (SKU, store). The ladder at 50 stores runs in `omnisync bench`, and
100,000 × 50 is extrapolated from its largest rung with the model in `_extrapolate`;
`python -m omnisync_pipelines.bench.initial_sync 100000 50 [POS]` (`measure_target`) runs the target itself.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import resource
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import duckdb

from omnisync_pipelines.bench.pos_hooks import ReadCost, connector_bench
from omnisync_pipelines.bench.pos_rig import open_pos_rig
from omnisync_pipelines.bench.results import BenchResult, ratio
from omnisync_pipelines.bench.sandbox import naive_full_push, open_rig
from omnisync_pipelines.bench.scale import Scale
from omnisync_pipelines.systems import DEFAULT_POS, pos_plugin

FULL = (Scale(1_000, 50, 0.0), Scale(2_000, 50, 0.0), Scale(4_000, 50, 0.0))  # 50 stores, as the target
QUICK = (Scale(100, 5, 0.0),)
TARGET = Scale(100_000, 50, 0.0)
CONCURRENCY = 16
NETWORK_LATENCY_S = 0.05  # per call, for the commercetools network floor (as benchmark 5 assumes)


def _write_ct_catalog(con: duckdb.DuckDBPyConnection, skus: int) -> None:
    """commercetools.catalog: the SKUs commercetools knows (its own snapshot, read by another asset)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS commercetools")
    con.execute("""CREATE OR REPLACE TABLE commercetools.catalog AS
        SELECT 'commercetools' AS system, 'SKU-' || lpad(s::VARCHAR, 7, '0') AS sku,
               'product-' || (s // 6) AS product_key, 'Product ' || (s // 6) AS name
        FROM range($skus) AS a(s)""", {"skus": skus})


def _read_step(scale: Scale, database: str, pos_system: str) -> dict:
    """The snapshot step, in its own process: the POS account seeded, read through the connector
    into `<pos>.stock` in the DuckDB file (and commercetools' catalog snapshot beside it)."""

    async def read() -> dict:
        pos = open_pos_rig(scale.skus, scale.locations, pos=pos_system)
        con = duckdb.connect(database)
        con.execute("SET enable_progress_bar = false")  # stdout carries the JSON
        try:
            _write_ct_catalog(con, scale.skus)
            figures = await pos.read_stock_into(con)
            return {**figures, "matches": pos.matches_pos(con), "peak_rss_gib": _peak_rss_gib()}
        finally:
            con.close()
            await pos.aclose()

    return asyncio.run(read())


def _push_step(scale: Scale, database: str, naive_push: bool, pos: str) -> tuple[dict, dict | None]:
    """The plan-and-push step, in its own process: the snapshot from the DuckDB file planned against
    an empty ledger and pushed into an empty commercetools project; then, for the baseline, the naive
    push of the same snapshot into another empty project."""

    async def push() -> tuple[dict, dict | None]:
        rig = await open_rig(scale.locations, concurrency=CONCURRENCY, messages_enabled=False, database=database,
                             pos=pos)
        try:
            stats, info = await rig.push_snapshot()
            pushed = {**info, "applied": stats.applied, "ledger_s": rig.meters.seconds["ledger"],
                      "ct_emulator_s": rig.meters.seconds["emulator"], "ct_calls": rig.meters.total,
                      "peak_rss_gib": _peak_rss_gib()}
            snapshot = rig.pos_snapshot() if naive_push else None
        finally:
            await rig.aclose()
        if snapshot is None:
            return pushed, None
        naive_rig = await open_rig(scale.locations, concurrency=CONCURRENCY, messages_enabled=False, pos=pos)
        try:
            push_s = await naive_full_push(naive_rig, snapshot, CONCURRENCY)
            return pushed, {"push_s": push_s, "ct_calls": naive_rig.meters.total,
                            "ct_emulator_s": round(naive_rig.meters.seconds["emulator"], 3)}
        finally:
            await naive_rig.aclose()

    return asyncio.run(push())


def _in_a_fresh_process(step, *args):
    """Each step in its own interpreter, as Dagster's multiprocess executor runs the snapshot asset
    and the push asset: the POS emulator is gone before the push, and a heap left by an earlier rung
    or benchmark does not slow this one (the same rung ran up to 1.7× slower after the others)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(step, *args).result()


def _measure(scale: Scale, *, naive_push: bool = True, pos: str = DEFAULT_POS) -> tuple[dict, dict | None]:
    with tempfile.TemporaryDirectory(prefix="omnisync-initial-sync-") as workdir:
        database = str(Path(workdir) / "snapshots.duckdb")
        read = _in_a_fresh_process(_read_step, scale, database, pos)
        pushed, naive_pushed = _in_a_fresh_process(_push_step, scale, database, naive_push, pos)
    ledger, ct_emulator = pushed["ledger_s"], pushed["ct_emulator_s"]
    split = {
        "pos_http_client_s": read["read_s"] - read["emulator_s"] - read["rate_limit_wait_s"],
        "pos_emulator_s": read["emulator_s"],
        "rate_limit_wait_s": read["rate_limit_wait_s"],
        "engine_s": read["snapshot_write_s"] + pushed["plan_s"] + ledger,
        "ct_http_client_s": max(pushed["push_s"] - ledger - ct_emulator, 0.0),
        "ct_emulator_s": ct_emulator,
    }
    wall = sum(split.values())
    omnisync = {
        "records": scale.rows, "applied": pushed["applied"], "seconds": round(wall, 3),
        "records_per_s": round(scale.rows / wall, 1),
        "share_engine": round(split["engine_s"] / wall, 3),
        "share_pos_read": round((split["pos_http_client_s"] + split["pos_emulator_s"]) / wall, 3),
        "share_ct_push": round((split["ct_http_client_s"] + split["ct_emulator_s"]) / wall, 3),
        "pos_calls": read["requests"], "ct_calls": pushed["ct_calls"],
        "rate_limit_wait_s": read["rate_limit_wait_s"], "throttled_429": read["throttled_429"],
        "pos_budget_per_300s": read["budget"], "pos_budget_used": read["budget_used"],
        "pos_budget_unit": read["budget_unit"], "pos_refused_by_budget": read["budget_refused"],
        "snapshot_matches_pos": read["matches"],
        "time_split_s": {k: round(v, 3) for k, v in split.items()},
        "time_shares": {k.removesuffix("_s"): round(v / wall, 3) for k, v in split.items()},
        "engine_detail_s": {"snapshot_write": read["snapshot_write_s"], "plan": pushed["plan_s"],
                            "ledger": round(ledger, 3)},
        "peak_rss_gib": {"read_step": read["peak_rss_gib"], "push_step": pushed["peak_rss_gib"]},
    }
    if naive_pushed is None:
        return omnisync, None
    naive_wall = read["read_s"] + naive_pushed["push_s"]
    naive = {"method": "the same POS read, then a naive full push (entries read in pages, one REST write per record; no plan, no ledger)",
             "records": scale.rows, "seconds": round(naive_wall, 3),
             "records_per_s": round(scale.rows / naive_wall, 1), **naive_pushed}
    return omnisync, naive


def _peak_rss_gib() -> float:
    """This process's peak resident memory. /proc's VmHWM, not getrusage: on Linux ru_maxrss survives
    exec, so a spawned worker would report its parent's peak."""
    try:
        with open("/proc/self/status") as status:
            kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kib / 2**20, 2)


def _extrapolate(measured: dict, scale: Scale, cost: ReadCost, target: Scale = TARGET) -> dict:
    """100,000 × 50 from the per-record costs measured at `scale` (linear: the emulators' own costs
    grow faster than that, so their part is a lower bound), plus the floor the POS's request budget
    puts under the read's requests (`cost`, the POS connector's bench support, worst account first),
    plus the network floor of commercetools' one call per record."""
    per_record = {k: v / scale.rows for k, v in measured["time_split_s"].items() if k != "rate_limit_wait_s"}
    records = target.rows
    in_process_s = records * sum(per_record.values())
    floors = cost.floors_s or {"no_budget": 0.0}
    ct_calls = records * measured["ct_calls"] / scale.rows
    network_s = ct_calls * NETWORK_LATENCY_S / CONCURRENCY
    worst_kind = next(iter(floors))
    worst = in_process_s + floors[worst_kind] + network_s
    return {
        "records": records, "per_record_ms": {k.removesuffix("_s"): round(v * 1000, 4) for k, v in per_record.items()},
        "in_process_s": round(in_process_s), "engine_s": round(records * per_record["engine_s"]),
        "pos_requests": cost.requests, **cost.figures,
        "rate_limit_floor_s": floors,
        "ct_calls": round(ct_calls), f"ct_network_floor_s_at_{int(NETWORK_LATENCY_S * 1000)}ms_x{CONCURRENCY}": round(network_s),
        **{f"total_s_{kind}": round(in_process_s + floor + network_s) for kind, floor in floors.items()},
        f"records_per_s_{worst_kind}": round(records / worst, 1),
        "engine_share": round(records * per_record["engine_s"] / worst, 3),
        "model": "records × measured per-record costs (POS read, engine, commercetools push; in-process) "
                 f"+ {cost.model} + commercetools calls × {NETWORK_LATENCY_S * 1000:.0f} ms / {CONCURRENCY} in flight",
    }


def run(quick: bool = False, pos: str = DEFAULT_POS) -> list[BenchResult]:
    support = connector_bench(pos)  # before the ladder: a POS without it is a gap, not an hour's run
    results = []
    ladder = QUICK if quick else FULL
    for scale in ladder:
        omnisync, naive = _measure(scale, pos=pos)
        if scale == ladder[-1]:
            cost = support.read_cost(TARGET.skus, TARGET.locations)
            figures = {**omnisync, "extrapolated_100k_x_50": _extrapolate(omnisync, scale, cost)}
        else:
            figures = omnisync
        results.append(BenchResult(
            name="initial_sync",
            title=f"initial sync {pos_plugin(pos).title} -> commercetools, {scale.skus:,} SKUs × {scale.locations} stores",
            figures=figures,
            baseline=naive,
            ratio=ratio(omnisync["records_per_s"], naive["records_per_s"]),
            ratio_meaning="omnisync records/s / naive records/s",
            target="100,000 × 50 reported as records/s and where the time goes; engine share small (< 25 %)",
            met=None if quick else omnisync["share_engine"] < 0.25 and omnisync["snapshot_matches_pos"],
            bounds="commercetools: 100 entries created per GraphQL call, the emulator's per-entry cost; "
                   f"{support.notes['stock_read']}; engine: the ledger's few statements per 500-record batch phase",
            extra={"scale": {"skus": scale.skus, "locations": scale.locations}},
        ))
    return results


def measure_target(scale: Scale = TARGET, pos: str = DEFAULT_POS) -> dict:
    """One size, omnisync only (no naive push): `python -m omnisync_pipelines.bench.initial_sync SKUS
    STORES [POS]` prints its figures as JSON. 100,000 × 50 takes about an hour and 16 GB in its push step."""
    omnisync, _ = _measure(scale, naive_push=False, pos=pos)
    return omnisync


if __name__ == "__main__":
    skus, stores = (int(n) for n in sys.argv[1:3]) if len(sys.argv) > 2 else (TARGET.skus, TARGET.locations)
    print(json.dumps(measure_target(Scale(skus, stores, 0.0), pos=sys.argv[3] if len(sys.argv) > 3 else DEFAULT_POS),
                     indent=1))
