"""Stock reconciliation: fresh absolute counts from both systems, compared per SKU x location,
measured against the configured thresholds, appended to the drift history, and (where a location
is set to `correct_to_pos`) corrected through the same idempotent stock push; where a location is set to
`send_to_pos`, what changed in commercetools alone is added to the POS count (`engine/stock_out.py`)."""

import asyncio
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from omnisync_pipelines import systems as registry
from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.defs.resources import OmnisyncResource, estate_secrets, resource_keys
from omnisync_pipelines.defs.runtime import open_estate
from omnisync_pipelines.defs.specs import configured_pos
from omnisync_pipelines.engine import drift
from omnisync_pipelines.engine.reconcile_stock import reconcile_stock
from omnisync_pipelines.engine.stock_out import plan_stock_out, push_stock_out
from omnisync_pipelines.engine.stock_plan import stock_flow, stock_out_flow
from omnisync_pipelines.engine.stock_push import push_stock
from omnisync_pipelines.store import warehouse
from omnisync_pipelines.store.ops import CallLogBuffer

SHARE_CHECK = "drift_share_within_limit"


def thresholds_of(config) -> drift.DriftThresholds:
    r = config.reconciliation
    return drift.DriftThresholds(r.drift_units_threshold, r.velocity_days, r.value_minor, r.max_share_of_estate)


def append_history(con, table: str, rows) -> None:
    if not len(rows):
        if not warehouse.table_exists(con, "drift", table):
            warehouse.replace_table(con, "drift", table, rows)
        return
    if warehouse.table_exists(con, "drift", table):
        con.register("_history", rows)
        try:  # a history written before a column was added to its rows (e.g. orders' `reason`) gets it
            warehouse.add_missing_columns(con, "drift", table, "_history")
            con.execute(f"INSERT INTO drift.{table} BY NAME SELECT * FROM _history")
        finally:
            con.unregister("_history")
    else:
        warehouse.replace_table(con, "drift", table, rows)


def own_locations(frame: pd.DataFrame, config, pos: str) -> pd.DataFrame:
    """The rows of `frame` at the stores trading on `pos` (all of them when `pos` holds every store)."""
    keys = config.location_keys_of(pos)
    if len(keys) == len(config.locations) or not len(frame):
        return frame
    return frame[frame["location_key"].isin(keys)]


def build_reconciliation_stock(pos_systems: tuple[str, ...]) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name="reconciliation_stock",
        specs=[
            dg.AssetSpec(
                ["reconciliation", "stock"],
                deps=[dg.AssetKey(["push", stock_flow(pos)]) for pos in pos_systems]
                + [dg.AssetKey(["commercetools", "prices"])] + [dg.AssetKey([pos, "locations"]) for pos in pos_systems],
                group_name="reconciliation", kinds={"duckdb"},
                description="Per SKU x location (every store, whatever its POS): commercetools on hand vs POS on hand, "
                "read fresh after the push; difference (commercetools minus POS), in-flight units, status match / "
                "explained (a POS change still in flight) / drift, sales velocity, unit price and value in the store's "
                "currency (with that currency), and whether it is above the configured threshold.",
            ),
            dg.AssetSpec(
                ["drift", "stock_history"], deps=[dg.AssetKey(["reconciliation", "stock"])],
                group_name="reconciliation", kinds={"duckdb"},
                description="Every stock discrepancy of every reconciliation run (run_id, checked_at): which stores drift "
                "most, since when a SKU has been off, how much drift per day. Beside it drift.stock_runs: one row per "
                "reconciliation run (clean ones too) with its status counts.",
            ),
        ],
        check_specs=[dg.AssetCheckSpec(SHARE_CHECK, asset=["reconciliation", "stock"],
                                       description="Fails when the share of SKU x location rows drifting above threshold "
                                       "exceeds reconciliation.max_share_of_estate.")],
        pool="duckdb",
        required_resource_keys=resource_keys(*pos_systems),
    )
    def reconciliation_stock(context: dg.AssetExecutionContext):
        yield from _reconcile_stock(context, context.resources.omnisync)

    return reconciliation_stock


