"""Benchmark 6, scaling: delta time for 0.1 / 1 / 10 % changes at a fixed catalog, and for three
catalog sizes at 1 % change, each against the pandas merge at the same size.

What grows with what: the diff reads the whole snapshot once (linear in rows, at tens of ns per row);
every step after it, and every API call (see `economy`), is linear in the changed rows only.
"""

from __future__ import annotations

from omnisync_pipelines.bench.delta import measure
from omnisync_pipelines.bench.results import BenchResult, ratio
from omnisync_pipelines.bench.scale import Scale

LOCATIONS = 10
FULL_RATES, FULL_SKUS, FULL_FIXED = (0.001, 0.01, 0.1), (10_000, 100_000, 1_000_000), 100_000
QUICK_RATES, QUICK_SKUS, QUICK_FIXED = (0.001, 0.01, 0.1), (1_000, 5_000, 20_000), 5_000


def run(quick: bool = False) -> list[BenchResult]:
    rates, skus, fixed = (QUICK_RATES, QUICK_SKUS, QUICK_FIXED) if quick else (FULL_RATES, FULL_SKUS, FULL_FIXED)
    points = [("changes", Scale(fixed, LOCATIONS, rate)) for rate in rates]
    points += [("catalog", Scale(n, LOCATIONS, 0.01)) for n in skus]
    results = []
    for series, scale in points:
        omnisync, pandas = measure(scale, repeats=3, pandas_repeats=1)
        omnisync["ns_per_row"] = round(omnisync["seconds"] * 1e9 / scale.rows, 1)
        omnisync["us_per_change"] = round(omnisync["seconds"] * 1e6 / max(omnisync["changed"], 1), 1)
        results.append(BenchResult(
            name="scaling",
            title=f"scaling ({series}), {scale.label}",
            figures=omnisync,
            baseline={"method": "pandas merge", **pandas},
            ratio=ratio(pandas["seconds"], omnisync["seconds"]),
            ratio_meaning="pandas seconds / omnisync seconds",
            target="cost grows with the changes, not the catalog",
            met=None,
            bounds="the one pass over the snapshot (linear in rows); per-change work (keys, sort, API calls) "
                   "is linear in changes",
            extra={"series": series, "scale": {"skus": scale.skus, "locations": scale.locations,
                                                "change_rate": scale.change_rate}},
        ))
    return results
