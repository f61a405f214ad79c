"""Benchmark 2, API economy: writes sent per truly changed record by a 1 %-change delta run, per
flow and per target system, vs a naive full push of every record, counting the real HTTP calls the
connectors send to the emulators (a write: any non-GET call other than OAuth).

Stock (POS -> commercetools): the rig aligns commercetools to the POS, then the POS moves 1 % of its
(SKU, location) counts. Catalog (commercetools -> X-Series) and customers (both ways): see
`economy_flows.py`. Every delta run and its naive push start from the same state.
"""

from __future__ import annotations

import asyncio

from omnisync_pipelines.bench.economy_flows import measure_catalog, measure_customers
from omnisync_pipelines.bench.results import BenchResult, ratio
from omnisync_pipelines.bench.sandbox import naive_full_push, open_rig
from omnisync_pipelines.bench.scale import Scale
from omnisync_pipelines.connectors.commercetools.settings import CommercetoolsSettings
from omnisync_pipelines.engine.catalog_plan import catalog_flow
from omnisync_pipelines.engine.customers import customers_flow
from omnisync_pipelines.engine.stock_plan import stock_flow

FULL = Scale(800, 5, 0.01)
QUICK = Scale(250, 4, 0.01)
CONCURRENCY = 16
CATALOG = {"full": (400, 2), "quick": (40, 2)}  # (products of 6 variants, stores)
CUSTOMERS = {"full": 2000, "quick": 200}
RATE = 0.01
GRAPHQL_BATCH = CommercetoolsSettings.model_fields["graphql_batch_size"].default
TARGET = "≤ 1.0 writes per changed record and ≥ 100× fewer calls than the full push"


async def _measure(scale: Scale) -> dict:
    rig = await open_rig(scale.locations, concurrency=CONCURRENCY)
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


def run(quick: bool = False) -> list[BenchResult]:
    size = "quick" if quick else "full"
    return [_stock(QUICK if quick else FULL), *_catalog(*CATALOG[size]), *_customers(CUSTOMERS[size])]


def _stock(scale: Scale) -> BenchResult:
    measured = asyncio.run(_measure(scale))
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
        extra={"flow": stock_flow("lightspeed_x"), "system": "commercetools",
               "writes_per_changed_record": per_change, "fewer_calls_ratio": fewer_calls,
               "fewer_writes_ratio": ratio(naive["writes"], delta["writes"])},
    )


def _catalog(products: int, stores: int) -> list[BenchResult]:
    measured = asyncio.run(measure_catalog(products, stores, RATE))
    return [_flow_result(
        flow=catalog_flow("lightspeed_x"), system="lightspeed_x", records=measured["records"],
        changed=len(measured["changed"]), delta=measured["delta"], naive=measured["naive"], run=measured["run"],
        what=f"catalog and prices commercetools -> X-Series, {measured['records']:,} SKUs × {stores} stores",
        naive_method="read the X-Series products (pages of 10,000) and each tax they use, then one 2.1 product "
                     "update per SKU (name, SKU, barcode, net base price)",
        bounds="one PUT /api/2.1/products/{id} per changed SKU whose own fields changed (a family's new name is one "
               "PUT for the family; a new family one POST with all its variants): X-Series 2.1 has no bulk product "
               "update; price book entries one POST per book per 100 entries. Fixed reads per run: the delta "
               "snapshots (the product feed once for the catalog and once for the prices, as two assets, the price "
               "book entry feed, the outlets) and each tax a new net price needs, by id (the snapshots keep gross "
               "prices, not rates). Products the snapshots describe are not looked up: the search only for new SKUs "
               "or after a 404; the price book list only when a store or group price is wanted or set back",
    )]


def _customers(customers: int) -> list[BenchResult]:
    measured = asyncio.run(measure_customers(customers, RATE))
    out = []
    for source, system, naive_method, bounds in (
        ("lightspeed_x", "commercetools", "read commercetools customers (pages of 500) and the type, then one update each",
         "commercetools has no bulk REST customer update; its GraphQL API takes many aliased updateCustomer "
         "mutations in one document, so the changed customers go out 100 per call (a conflicting one is retried "
         "alone over REST). Reads: the delta query's pages (here every customer again: the initial run's own "
         "writes fall inside the 120 s overlap the delta query reads back), one query per 100 changed customers "
         "for their versions, one token per connector"),
        ("commercetools", "lightspeed_x", "read X-Series customers (pages of 10,000), then one PUT each",
         "one PUT /api/2.0/customers/{id} per changed customer (a create first searches by customer code, then "
         "by email). The one remaining read is the customer change feed (a page plus the empty page that ends it), "
         "also the source of the other direction; X-Series has no bulk customer write, so at 1 % change the ratio "
         "stays below 100× whenever the run reads anything"),
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
    return BenchResult(
        name="economy",
        title=f"API economy, {what}, {changed / records:.1%} changed",
        figures={"changed_records": changed, "planned": run.get("planned", 0), "applied": run.get("applied", 0),
                 **delta, "writes_per_changed_record": per_change},
        baseline={"method": f"naive full push: {naive_method}", "records": records, **naive,
                  "writes_per_changed_record": round(naive["writes"] / changed, 3) if changed else None},
        ratio=fewer_calls,
        ratio_meaning=f"naive calls / delta calls (to {system})",
        target=TARGET,
        met=per_change is not None and per_change <= 1.0 and (fewer_calls or 0) >= 100,
        bounds=bounds,
        extra={"flow": flow, "system": system, "writes_per_changed_record": per_change,
               "fewer_calls_ratio": fewer_calls, "fewer_writes_ratio": ratio(naive["writes"], delta["writes"])},
    )
