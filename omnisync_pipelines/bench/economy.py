"""Benchmark 2, API economy: writes sent per truly changed record by a 1 %-change delta run, per
flow and per target system, vs a naive full push of every record, counting the real HTTP calls the
connectors send to the emulators (a write: any non-GET call other than OAuth).

Stock (POS -> commercetools): the rig aligns commercetools to the POS, then the POS moves 1 % of its
(SKU, location) counts. Catalog (commercetools -> the POS) and customers (both ways): see
`economy_flows.py`; what the POS's side of their naive pushes does and what bounds them comes from
the POS connector's bench support (`pos_hooks.ConnectorBench.notes`). Every delta run and its naive push start from the same state.
"""

from __future__ import annotations

import asyncio

from omnisync_pipelines.bench.economy_flows import measure_catalog, measure_customers
from omnisync_pipelines.bench.pos_hooks import connector_bench
from omnisync_pipelines.bench.results import BenchResult, ratio
from omnisync_pipelines.bench.sandbox import naive_full_push, open_rig
from omnisync_pipelines.bench.scale import Scale
from omnisync_pipelines.connectors.commercetools.settings import CommercetoolsSettings
from omnisync_pipelines.engine.catalog_plan import catalog_flow
from omnisync_pipelines.engine.customers import customers_flow
from omnisync_pipelines.engine.stock_plan import stock_flow
from omnisync_pipelines.systems import COMMERCETOOLS, DEFAULT_POS, pos_plugin

FULL = Scale(800, 5, 0.01)
QUICK = Scale(250, 4, 0.01)
CONCURRENCY = 16
CATALOG = {"full": (400, 2), "quick": (40, 2)}  # (products of 6 variants, stores)
CUSTOMERS = {"full": 2000, "quick": 200}
RATE = 0.01
GRAPHQL_BATCH = CommercetoolsSettings.model_fields["graphql_batch_size"].default
TARGET = "≤ 1.0 writes per changed record and ≥ 100× fewer calls than the full push"


async def _measure(scale: Scale, pos: str) -> dict:
    rig = await open_rig(scale.locations, concurrency=CONCURRENCY, pos=pos)
    try:
        await rig.sync(Scale(scale.skus, scale.locations, 0.0, scale.seed))  # initial alignment
        rig.meters.reset()
        stats, info = await rig.sync(scale)
        delta = {"changed_records": info["changed"], "writes": rig.meters.writes, "calls": rig.meters.total,
                 "applied": stats.applied, "calls_by_kind": dict(rig.meters.calls), "seconds": info["plan_s"] + info["push_s"]}
        rig.meters.reset()
        seconds = await naive_full_push(rig, rig.pos_snapshot(), CONCURRENCY)
        naive = {"records": scale.rows, "writes": rig.meters.writes, "calls": rig.meters.total,
                 "calls_by_kind": dict(rig.meters.calls), "seconds": seconds}
        return {"delta": delta, "naive": naive}
    finally:
        await rig.aclose()


def run(quick: bool = False, pos: str = DEFAULT_POS) -> list[BenchResult]:
    size = "quick" if quick else "full"
    return [_stock(QUICK if quick else FULL, pos), *_catalog(*CATALOG[size], pos), *_customers(CUSTOMERS[size], pos)]


def _stock(scale: Scale, pos: str) -> BenchResult:
    measured = asyncio.run(_measure(scale, pos))
    delta, naive = measured["delta"], measured["naive"]
    per_change = round(delta["writes"] / delta["changed_records"], 3)
    fewer_calls = ratio(naive["calls"], delta["calls"])
    return BenchResult(
        name="economy",
        title=f"API economy, stock flow -> commercetools, {scale.label}",
        figures={**delta, "writes_per_changed_record": per_change},
        baseline={"method": "naive full push: the target's entries read in pages of 500 per supply channel, "
                            "then one REST write per record", **naive,
                  "writes_per_changed_record": round(naive["writes"] / delta["changed_records"], 3)},
        ratio=fewer_calls,
        ratio_meaning="naive calls / delta calls",
        target="≤ 1.0 writes per changed record and ≥ 100× fewer calls than the full push",
        met=per_change <= 1.0 and (fewer_calls or 0) >= 100,
        bounds="commercetools has no bulk REST inventory endpoint; its GraphQL API takes many aliased "
               "create/updateInventoryEntry mutations in one document, so the changed counts go out "
               f"{GRAPHQL_BATCH} per call (a conflicting write is retried alone over REST). Reads: the entries "
               "in one query per 100 SKUs at a location, plus one token, type and channel lookup per run",
        extra={"flow": stock_flow(pos), "system": COMMERCETOOLS,
               "writes_per_changed_record": per_change, "fewer_calls_ratio": fewer_calls,
               "fewer_writes_ratio": ratio(naive["writes"], delta["writes"])},
    )


