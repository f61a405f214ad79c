"""Reconciliation: fresh absolute counts from both systems, compared per SKU x location."""


import asyncio

import dagster as dg

from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.connectors.registry import open_connector
from omnisync_pipelines.defs.resources import (
    CommercetoolsCredentials,
    LightspeedXCredentials,
    OmnisyncResource,
)
from omnisync_pipelines.defs.specs import POS_SYSTEMS_WITH_CONNECTORS
from omnisync_pipelines.engine.reconcile_stock import reconcile_stock
from omnisync_pipelines.engine.stock_plan import stock_flow
from omnisync_pipelines.store import warehouse
from omnisync_pipelines.store.ops import CallLogBuffer

NO_DRIFT_CHECK = "no_drift_above_threshold"


@dg.multi_asset(
    name="reconciliation_stock",
    specs=[
        dg.AssetSpec(
            ["reconciliation", "stock"],
            deps=[dg.AssetKey(["push", stock_flow(pos)]) for pos in POS_SYSTEMS_WITH_CONNECTORS],
            group_name="reconciliation",
            kinds={"duckdb"},
            description="Per SKU x location: commercetools on hand vs POS on hand, read fresh after the push; "
            "difference (commercetools minus POS), in-flight units, status match / explained (a POS change "
            "still in flight) / drift.",
        ),
        dg.AssetSpec(
            ["drift", "stock_history"],
            deps=[dg.AssetKey(["reconciliation", "stock"])],
            group_name="reconciliation",
            kinds={"duckdb"},
            description="Every drift row of every reconciliation run, with run_id and checked_at: which stores "
            "drift most, since when a SKU has been off, how much drift per day.",
        ),
    ],
    check_specs=[dg.AssetCheckSpec(NO_DRIFT_CHECK, asset=["reconciliation", "stock"])],
    pool="duckdb",
)
def reconciliation_stock(
    context: dg.AssetExecutionContext,
    omnisync: OmnisyncResource,
    commercetools: CommercetoolsCredentials,
    lightspeed_x: LightspeedXCredentials,
):
    config = omnisync.load_config()
    ops = omnisync.ops_store()
    call_log = CallLogBuffer(ops)
    secrets = {"commercetools": commercetools.secrets(), "lightspeed_x": lightspeed_x.secrets()}

    async def read_both():
        async with open_connector("commercetools", config, secrets["commercetools"], call_log=call_log) as ct, \
                open_connector(config.pos, config, secrets[config.pos], call_log=call_log) as pos:
            return await asyncio.gather(ct.read("stock"), pos.read("stock"))

    try:
        ct_read, pos_read = asyncio.run(read_both())
    finally:
        call_log.flush()
    frame = reconcile_stock(
        schemas.frame_from_records("stock", ct_read.tables.get("stock", [])),
        schemas.frame_from_records("stock", pos_read.tables.get("stock", [])),
        ops.baselines_frame(config.pos),
        pos_system=config.pos,
    )
    drift = frame[frame["status"] == "drift"]
    threshold = config.reconciliation.drift_units_threshold
    above = drift[drift["difference"].abs() > threshold]
    with omnisync.warehouse() as con:
        warehouse.replace_table(con, "reconciliation", "stock", frame)
        history = drift.assign(run_id=context.run_id)
        if warehouse.table_exists(con, "drift", "stock_history"):
            con.register("_history", history)
            con.execute("INSERT INTO drift.stock_history BY NAME SELECT * FROM _history")
            con.unregister("_history")
        else:
            warehouse.replace_table(con, "drift", "stock_history", history)
    counts = frame["status"].value_counts().to_dict()
    worst = drift.reindex(drift["difference"].abs().sort_values(ascending=False).index).head(config.reconciliation.top_n)
    yield dg.MaterializeResult(
        asset_key=["reconciliation", "stock"],
        metadata={
            "rows": len(frame),
            "match": int(counts.get("match", 0)),
            "explained": int(counts.get("explained", 0)),
            "drift": int(counts.get("drift", 0)),
            "worst_drift": dg.MetadataValue.md(worst.to_markdown(index=False) if len(worst) else "no drift"),
        }
    )
    yield dg.MaterializeResult(asset_key=["drift", "stock_history"], metadata={"rows_added": len(drift)})
    yield dg.AssetCheckResult(
        asset_key=["reconciliation", "stock"],
        check_name=NO_DRIFT_CHECK,
        passed=len(above) == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"above_threshold": len(above), "threshold_units": threshold},
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[reconciliation_stock])
