"""Negative-stock discrepancies (flow 6): what the configured policy did with late (offline) stock
decreases that would have taken commercetools below zero, read from the ledger and rejected table."""

import json

import dagster as dg
import pandas as pd

from omnisync_pipelines.defs.resources import OmnisyncResource
from omnisync_pipelines.defs.specs import configured_pos
from omnisync_pipelines.engine.stock_plan import stock_flow
from omnisync_pipelines.store import warehouse

COLUMNS = ["idempotency_key", "sku", "location_key", "policy", "outcome", "discrepancy_units", "quantity_before",
           "delta", "status", "updated_at"]


def discrepancies(ledger: pd.DataFrame, rejected: pd.DataFrame, flows: list[str]) -> pd.DataFrame:
    rows = []
    for r in ledger[ledger["flow"].isin(flows)].itertuples() if len(ledger) else []:
        result = json.loads(r.result or "{}")
        if not result.get("discrepancy_units"):
            continue
        payload = json.loads(r.payload or "{}")
        policy = result.get("negative_policy")
        rows.append({"idempotency_key": r.idempotency_key, "sku": payload.get("sku"), "location_key": payload.get("location_key"),
                     "policy": policy, "outcome": "clamped" if policy == "clamp_to_zero_and_report" else "went_negative",
                     "discrepancy_units": int(result["discrepancy_units"]), "quantity_before": result.get("quantity_before"),
                     "delta": payload.get("delta"), "status": "applied", "updated_at": r.updated_at})
    held = rejected[rejected["flow"].isin(flows) & rejected["status"].isin(["held", "released"])] if len(rejected) else rejected
    for r in held.itertuples() if len(held) else []:
        payload = json.loads(r.payload or "{}")
        rows.append({"idempotency_key": r.idempotency_key, "sku": payload.get("sku"), "location_key": payload.get("location_key"),
                     "policy": "hold_for_review", "outcome": r.status, "discrepancy_units": -int(payload.get("delta") or 0),
                     "quantity_before": None, "delta": payload.get("delta"), "status": r.status, "updated_at": r.updated_at})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.astype({"discrepancy_units": "int64", "quantity_before": "Int64", "delta": "Int64"})


def build_stock_discrepancies(pos_systems: tuple[str, ...]) -> dg.AssetsDefinition:
    @dg.asset(
        key=["reconciliation", "stock_discrepancies"],
        deps=[dg.AssetKey(["push", stock_flow(pos)]) for pos in pos_systems],
        group_name="reconciliation", kinds={"duckdb"}, pool="duckdb",
        description="Stock decreases that would have taken commercetools below zero (typically a store's offline sales "
        "arriving late) and what stock.negative_stock_policy did: went_negative (allow_negative_and_report, units below "
        "zero), clamped (clamp_to_zero_and_report, units not applied), held / released (hold_for_review, the movement).",
    )
    def stock_discrepancies(omnisync: OmnisyncResource) -> dg.MaterializeResult:
        ops = omnisync.ops_store()
        frame = discrepancies(ops.table_frame("ledger"), ops.table_frame("rejected"),
                              [stock_flow(pos) for pos in pos_systems])
        with omnisync.warehouse() as con:
            warehouse.replace_table(con, "reconciliation", "stock_discrepancies", frame)
        return dg.MaterializeResult(metadata={"rows": len(frame), "dagster/row_count": len(frame), "held": int((frame["status"] == "held").sum())})

    return stock_discrepancies


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[build_stock_discrepancies(configured_pos())])
