"""Benchmark 6, scaling: the delta plan's time (`plan_stock_changes`, ops-store reads from SQLite
included) for 0.1 / 1 / 10 % changes at a fixed catalog, and for three catalog sizes at 1 % change and
at a fixed number of changes, each against the pandas merge at the same size.

The criterion (`met`, full runs only), per series:
- changes (fixed catalog): 100× more changes cost at least 10× more time, and a change costs no more
  at 10 % than at 0.1 % (µs per change), i.e. the cost follows the changes;
- catalog, fixed change count: the largest catalog (100× the rows) takes at most 3× the smallest's
  time. What could grow with the catalog is the scan of the `system_version` column; the snapshot is
  stored in version order (bench/scale.py), so DuckDB's row-group statistics skip all but the row
  groups holding the changes;
- catalog at 1 %: changes grow with the catalog, so time does too; µs per change at the largest
  catalog at most 2× the smallest's.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from omnisync_pipelines.bench.delta import _pandas_diff
from omnisync_pipelines.bench.results import BenchResult, ratio
from omnisync_pipelines.bench.scale import Scale, build_ops_baselines, build_snapshots, location
from omnisync_pipelines.engine.stock_plan import plan_stock_changes, stock_flow
from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines.systems import DEFAULT_POS

LOCATIONS = 10
FULL_RATES, FULL_SKUS, FULL_FIXED, FULL_CHANGES = (0.001, 0.01, 0.1), (10_000, 100_000, 1_000_000), 100_000, 1_000
QUICK_RATES, QUICK_SKUS, QUICK_FIXED, QUICK_CHANGES = (0.001, 0.01, 0.1), (1_000, 5_000, 20_000), 5_000, 100


def _points(quick: bool) -> dict[int, list[tuple[str, float]]]:
    """{catalog size: [(series, change rate)]}: each catalog's ops store is built once."""
    rates, skus, fixed, changes = (QUICK_RATES, QUICK_SKUS, QUICK_FIXED, QUICK_CHANGES) if quick else (
        FULL_RATES, FULL_SKUS, FULL_FIXED, FULL_CHANGES)
    points: dict[int, list[tuple[str, float]]] = {}
    for rate in rates:
        points.setdefault(fixed, []).append(("changes", rate))
    for n in skus:
        points.setdefault(n, []).append(("catalog", 0.01))
        points[n].append(("catalog_fixed_changes", changes / (n * LOCATIONS)))
    return points


def _measure(ops: OpsStore, scale: Scale, pos: str, repeats: int = 3) -> tuple[dict, dict]:
    con = duckdb.connect()
    try:
        changed = build_snapshots(con, scale, pos)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            plan, _, _ = plan_stock_changes(con, pos, ops)
            times.append(time.perf_counter() - started)
        snapshot = con.execute(f"SELECT sku, location_key, on_hand, system_version FROM {pos}.stock").df()
        baseline = con.execute("SELECT * FROM bench.baseline").df()
    finally:
        con.close()
    seconds = statistics.median(times)
    started = time.perf_counter()
    moved = _pandas_diff(snapshot, baseline)
    pandas_s = time.perf_counter() - started
    figures = {"rows": scale.rows, "changed": changed, "planned": len(plan), "seconds": round(seconds, 4),
               "us_per_change": round(seconds * 1e6 / max(changed, 1), 1), "ns_per_row": round(seconds * 1e9 / scale.rows, 2),
               "runs": repeats}
    return figures, {"rows": scale.rows, "changed": len(moved), "seconds": round(pandas_s, 3), "runs": 1}


def _verdicts(measured: list[tuple[str, Scale, dict]]) -> dict[str, bool]:
    def series(name):
        return sorted((f for s, _, f in measured if s == name), key=lambda f: (f["rows"], f["changed"]))
    changes, fixed, catalog = series("changes"), series("catalog_fixed_changes"), series("catalog")
    return {
        "changes": changes[-1]["seconds"] >= 10 * changes[0]["seconds"]
        and changes[-1]["us_per_change"] <= changes[0]["us_per_change"],
        "catalog_fixed_changes": fixed[-1]["seconds"] <= 3 * fixed[0]["seconds"],
        "catalog": catalog[-1]["us_per_change"] <= 2 * catalog[0]["us_per_change"],
    }


def run(quick: bool = False, pos: str = DEFAULT_POS) -> list[BenchResult]:
    measured: list[tuple[str, Scale, dict, dict]] = []
    for skus, wanted in _points(quick).items():
        with tempfile.TemporaryDirectory(prefix="omnisync-bench-") as tmp:
            ops = OpsStore.from_url(f"sqlite:///{Path(tmp) / 'ops.sqlite'}")
            try:
                build_ops_baselines(ops, Scale(skus, LOCATIONS, 0.0), pos)
                ops.stage_plan_watermarks(stock_flow(pos), {location(n): 1000 for n in range(LOCATIONS)})
                ops.commit_plan_watermarks(stock_flow(pos))
                for series, rate in wanted:
                    scale = Scale(skus, LOCATIONS, rate)
                    measured.append((series, scale, *_measure(ops, scale, pos)))
            finally:
                ops.engine.dispose()
    verdicts = {} if quick else _verdicts([(s, sc, f) for s, sc, f, _ in measured])
    return [
        BenchResult(
            name="scaling",
            title=f"scaling ({series}), {scale.label}",
            figures=figures,
            baseline={"method": "pandas merge", **pandas},
            ratio=ratio(pandas["seconds"], figures["seconds"]),
            ratio_meaning="pandas seconds / omnisync delta plan seconds",
            target="cost grows with the changes, not the catalog (criteria in bench/scaling.py)",
            met=verdicts.get(series),
            bounds="per change: a primary-key lookup in the ops store and its share of the diff (µs); per row: "
                   "one scan of the snapshot's system_version column (ns)",
            extra={"series": series, "scale": {"skus": scale.skus, "locations": scale.locations,
                                                "change_rate": scale.change_rate}},
        )
        for series, scale, figures, pandas in sorted(measured, key=lambda m: (m[0], m[1].rows, m[1].change_rate))
    ]
