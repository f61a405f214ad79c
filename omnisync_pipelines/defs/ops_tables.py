"""Copies of the operational tables into DuckDB (`ops.<table>`), for analysts."""


import dagster as dg

from omnisync_pipelines.defs.resources import OmnisyncResource
from omnisync_pipelines.store import warehouse

OPS_TABLES = {
    "ledger": "Every write omnisync made or attempted: idempotency key, flow, status (applied, rejected, retrying, superseded).",
    "rejected": "Records that could not be mapped or applied: record, field, reason, payload, status.",
    "api_calls": "Every API call: method, path, status, latency, attempt, correlation id, redacted bodies.",
    "cursors": "Where each delta read resumes, with the evidence of the run that advanced it.",
    "stock_baseline": "The last POS count per SKU x location whose change reached commercetools.",
    "crosswalk": "Each system's id of a customer (or other entity) and the canonical id it maps to.",
}


@dg.multi_asset(
    name="ops_tables",
    specs=[
        dg.AssetSpec(["ops", name], group_name="ops", kinds={"duckdb"}, description=text,
                     deps=[dg.AssetKey(["drift", "stock_history"]), dg.AssetKey(["drift", "orders_history"])])
        for name, text in OPS_TABLES.items()
    ],
    pool="duckdb",
)
def ops_tables(omnisync: OmnisyncResource):
    """Copies the operational store's tables into the DuckDB schema `ops`, with their declared types
    (timestamps with time zone: the store's naive timestamps are UTC) and comments."""
    ops = omnisync.ops_store()
    with omnisync.warehouse() as con:
        for name in OPS_TABLES:
            rows = warehouse.replace_table(con, "ops", name, ops.table_frame(name))
            yield dg.MaterializeResult(asset_key=["ops", name], metadata={"rows": rows, "dagster/row_count": rows})


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[ops_tables])
