"""Reconciliation of orders, returns and customers: both systems read fresh (after the pushes, in a
sync run), plus the orders drift history.

A POS sale or return the fresh read sees but the POS snapshot does not is one no sync has read yet:
in flight (the next sync pushes it), so missing in commercetools is `explained`, not drift. The
snapshot is the sync's memory of what it has read; the reconciliation never writes it or a cursor."""

import asyncio
from datetime import UTC, datetime

import dagster as dg

from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.connectors.registry import open_connector
from omnisync_pipelines.defs.customer_flow import sync_options
from omnisync_pipelines.defs.reconciliation import append_history
from omnisync_pipelines.defs.resources import (
    CommercetoolsCredentials,
    LightspeedXCredentials,
    OmnisyncResource,
)
from omnisync_pipelines.defs.specs import POS_SYSTEMS_WITH_CONNECTORS
from omnisync_pipelines.engine import drift
from omnisync_pipelines.engine.orders import orders_flow
from omnisync_pipelines.engine.reconcile_customers import reconcile_customers
from omnisync_pipelines.engine.reconcile_orders import reconcile_orders
from omnisync_pipelines.engine.reconcile_returns import reconcile_returns, return_items_from_orders
from omnisync_pipelines.engine.returns import returns_flow
from omnisync_pipelines.store import warehouse
from omnisync_pipelines.store.crosswalk import Crosswalk
from omnisync_pipelines.store.ops import CallLogBuffer

PUSHES = [dg.AssetKey(["push", flow(pos)]) for pos in POS_SYSTEMS_WITH_CONNECTORS for flow in (orders_flow, returns_flow)]
SPEC = dict(group_name="reconciliation", kinds={"duckdb"})


@dg.multi_asset(
    name="reconciliation_sales",
    specs=[
        dg.AssetSpec(["reconciliation", "orders"], deps=PUSHES, **SPEC,
                     description="POS sales without a commercetools order and store orders without a POS sale, "
                     "amount, tax and payment differences in minor units; status match / missing_in_commercetools / "
                     "missing_in_pos / amount_mismatch / explained (in flight)."),
        dg.AssetSpec(["reconciliation", "returns"], deps=PUSHES, **SPEC,
                     description="POS returns not recorded on the original order, restocks not reflected, refunds "
                     "missing or of another amount; every problem listed per return."),
        dg.AssetSpec(["reconciliation", "customers"], deps=PUSHES, **SPEC,
                     description="Unmatched customers per side, duplicate suspects, and field disagreements with the "
                     "field's owner and which side is wrong by ownership."),
        dg.AssetSpec(["drift", "orders_history"], deps=[dg.AssetKey(["reconciliation", "orders"])], **SPEC,
                     description="Every order discrepancy of every reconciliation run."),
    ],
    pool="duckdb",
)
def reconciliation_sales(
    context: dg.AssetExecutionContext, omnisync: OmnisyncResource, commercetools: CommercetoolsCredentials,
    lightspeed_x: LightspeedXCredentials,
):
    config, ops = omnisync.load_config(), omnisync.ops_store()
    pos = config.pos
    call_log = CallLogBuffer(ops)
    secrets = {"commercetools": commercetools.secrets(), "lightspeed_x": lightspeed_x.secrets()}
    checked_at = datetime.now(UTC)

    async def read_both_systems():
        async with open_connector("commercetools", config, secrets["commercetools"], call_log=call_log) as ct, \
                open_connector(pos, config, secrets[pos], call_log=call_log) as pos_connector:
            async def read_commercetools():
                orders, customers = await ct.read("orders"), await ct.read("customers")
                return orders, customers, [order async for order in ct.client.iter_orders()]

            async def read_pos():
                reads = [await pos_connector.read(entity) for entity in ("orders", "returns", "customers")]
                return {table: rows for read in reads for table, rows in read.tables.items()}

            return await asyncio.gather(read_commercetools(), read_pos())

    try:
        (ct_orders, ct_customers, raw_orders), pos_read = asyncio.run(read_both_systems())
    finally:
        call_log.flush()
    pos_tables = {t: schemas.frame_from_records(t, pos_read.get(t, []))
                  for t in ("orders", "order_payments", "returns", "return_lines", "customers")}
    with omnisync.warehouse() as con:
        synced_sales = _ids(warehouse.read_table(con, pos, "orders"), "order_id")
        synced_returns = _ids(warehouse.read_table(con, pos, "returns"), "return_id")
    in_flight_orders = {e["record_ref"] for e in ops.in_flight(orders_flow(pos))}
    in_flight_orders |= _ids(pos_tables["orders"], "order_id") - synced_sales
    in_flight_returns = {e["record_ref"] for e in ops.in_flight(returns_flow(pos))}
    in_flight_returns |= _ids(pos_tables["returns"], "return_id") - synced_returns
    ct_payments = schemas.frame_from_records("order_payments", ct_orders.tables.get("order_payments", []))

    orders = reconcile_orders(
        pos_tables["orders"], schemas.frame_from_records("orders", ct_orders.tables.get("orders", [])), pos_system=pos,
        pos_payments=pos_tables["order_payments"], ct_payments=ct_payments if len(ct_payments) else None,
        in_flight=in_flight_orders, checked_at=checked_at,
    )
    returns = reconcile_returns(
        pos_tables["returns"], pos_tables["return_lines"], return_items_from_orders(raw_orders), ct_payments,
        pos_system=pos, in_flight=in_flight_returns, checked_at=checked_at,
    )
    customers = reconcile_customers(
        pos_tables["customers"], schemas.frame_from_records("customers", ct_customers.tables.get("customers", [])),
        pos_system=pos, links=Crosswalk(ops).mapping("customer"), options=sync_options(config), checked_at=checked_at,
    )
    history = drift.history_rows(orders, context.run_id, checked_at)
    with omnisync.warehouse() as con:
        warehouse.replace_table(con, "reconciliation", "orders", orders)
        warehouse.replace_table(con, "reconciliation", "returns", returns)
        warehouse.replace_table(con, "reconciliation", "customers", customers)
        append_history(con, "orders_history", history)
    yield dg.MaterializeResult(asset_key=["reconciliation", "orders"], metadata=_counts(orders, "status"))
    yield dg.MaterializeResult(asset_key=["reconciliation", "returns"], metadata=_counts(returns, "status"))
    yield dg.MaterializeResult(asset_key=["reconciliation", "customers"], metadata=_counts(customers, "issue"))
    yield dg.MaterializeResult(asset_key=["drift", "orders_history"], metadata={"rows_added": len(history)})


def _ids(frame, column: str) -> set[str]:
    return set(frame[column]) if len(frame) else set()


def _counts(frame, column: str) -> dict:
    return {"rows": len(frame), **{str(k): int(v) for k, v in frame[column].value_counts().items()}}


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[reconciliation_sales])
