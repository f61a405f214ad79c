"""The stock flow: POS counts -> plan -> relative pushes to commercetools inventory per supply channel."""


import asyncio

import dagster as dg
import pandas as pd

from omnisync_pipelines.connectors.registry import open_connector
from omnisync_pipelines.defs.resources import CommercetoolsCredentials, OmnisyncResource
from omnisync_pipelines.defs.specs import POS_SYSTEMS_WITH_CONNECTORS
from omnisync_pipelines.defs.targets import only_targeted_stock
from omnisync_pipelines.engine.fulfilment_status import status_flow
from omnisync_pipelines.engine.options import SyncOptions
from omnisync_pipelines.engine.stock_plan import plan_stock, stock_flow
from omnisync_pipelines.engine.stock_push import push_stock
from omnisync_pipelines.store import warehouse
from omnisync_pipelines.store.ops import CallLogBuffer


def build_stock_flow(pos: str) -> list[dg.AssetsDefinition]:
    flow = stock_flow(pos)

    @dg.asset(
        key=["plan", flow],
        # after the fulfilment pushes: their POS sales (and voids) move counts this plan must carry (flow 5)
        deps=[dg.AssetKey([pos, "stock"]), dg.AssetKey(["commercetools", "catalog"]),
              dg.AssetKey(["push", status_flow(pos)])],
        group_name="stock",
        kinds={"duckdb"},
        pool="duckdb",
        description=f"Stock changes {pos} -> commercetools: one row per (SKU, location) whose POS count moved "
        "since it was last applied, with its idempotency key. SKUs unknown to commercetools are rejected.",
    )
    def plan(context: dg.AssetExecutionContext, omnisync: OmnisyncResource) -> dg.MaterializeResult:
        ops = omnisync.ops_store()
        with omnisync.warehouse() as con:
            rows, rejections = plan_stock(con, pos, ops.baselines_frame(pos))
            rows = only_targeted_stock(context, con, pos, rows)
            warehouse.replace_table(con, "plan", flow, rows)
        ops.add_rejections(flow, rejections)
        return dg.MaterializeResult(
            metadata={
                "planned": len(rows),
                "initial": int((rows["kind"] == "initial").sum()),
                "units_moved": int(rows["expected_delta"].abs().sum()) if len(rows) else 0,
                "rejected": len(rejections),
                "preview": dg.MetadataValue.md(rows.head(10).to_markdown(index=False)) if len(rows) else "",
            }
        )

    @dg.asset(
        key=["push", flow],
        deps=[plan],
        group_name="stock",
        kinds={"commercetools", "duckdb"},
        pool="duckdb",
        description=f"Applies plan/{flow} to commercetools inventory as relative changes, each exactly once "
        "(ledger + movement stamp on the entry). The table lists this run's outcome per idempotency key.",
    )
    def push(context: dg.AssetExecutionContext, omnisync: OmnisyncResource, commercetools: CommercetoolsCredentials) -> dg.MaterializeResult:
        config = omnisync.load_config()
        ops = omnisync.ops_store()
        with omnisync.warehouse() as con:
            plan_rows = warehouse.read_table(con, "plan", flow)
        call_log = CallLogBuffer(ops)

        async def main():
            async with open_connector("commercetools", config, commercetools.secrets(), call_log=call_log) as ct:
                return await push_stock(
                    plan_rows, ct, ops, pos_system=pos,
                    options=SyncOptions(negative_stock_policy=config.stock.negative_stock_policy),
                )

        try:
            stats = asyncio.run(main()) if len(plan_rows) or ops.in_flight(flow) else None
        finally:
            call_log.flush()
        outcomes = _outcomes(plan_rows, ops.ledger_statuses(plan_rows["idempotency_key"]) if len(plan_rows) else {})
        with omnisync.warehouse() as con:
            warehouse.replace_table(con, "push", flow, outcomes)
        summary = stats.as_dict() if stats else {"processed": 0}
        context.log.info(stats.summary() if stats else f"{flow}: nothing to push")
        if stats and stats.failed:
            raise dg.Failure(
                f"{stats.failed} stock writes failed transiently and stay queued for the next run: {stats.errors[:5]}",
                metadata=summary,
            )
        return dg.MaterializeResult(metadata=summary)

    return [plan, push]


def _outcomes(plan_rows: pd.DataFrame, statuses: dict[str, str]) -> pd.DataFrame:
    if not len(plan_rows):
        return pd.DataFrame({"idempotency_key": pd.Series(dtype=str), "sku": pd.Series(dtype=str),
                             "location_key": pd.Series(dtype=str), "expected_delta": pd.Series(dtype="int64"),
                             "status": pd.Series(dtype=str)})
    frame = plan_rows[["idempotency_key", "sku", "location_key", "expected_delta"]].copy()
    frame["status"] = [statuses.get(k, "not_sent") for k in frame["idempotency_key"]]
    return frame


stock_flow_assets = [a for pos in POS_SYSTEMS_WITH_CONNECTORS for a in build_stock_flow(pos)]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=stock_flow_assets)
