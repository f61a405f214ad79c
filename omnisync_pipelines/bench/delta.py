"""Benchmark 1, delta computation: the stock plan's diff (`engine.stock_plan.plan_stock`, DuckDB) of a
POS snapshot against its baseline vs a plain pandas merge of the same two snapshots.

Both sides get their inputs in memory as they would in a run: the snapshot in DuckDB (where the
snapshot asset wrote it) and the baseline as the DataFrame the ops store returns; pandas gets both
as DataFrames. Only the diff is timed (median of the repeats), not the generation.
"""

from __future__ import annotations

import statistics
import time

import duckdb

from omnisync_pipelines.bench.results import BenchResult, ratio
from omnisync_pipelines.bench.scale import Scale, baseline_frame, build_snapshots
from omnisync_pipelines.engine.stock_plan import plan_stock

FULL = Scale(100_000, 100, 0.01)
QUICK = Scale(2_000, 50, 0.01)
TARGET_S = 1.5


def measure(scale: Scale, repeats: int = 3, pandas_repeats: int | None = None) -> tuple[dict, dict]:
    """(omnisync figures, pandas figures) for one scale."""
    con = duckdb.connect()
    try:
        changed = build_snapshots(con, scale)
        baseline = baseline_frame(con)
        engine_times, planned = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            plan, _rejections = plan_stock(con, "lightspeed_x", baseline)
            engine_times.append(time.perf_counter() - started)
            planned = len(plan)
        snapshot = con.execute("SELECT sku, location_key, on_hand, system_version FROM lightspeed_x.stock").df()
    finally:
        con.close()
    pandas_times, found = [], 0
    for _ in range(pandas_repeats or repeats):
        started = time.perf_counter()
        merged = snapshot.merge(baseline, on=["sku", "location_key"], how="left")
        moved = merged[merged["level"].isna() | (merged["on_hand"] != merged["level"])]
        pandas_times.append(time.perf_counter() - started)
        found = len(moved)
    del snapshot, baseline
    omnisync = {"rows": scale.rows, "changed": changed, "planned": planned,
                "seconds": round(statistics.median(engine_times), 3), "runs": repeats}
    pandas = {"rows": scale.rows, "changed": found, "seconds": round(statistics.median(pandas_times), 3),
              "runs": pandas_repeats or repeats}
    return omnisync, pandas


def run(quick: bool = False) -> list[BenchResult]:
    scale = QUICK if quick else FULL
    omnisync, pandas = measure(scale, repeats=3, pandas_repeats=1 if not quick else 3)
    assert omnisync["planned"] == omnisync["changed"] == pandas["changed"], (omnisync, pandas)
    return [BenchResult(
        name="delta",
        title=f"delta computation, {scale.label}",
        figures=omnisync,
        baseline={"method": "pandas merge", **pandas},
        ratio=ratio(pandas["seconds"], omnisync["seconds"]),
        ratio_meaning="pandas seconds / omnisync seconds",
        target=f"≤ {TARGET_S} s at 10M rows on 2 cores",
        met=None if quick else omnisync["seconds"] <= TARGET_S,
        bounds="one DuckDB hash join of the snapshot against the baseline on (sku, location_key) strings, "
               "using all cores; everything after it (catalog check, keys, sort) sees only the changed rows",
        extra={"scale": {"skus": scale.skus, "locations": scale.locations, "change_rate": scale.change_rate}},
    )]
