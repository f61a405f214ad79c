"""What an event-driven run is about: run tags the inbox sensor sets and the flow assets read.

A run without an event batch tag (full_sync, delta_sync) is about everything. An `event_sync` run
is about what its events named: the POS product ids (stock), the sales (store sales and returns)
and the customers; a kind its events did not name at all is left alone, and a kind named more
than MAX_TARGETS times is tagged `*` (about everything). What an event run leaves out is not lost:
the snapshots keep every record they read, and the pushes work from the whole snapshot against
the ledger, so the next delta_sync plans and pushes whatever is still unapplied.
"""

import json

import dagster as dg
import duckdb
import pandas as pd

EVENT_BATCH_TAG = "omnisync/event_batch"  # "<first inbox id>-<last inbox id>"
POS_PRODUCTS_TAG = "omnisync/pos_products"  # JSON list of POS product ids
SALES_TAG = "omnisync/sales"  # JSON list of "<system>:<sale or order id>"
CUSTOMERS_TAG = "omnisync/customers"  # JSON list of "<system>:<customer id>"
MAX_TARGETS = 200  # more ids than this in one batch: the run is about everything of that kind
EVERYTHING = "*"


def target_tags(products: set[str], sales: set[str], customers: set[str]) -> dict[str, str]:
    tags = {}
    for tag, ids in ((POS_PRODUCTS_TAG, products), (SALES_TAG, sales), (CUSTOMERS_TAG, customers)):
        if len(ids) > MAX_TARGETS:
            tags[tag] = EVERYTHING
        elif ids:
            tags[tag] = json.dumps(sorted(ids), separators=(",", ":"))
    return tags


def targeted_ids(tags: dict[str, str], tag: str) -> set[str] | None:
    """The ids the run's events named under `tag`; None when the run is about everything of that kind."""
    if EVENT_BATCH_TAG not in tags:
        return None
    raw = tags.get(tag)
    if raw == EVERYTHING:
        return None
    return set(json.loads(raw)) if raw else set()


def targeted_products(context: dg.AssetExecutionContext) -> list[str] | None:
    products = targeted_ids(context.run.tags, POS_PRODUCTS_TAG)
    return None if products is None else sorted(products)


def _local_ids(named: set[str], system: str) -> set[str]:
    """`<system>:<id>` targets -> the ids of that system."""
    prefix = f"{system}:"
    return {ref[len(prefix):] for ref in named if ref.startswith(prefix)}


def only_targeted_stock(context: dg.AssetExecutionContext, con: duckdb.DuckDBPyConnection, pos: str, plan: pd.DataFrame) -> pd.DataFrame:
    """The plan rows of the SKUs whose POS products the run's events named (all rows otherwise)."""
    products = targeted_products(context)
    if products is None or not len(plan):
        return plan
    if not products:
        context.log.info("event run: the events named no POS product; no stock planned")
        return plan.iloc[0:0]
    skus = {r[0] for r in con.execute(f"SELECT sku FROM {pos}.catalog WHERE list_contains(?, system_id)", [products]).fetchall()}
    context.log.info(f"event run: stock plan narrowed to {len(skus)} SKUs named by the events")
    return plan[plan["sku"].isin(skus)].reset_index(drop=True)


def only_targeted_sales(context: dg.AssetExecutionContext, pos: str, records: list, id_of) -> list:
    """The POS sales (or returns, which are sales at the POS) the run's events named (all otherwise).
    `id_of(record)` is the record's POS sale id."""
    named = targeted_ids(context.run.tags, SALES_TAG)
    if named is None:
        return records
    sale_ids = _local_ids(named, pos)
    kept = [r for r in records if id_of(r) in sale_ids]
    context.log.info(f"event run: {len(kept)} of {len(records)} {pos} sales/returns named by the events; "
                     "the rest wait for the next delta_sync")
    return kept


def only_targeted_customers(context: dg.AssetExecutionContext, writes: pd.DataFrame) -> pd.DataFrame:
    """The customer writes whose source or target customer the run's events named (all otherwise)."""
    named = targeted_ids(context.run.tags, CUSTOMERS_TAG)
    if named is None or not len(writes):
        return writes
    source_ref = writes["source_system"] + ":" + writes["source_id"].astype(str)
    target_ref = writes["target_system"] + ":" + writes["target_id"].astype(str)
    kept = writes[source_ref.isin(named) | (writes["target_id"].notna() & target_ref.isin(named))].reset_index(drop=True)
    context.log.info(f"event run: {len(kept)} of {len(writes)} customer writes named by the events; "
                     "the rest wait for the next delta_sync")
    return kept
