"""The catalog and prices flow: commercetools (owner of catalog and prices) -> the POS.

plan: validate the commercetools catalog and prices (missing or duplicate SKU, duplicate or invalid
barcode, conflicting prices for one scope, no price at a store that sells the item, unmapped tax
category), then diff every valid SKU against the POS snapshot. Rejected SKUs go to the rejected
table with record and field and never reach the POS. push: each SKU's whole desired state, once per
idempotency key (ledger: retrying -> applied / rejected).

Delta and full runs share this code: the snapshots upstream read everything (full) or what changed
since their cursors (delta) and merge it, and the plan diffs the snapshots, so it holds only SKUs
that differ; a run after the POS took the changes plans nothing.
"""

import asyncio
from dataclasses import replace

import dagster as dg
import pandas as pd

from omnisync_pipelines import systems
from omnisync_pipelines.connectors.registry import build_catalog_target, open_connector
from omnisync_pipelines.defs.resources import OmnisyncResource, pos_secrets
from omnisync_pipelines.defs.specs import configured_pos
from omnisync_pipelines.engine.catalog_plan import catalog_flow, plan_catalog
from omnisync_pipelines.engine.catalog_push import push_catalog
from omnisync_pipelines.engine.catalog_validate import SOURCE, CatalogLocation, locations_from_frame
from omnisync_pipelines.engine.stock_push import SystemicSyncError
from omnisync_pipelines.store import warehouse
from omnisync_pipelines.store.ops import CallLogBuffer

SNAPSHOTS = [("commercetools", "catalog"), ("commercetools", "prices"), ("{pos}", "catalog"), ("{pos}", "prices"),
             ("{pos}", "locations")]


def build_catalog_flow(pos: str) -> list[dg.AssetsDefinition]:
    flow = catalog_flow(pos)

    @dg.asset(
        key=["plan", flow],
        deps=[dg.AssetKey([system.format(pos=pos), entity]) for system, entity in SNAPSHOTS],
        group_name="catalog",
        kinds={"duckdb"},
        pool="duckdb",
        description=f"Catalog and prices commercetools -> {pos}: one row per valid SKU whose item or prices differ "
        "at the POS, carrying its whole desired state (item + prices per location and price book) and its "
        "idempotency key. Invalid SKUs are rejected with record and field and left out.",
    )
    def plan(context: dg.AssetExecutionContext, omnisync: OmnisyncResource) -> dg.MaterializeResult:
        config, ops = omnisync.load_config(), omnisync.ops_store()
        options = config.catalog
        with omnisync.warehouse() as con:
            locations = _with_countries(locations_from_frame(warehouse.read_table(con, pos, "locations")), config)
            rows, rejections = plan_catalog(
                con, pos, locations, tax_classes=options.tax_classes, customer_groups=options.customer_groups,
                variant_attributes=options.variant_attributes,
            )
            skus = warehouse.read_table(con, SOURCE, "catalog")["sku"].dropna().unique().tolist()
            warehouse.replace_table(con, "plan", flow, _plan_table(rows))
        ops.add_rejections(flow, rejections)
        # a SKU that is valid again and already equal at the POS closes what was rejected before
        rejected = {r.record_ref for r in rejections}
        ops.resolve_rejections(flow, SOURCE, [s for s in skus if s not in rejected and s not in set(rows["sku"])])
        return dg.MaterializeResult(metadata={
            "planned": len(rows),
            "dagster/row_count": len(rows),
            "creates": int((rows["action"] == "create").sum()) if len(rows) else 0,
            "rejected": len(rejections),
            "rejected_skus": dg.MetadataValue.md("\n".join(f"- {r.record_ref} ({r.field}): {r.reason}"
                                                           for r in rejections[:20]) or "none"),
            "preview": dg.MetadataValue.md(rows[["sku", "action", "changes"]].head(10).to_markdown(index=False))
            if len(rows) else "",
        })

    @dg.asset(
        key=["push", flow],
        deps=[plan],
        group_name="catalog",
        kinds={pos, "duckdb"},
        pool="duckdb",
        description=f"Applies plan/{flow} to {pos}: items (a new product's variants created together), base price "
        "and store and customer-group prices, each SKU once per idempotency key. The table lists this "
        "run's outcome per key.",
        required_resource_keys={"omnisync", pos},
    )
    def push(context: dg.AssetExecutionContext):
        omnisync: OmnisyncResource = context.resources.omnisync
        config, ops = omnisync.load_config(), omnisync.ops_store()
        with omnisync.warehouse() as con:
            rows = _from_table(warehouse.read_table(con, "plan", flow))
            pos_catalog, pos_prices = pos_rows_of(con, pos, list(rows["sku"]) if len(rows) else [])
        settle_unplanned(ops, flow, set(rows["sku"]) if len(rows) else set())
        secrets = pos_secrets(context, pos)
        call_log = CallLogBuffer(ops)
        budget: dict[str, str] = {}

        async def main():
            async with open_connector(pos, config, secrets, call_log=call_log) as connector:
                if estimate := systems.pos_plugin(pos).request_estimate(connector, {}, {"catalog": len(rows)}):
                    context.log.info(f"{flow}: {len(rows)} items to write: {estimate}")
                    budget["api_budget"] = estimate
                target = build_catalog_target(connector, config)
                target.expect(rows, pos_catalog, pos_prices)
                return await push_catalog(rows, target, ops, pos_system=pos)

        try:
            stats = asyncio.run(main()) if len(rows) else None
        except SystemicSyncError as exc:
            raise dg.Failure(str(exc)) from exc
        finally:
            call_log.flush()
        statuses = ops.ledger_statuses(rows["idempotency_key"]) if len(rows) else {}
        with omnisync.warehouse() as con:
            written = warehouse.replace_table(con, "push", flow, _outcomes(rows, statuses))
        summary = {**(stats.as_dict() if stats else {"processed": 0}), **budget}
        context.log.info(stats.summary() if stats else f"{flow}: nothing to push")
        if stats and stats.failed:
            raise dg.Failure(f"{stats.failed} catalog writes failed transiently; they are retried next run: "
                             f"{stats.errors[:5]}", metadata=summary)
        return dg.MaterializeResult(metadata={**summary, "dagster/row_count": written})

    return [plan, push]


