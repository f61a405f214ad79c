"""Benchmark 5, push throughput under realistic latency: 50 ms added to every call into the
commercetools emulator; inventory updates/s through the engine's stock push and product updates/s
through the connector's update path, each within a concurrency bound, vs the same work sent
sequentially (one call in flight). Published reference (commercetools-sync-java, 1,000 records
against a real project): about 83–160 inventory entries/s and 50–128 products/s.

The stock push sends its writes as batched GraphQL mutations (100 per call); the same push over REST
(one call per write, `graphql_writes: false`), the way sync-java writes, is measured beside it, and
the sequential baseline is REST with one call in flight.

omnisync has no product flow into commercetools (commercetools owns the catalog and the flow runs to
the POS); product updates/s measures the connector's generic update call on products.
"""

from __future__ import annotations

import asyncio
import time

from omnisync_pipelines.bench.results import BenchResult, ratio
from omnisync_pipelines.bench.sandbox import open_rig
from omnisync_pipelines.bench.scale import Scale
from omnisync_pipelines.systems import DEFAULT_POS

LATENCY_S = 0.05
BOUND = 64  # calls in flight; per-project commercetools limits are far above this
FULL = {"skus": 2_000, "locations": 5, "sequential": 0.02, "bounded": 0.2, "products": (100, 1_000)}
QUICK = {"skus": 200, "locations": 2, "sequential": 0.05, "bounded": 0.5, "products": (20, 100)}
TARGETS = {"inventory": 500, "product": 300}
PUBLISHED = {"inventory": "83–160/s", "product": "50–128/s"}


async def _inventory(size: dict, pos: str) -> tuple[dict, dict, dict]:
    """(GraphQL-batched push, REST push, REST sequential) figures."""
    graphql, _ = await _inventory_push(size, pos, graphql_writes=True, sequential=False)
    rest, rest_sequential = await _inventory_push(size, pos, graphql_writes=False, sequential=True)
    return graphql, rest, rest_sequential


async def _inventory_push(size: dict, pos: str, *, graphql_writes: bool, sequential: bool) -> tuple[dict, dict | None]:
    rig = await open_rig(size["locations"], concurrency=BOUND, graphql_writes=graphql_writes, pos=pos)
    try:
        await rig.sync(Scale(size["skus"], size["locations"], 0.0))
        rig.emulator.faults.latency_s = LATENCY_S
        seq = None
        if sequential:
            rig.meters.reset()
            seq = (*await rig.sync(Scale(size["skus"], size["locations"], size["sequential"], generation=1), concurrency=1),
                   rig.meters.total)
        rig.meters.reset()
        par = (*await rig.sync(Scale(size["skus"], size["locations"], size["bounded"], generation=2), concurrency=BOUND),
               rig.meters.total)
    finally:
        await rig.aclose()

    def figures(stats, info, calls, bound):
        return {"updates": stats.applied, "seconds": info["push_s"], "per_s": round(stats.applied / info["push_s"], 1),
                "in_flight": bound, "failed": stats.failed, "calls": calls}

    return (figures(*par, BOUND), figures(*seq, 1) if seq else None)


async def _products(count_sequential: int, count_bounded: int) -> tuple[dict, dict]:
    rig = await open_rig(0, concurrency=BOUND)
    client = rig.client
    try:
        product_type = await client.create("product-types", {"key": "bench", "name": "bench", "description": "bench"})
        products = []
        for i in range(count_sequential + count_bounded):
            products.append(await client.create("products", {
                "key": f"p{i}", "productType": {"typeId": "product-type", "id": product_type["id"]},
                "name": {"en": f"Product {i}"}, "slug": {"en": f"product-{i}"}, "masterVariant": {"sku": f"P-{i}"},
            }))
        rig.emulator.faults.latency_s = LATENCY_S
        gate = asyncio.Semaphore(BOUND)

        async def rename(product: dict, bounded: bool) -> None:
            action = [{"action": "changeName", "name": {"en": f"{product['key']} (renamed)"}}]
            if bounded:
                async with gate:
                    await client.update("products", product["id"], product["version"], action)
            else:
                await client.update("products", product["id"], product["version"], action)

        started = time.perf_counter()
        for product in products[:count_sequential]:
            await rename(product, bounded=False)
        sequential = time.perf_counter() - started
        started = time.perf_counter()
        await asyncio.gather(*(rename(p, bounded=True) for p in products[count_sequential:]))
        bounded = time.perf_counter() - started
    finally:
        await rig.aclose()
    return ({"updates": count_bounded, "seconds": round(bounded, 3), "per_s": round(count_bounded / bounded, 1), "in_flight": BOUND},
            {"updates": count_sequential, "seconds": round(sequential, 3), "per_s": round(count_sequential / sequential, 1),
             "in_flight": 1})


def run(quick: bool = False, pos: str = DEFAULT_POS) -> list[BenchResult]:
    size = QUICK if quick else FULL
    inventory, inventory_rest, inventory_seq = asyncio.run(_inventory(size, pos))
    products, products_seq = asyncio.run(_products(*size["products"]))
    results = []
    for kind, figures, baseline, bounds in (
        ("inventory", {**inventory, "rest": inventory_rest}, inventory_seq,
         "GraphQL: 100 writes per call, so the 50 ms per call is spread over 100 records; what bounds it is the "
         "per-record work (the emulator's GraphQL execution and the ledger's few statements per 500-record batch "
         "phase, on one event loop with the in-process emulator). REST (`rest`): in-flight bound × 1/(latency + "
         "per-call work), one POST per change, entries prefetched in batches"),
        ("product", products, products_seq, "in-flight bound × 1/(latency + per-call work); one POST per update"),
    ):
        results.append(BenchResult(
            name="throughput",
            title=f"{kind} updates/s with {int(LATENCY_S * 1000)} ms added per call",
            figures=figures,
            baseline={"method": "sequential (one call in flight)", **baseline, "published_sync_java": PUBLISHED[kind]},
            ratio=ratio(figures["per_s"], baseline["per_s"]),
            ratio_meaning="bounded updates/s / sequential updates/s",
            target=f"≥ {TARGETS[kind]} {kind} updates/s",
            met=None if quick else figures["per_s"] >= TARGETS[kind],
            bounds=bounds,
            extra={"kind": kind, "latency_ms": int(LATENCY_S * 1000)},
        ))
    return results