def _catalog(products: int, stores: int, pos: str) -> list[BenchResult]:
    notes = connector_bench(pos).notes
    measured = asyncio.run(measure_catalog(products, stores, RATE, pos))
    return [_flow_result(
        flow=catalog_flow(pos), system=pos, records=measured["records"],
        changed=len(measured["changed"]), delta=measured["delta"], naive=measured["naive"], run=measured["run"],
        what=f"catalog and prices commercetools -> {pos_plugin(pos).title}, {measured['records']:,} SKUs × {stores} stores",
        naive_method=notes["catalog_naive"], bounds=notes["catalog_bounds"],
    )]


def _customers(customers: int, pos: str) -> list[BenchResult]:
    notes = connector_bench(pos).notes
    measured = asyncio.run(measure_customers(customers, RATE, pos))
    out = []
    for source, system, naive_method, bounds in (
        (pos, COMMERCETOOLS, "read commercetools customers (pages of 500) and the type, then one update each",
         "commercetools has no bulk REST customer update; its GraphQL API takes many aliased updateCustomer "
         "mutations in one document, so the changed customers go out 100 per call (a conflicting one is retried "
         "alone over REST). Reads: the delta query's pages (here every customer again: the initial run's own "
         "writes fall inside the 120 s overlap the delta query reads back), one query per 100 changed customers "
         "for their versions, one token per connector"),
        (COMMERCETOOLS, pos, notes["customers_naive"], notes["customers_bounds"]),
    ):
        out.append(_flow_result(
            flow=customers_flow(source, system), system=system, records=measured["records"],
            changed=len(measured["changed"][source]), delta=measured["delta"][system],
            naive=measured["naive"][system], run=measured["run"][system],
            what=f"customers {source} -> {system}, {measured['records']:,} customers", naive_method=naive_method,
            bounds=bounds,
        ))
    return out


def _flow_result(*, flow, system, records, changed, delta, naive, run, what, naive_method, bounds) -> BenchResult:
    per_change = round(delta["writes"] / changed, 3) if changed else None
    fewer_calls = ratio(naive["calls"], delta["calls"])
    units = {}  # a budget counted in units (a leaky bucket): its units per changed record, beside the writes
    if changed and delta.get("budget_unit") == "units":
        units = {"budget_units_per_changed_record": round(delta["budget_units"] / changed, 2)}
    return BenchResult(
        name="economy",
        title=f"API economy, {what}, {changed / records:.1%} changed",
        figures={"changed_records": changed, "planned": run.get("planned", 0), "applied": run.get("applied", 0),
                 **delta, "writes_per_changed_record": per_change, **units},
        baseline={"method": f"naive full push: {naive_method}", "records": records, **naive,
                  "writes_per_changed_record": round(naive["writes"] / changed, 3) if changed else None,
                  **({"budget_units_per_changed_record": round(naive["budget_units"] / changed, 2)} if units else {})},
        ratio=fewer_calls,
        ratio_meaning=f"naive calls / delta calls (to {system})",
        target=TARGET,
        met=per_change is not None and per_change <= 1.0 and (fewer_calls or 0) >= 100,
        bounds=bounds,
        extra={"flow": flow, "system": system, "writes_per_changed_record": per_change, **units,
               "fewer_calls_ratio": fewer_calls, "fewer_writes_ratio": ratio(naive["writes"], delta["writes"]),
               **({"fewer_units_ratio": ratio(naive["budget_units"], delta["budget_units"])} if units else {})},
    )
