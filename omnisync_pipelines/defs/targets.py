"""What an event-driven run is about: run tags the inbox sensor sets and the flow assets read.

A run without these tags (full_sync, delta_sync) is about everything. `event_sync` runs carry the
POS product ids (and sale / customer ids) their events named; the stock plan keeps only the SKUs of
those products. Counts left out are not lost: the next delta_sync plans them from the snapshot.
"""

import json

import dagster as dg
import duckdb
import pandas as pd

EVENT_BATCH_TAG = "omnisync/event_batch"  # "<first inbox id>-<last inbox id>"
POS_PRODUCTS_TAG = "omnisync/pos_products"  # JSON list of POS product ids
SALES_TAG = "omnisync/sales"  # JSON list of "<system>:<sale or order id>"
CUSTOMERS_TAG = "omnisync/customers"  # JSON list of "<system>:<customer id>"
MAX_TARGETS = 200  # more ids than this in one batch: the run is about everything


def target_tags(products: set[str], sales: set[str], customers: set[str]) -> dict[str, str]:
    tags = {}
    for tag, ids in ((POS_PRODUCTS_TAG, products), (SALES_TAG, sales), (CUSTOMERS_TAG, customers)):
        if ids and len(ids) <= MAX_TARGETS:
            tags[tag] = json.dumps(sorted(ids), separators=(",", ":"))
    return tags


def targeted_products(context: dg.AssetExecutionContext) -> list[str] | None:
    raw = context.run.tags.get(POS_PRODUCTS_TAG)
    return None if raw is None else list(json.loads(raw))


def only_targeted_stock(context: dg.AssetExecutionContext, con: duckdb.DuckDBPyConnection, pos: str, plan: pd.DataFrame) -> pd.DataFrame:
    """The plan rows of the SKUs whose POS products the run's events named (all rows otherwise)."""
    products = targeted_products(context)
    if products is None or not len(plan):
        return plan
    skus = {r[0] for r in con.execute(f"SELECT sku FROM {pos}.catalog WHERE list_contains(?, system_id)", [products]).fetchall()}
    context.log.info(f"event run: stock plan narrowed to {len(skus)} SKUs named by the events")
    return plan[plan["sku"].isin(skus)].reset_index(drop=True)