def pos_rows_of(con, pos: str, skus: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """This run's POS catalog and price rows of these SKUs: what the target knows without asking the POS."""
    def rows(table: str) -> pd.DataFrame:
        if not skus or not warehouse.table_exists(con, pos, table):
            return pd.DataFrame()
        return con.execute(f"SELECT t.* FROM {pos}.{table} AS t JOIN _planned_skus USING (sku)").df()

    con.register("_planned_skus", pd.DataFrame({"sku": pd.Series(skus, dtype=object)}))
    try:
        return rows("catalog"), rows("prices")
    finally:
        con.unregister("_planned_skus")


def settle_unplanned(ops, flow: str, planned: set[str]) -> None:
    """A key an interrupted run left `retrying` whose record is no longer planned: the target already
    holds the wanted state (the write landed), so it will never be sent; the ledger says so."""
    for entry in ops.in_flight(flow):
        if entry["record_ref"] not in planned:
            ops.mark_failed(entry["idempotency_key"], "superseded", "nothing left to write: the target agrees")


def _with_countries(locations: list[CatalogLocation], config) -> list[CatalogLocation]:
    """The configured country of a store (its tax country) over what the POS outlet says."""
    country = {loc.key: loc.country for loc in config.locations if loc.country}
    return [replace(loc, country=country.get(loc.key, loc.country)) for loc in locations]


def _plan_table(rows: pd.DataFrame) -> pd.DataFrame:
    """DuckDB keeps `changes` as text (a comma list): an empty plan has no list type to infer."""
    table = rows.copy()
    table["changes"] = [",".join(c) for c in table["changes"]] if len(table) else pd.Series(dtype=str)
    return table.astype({c: str for c in table.columns if c != "pos_system_id"}) if not len(table) else table


def _from_table(table: pd.DataFrame) -> pd.DataFrame:
    rows = table.copy()
    if len(rows):
        rows["changes"] = [c.split(",") if c else [] for c in rows["changes"]]
    return rows


def _outcomes(rows: pd.DataFrame, statuses: dict[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame({"idempotency_key": pd.Series(dtype=str), "sku": pd.Series(dtype=str),
                          "action": pd.Series(dtype=str), "status": pd.Series(dtype=str)})
    if len(rows):
        frame = rows[["idempotency_key", "sku", "action"]].copy()
        frame["status"] = [statuses.get(k, "not_sent") for k in frame["idempotency_key"]]
    return frame


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[a for pos in configured_pos() for a in build_catalog_flow(pos)])