def _reconcile_stock(context: dg.AssetExecutionContext, omnisync: OmnisyncResource):
    config, ops = omnisync.load_config(), omnisync.ops_store()
    call_log = CallLogBuffer(ops)
    systems = config.pos_systems
    secrets = estate_secrets(context, config)
    thresholds = thresholds_of(config)
    checked_at = datetime.now(UTC)

    async def reconcile_and_correct():
        async with open_estate(config, secrets, call_log=call_log) as (ct, pos_connectors):
            ct_read, *pos_reads = await asyncio.gather(ct.read("stock"), *(c.read("stock") for c in pos_connectors))
            ct_frame = schemas.frame_from_records("stock", ct_read.tables.get("stock", []))
            with omnisync.warehouse() as con:
                prices = warehouse.read_table(con, "commercetools", "prices")
                movements = {p: warehouse.read_table(con, p, "stock_movements") for p in systems}
                countries = {loc.key: loc.country for loc in config.locations}
                stores = {p: drift.store_currencies(warehouse.read_table(con, p, "locations"), countries) for p in systems}
            frames, fixes, applied, sent = [], [], 0, {"sent_to_pos": 0, "units_sent_to_pos": 0, "left_open": 0}
            for pos, pos_read, connector in zip(systems, pos_reads, pos_connectors, strict=True):
                frame = reconcile_stock(
                    own_locations(ct_frame, config, pos),
                    schemas.frame_from_records("stock", pos_read.tables.get("stock", [])),
                    ops.baselines_frame(pos), pos_system=pos, checked_at=checked_at,
                )
                velocity = drift.sales_velocity(movements[pos], as_of=checked_at) if len(movements[pos]) else movements[pos]
                frame = drift.apply_thresholds(frame, velocity if len(velocity) else _no_velocity(),
                                               prices if len(prices) else _no_prices(), thresholds, stores[pos])
                pos_fixes = drift.corrections(frame, config.reconciliation.correction, run_id=context.run_id)
                stats = await push_stock(pos_fixes, ct, ops, pos_system=pos) if len(pos_fixes) else None
                applied += stats.applied if stats else 0
                out_plan = plan_stock_out(frame, config.reconciliation.correction, run_id=context.run_id)
                plugin = registry.pos_plugin(pos)
                if plugin.writes_stock() and (len(out_plan) or ops.in_flight(stock_out_flow(pos))):
                    writer = plugin.stock_writer(connector)
                    out, units = await push_stock_out(out_plan, writer, ct, ops, pos_system=pos)
                    context.log.info(out.summary())
                    sent["sent_to_pos"] += out.applied + out.recovered
                    sent["left_open"] += out.failed + out.deferred
                    sent["units_sent_to_pos"] += units
                frames.append(frame)
                fixes.append(pos_fixes)
            return (pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0],
                    pd.concat(fixes, ignore_index=True) if len(fixes) > 1 else fixes[0], applied, sent)

    try:
        frame, fixes, corrections_applied, sent = asyncio.run(reconcile_and_correct())
    finally:
        call_log.flush()
    history = drift.history_rows(frame, context.run_id, checked_at)
    with omnisync.warehouse() as con:
        warehouse.replace_table(con, "reconciliation", "stock", frame)
        append_history(con, "stock_history", history)
        append_history(con, "stock_runs", drift.run_row(frame, context.run_id, checked_at))
        full_history = warehouse.read_table(con, "drift", "stock_history")
        runs = warehouse.read_table(con, "drift", "stock_runs")
        for view, sql in drift.ANALYST_VIEWS.items():
            con.execute(f"CREATE OR REPLACE VIEW drift.{view} AS {sql}")
    counts = frame["status"].value_counts().to_dict()
    passed, share = drift.share_check(frame, thresholds)
    yield dg.MaterializeResult(
        asset_key=["reconciliation", "stock"],
        metadata={
            "rows": len(frame), "dagster/row_count": len(frame), "match": int(counts.get("match", 0)), "explained": int(counts.get("explained", 0)),
            "drift": int(counts.get("drift", 0)), "above_threshold": int(frame["above_threshold"].sum()),
            "corrections_applied": corrections_applied, **sent,
            "worst_drift": dg.MetadataValue.md(drift.top_n(frame, config.reconciliation.top_n)),
        },
    )
    yield dg.MaterializeResult(
        asset_key=["drift", "stock_history"],
        metadata={"rows_added": len(history), "dagster/row_count": len(full_history), "drift_over_time": dg.MetadataValue.md(drift.drift_chart(full_history, runs=runs))},
    )
    yield dg.AssetCheckResult(
        asset_key=["reconciliation", "stock"], check_name=SHARE_CHECK, passed=passed, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"share_above_threshold": round(share, 4), "max_share_of_estate": thresholds.max_share_of_estate,
                  "corrections_planned": len(fixes)},
    )


def _no_velocity():
    return pd.DataFrame({"sku": pd.Series(dtype=str), "location_key": pd.Series(dtype=str), "daily_units": pd.Series(dtype=float)})


def _no_prices():
    return schemas.frame_from_records("prices", [])


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[build_reconciliation_stock(configured_pos())])
