"""X-Series' connector side of the benchmark rigs (`bench/pos_hooks.py`, `ConnectorBench`): the naive
full pushes of the API-economy baselines (through the connector's own client: its auth, request
budget and retries), what a full stock read costs in requests, and what bounds the figures."""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal

import pandas as pd

from omnisync_pipelines.bench.pos_hooks import ReadCost
from omnisync_pipelines.connectors.lightspeed_x.drafts import net_of, product_codes
from omnisync_pipelines.connectors.lightspeed_x.mapping import major_units, tax_rates
from omnisync_pipelines.connectors.lightspeed_x.settings import WINDOW_S, LightspeedXSettings

LARGEST_PAGE = 10_000  # X-Series 2.0 collections (vend-cli; sales 500)
PAGE_SIZE = LightspeedXSettings.model_fields["page_size"].default  # the connector's stock read


def budget(registers: int) -> int:
    """Requests per 300-second window (API_FACTS §2, "Rate limit")."""
    return 300 * registers + 50


def read_requests(skus: int, outlets: int, page_size: int = PAGE_SIZE) -> int:
    """Requests of a full stock read: outlets, products, inventory, each paged until an empty page."""
    return 2 + (math.ceil(skus / page_size) + 1) + (math.ceil(skus * outlets / page_size) + 1)


def rate_limit_floor_s(requests: int, registers: int) -> float:
    """The least time the budget imposes on `requests` sent as fast as possible: every budget's worth
    beyond the first waits for the next 300-second window."""
    return max(0, math.ceil(requests / budget(registers)) - 1) * WINDOW_S


class LightspeedXBenchSupport:
    notes = {
        "stock_read": "X-Series: 300 × registers + 50 requests per 300 s (a floor only when pages exceed the budget)",
        "live_read": "one X-Series inventory read per product",
        "catalog_naive": "read the X-Series products (pages of 10,000) and each tax they use, then one 2.1 product "
                         "update per SKU (name, SKU, barcode, net base price)",
        "catalog_bounds": "one PUT /api/2.1/products/{id} per changed SKU whose own fields changed (a family's new name "
                          "is one PUT for the family; a new family one POST with all its variants): X-Series 2.1 has no "
                          "bulk product update; price book entries one POST per book per 100 entries. Fixed reads per "
                          "run: the delta snapshots (the product feed once for the catalog and once for the prices, as "
                          "two assets, the price book entry feed, the outlets) and each tax a new net price needs, by "
                          "id (the snapshots keep gross prices, not rates). Products the snapshots describe are not "
                          "looked up: the search only for new SKUs or after a 404; the price book list only when a "
                          "store or group price is wanted or set back",
        "customers_naive": "read X-Series customers (pages of 10,000), then one PUT each",
        "customers_bounds": "one PUT /api/2.0/customers/{id} per changed customer (a create first searches by customer "
                            "code, then by email). The one remaining read is the customer change feed (a page plus the "
                            "empty page that ends it), also the source of the other direction; X-Series has no bulk "
                            "customer write, so at 1 % change the ratio stays below 100× whenever the run reads anything",
    }

    def read_cost(self, skus: int, locations: int) -> ReadCost:
        requests = read_requests(skus, locations)
        registers = {"one_register": 1, "one_register_per_store": locations}
        return ReadCost(
            requests=requests,
            floors_s={kind: rate_limit_floor_s(requests, n) for kind, n in registers.items()},
            figures={"pos_page_size": PAGE_SIZE, "pos_budget_per_300s": {kind: budget(n) for kind, n in registers.items()}},
            model="X-Series floor: (ceil(requests / (300 × registers + 50)) − 1) × 300 s, requests = outlets + "
                  f"product pages + inventory pages (+1 empty page each) at page_size {PAGE_SIZE}",
        )

    async def naive_catalog_push(self, connector, desired: pd.DataFrame, base_prices: dict[str, int], currency: str) -> None:
        client = connector.client
        by_sku = {p["sku"]: p async for p in _all(client, "products")}
        rates = tax_rates((await client.taxes()).rows)
        await asyncio.gather(*(
            client.update_product(by_sku[item.sku]["id"], common={"name": item.name},
                                  details={"sku": item.sku, "product_codes": product_codes(item.barcode),
                                           "price_excluding_tax": float(net_of(
                                               major_units(base_prices.get(item.sku, 0), currency),
                                               rates.get(by_sku[item.sku].get("tax_id"), Decimal(0))))})
            for item in desired.itertuples() if item.sku in by_sku))

    async def naive_read_customers(self, connector) -> list[dict]:
        return [{"id": r["id"], "email": r.get("email"),
                 "loyalty_id": r.get("customer_code") if r.get("enable_loyalty") else None}
                async for r in _all(connector.client, "customers")]

    async def naive_write_customers(self, connector, updates: list[tuple[str, dict]]) -> None:
        await asyncio.gather(*(connector.client.update_customer(pos_id, fields) for pos_id, fields in updates))


async def _all(client, collection: str):
    """A 2.0 collection in the largest pages the API allows."""
    async for rows, _ in client.iter_pages(collection, page_size=LARGEST_PAGE):
        for row in rows:
            yield row


SUPPORT = LightspeedXBenchSupport()
