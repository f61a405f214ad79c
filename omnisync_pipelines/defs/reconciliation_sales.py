"""Reconciliation of orders, returns and customers: both systems read fresh (after the pushes, in a
sync run), plus the orders drift history.

A POS sale or return the fresh read sees but the POS snapshot does not is one no sync has read yet:
in flight (the next sync pushes it), so missing in commercetools is `explained`, not drift. The
snapshot is the sync's memory of what it has read; the reconciliation never writes it or a cursor.
A sale that is rejected (the fresh read cannot map it, or an open rejection of the orders push or of
a snapshot that has not mapped it since) is `rejected` in `reconciliation.orders`, with its reason."""

import asyncio
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.defs.customer_flow import sync_options
from omnisync_pipelines.defs.reconciliation import append_history
from omnisync_pipelines.defs.resources import OmnisyncResource, estate_secrets, resource_keys
from omnisync_pipelines.defs.runtime import open_estate
from omnisync_pipelines.defs.snapshots import snapshot_flow
from omnisync_pipelines.defs.specs import COMMERCETOOLS, configured_pos
from omnisync_pipelines.engine import drift
from omnisync_pipelines.engine.customers import customers_flow
from omnisync_pipelines.engine.orders import orders_flow
from omnisync_pipelines.engine.reconcile_customers import reconcile_customers
from omnisync_pipelines.engine.reconcile_orders import reconcile_orders
from omnisync_pipelines.engine.reconcile_returns import reconcile_returns, return_items_from_orders
from omnisync_pipelines.engine.returns import returns_flow
from omnisync_pipelines.store import warehouse
from omnisync_pipelines.store.crosswalk import Crosswalk
from omnisync_pipelines.store.ops import CallLogBuffer

SPEC = dict(group_name="reconciliation", kinds={"duckdb"})


def build_reconciliation_sales(pos_systems: tuple[str, ...]) -> dg.AssetsDefinition:
    pushes = [dg.AssetKey(["push", flow(pos)]) for pos in pos_systems for flow in (orders_flow, returns_flow)]

    @dg.multi_asset(
        name="reconciliation_sales",
        specs=[
            dg.AssetSpec(["reconciliation", "orders"], deps=pushes, **SPEC,
                         description="POS sales without a commercetools order and store orders without a POS sale, "
                         "amount, tax and payment differences in minor units; status match / missing_in_commercetools "
                         "/ missing_in_pos / amount_mismatch / explained (in flight). Every store, whatever its POS."),
            dg.AssetSpec(["reconciliation", "returns"], deps=pushes, **SPEC,
                         description="POS returns not recorded on the original order, restocks not reflected, refunds "
                         "missing or of another amount; every problem listed per return."),
            dg.AssetSpec(["reconciliation", "customers"], deps=pushes, **SPEC,
                         description="Unmatched customers per side, duplicate suspects, and field disagreements with "
                         "the field's owner and which side is wrong by ownership (one row set per POS)."),
            dg.AssetSpec(["drift", "orders_history"], deps=[dg.AssetKey(["reconciliation", "orders"])], **SPEC,
                         description="Every order discrepancy of every reconciliation run."),
        ],
        pool="duckdb",
        required_resource_keys=resource_keys(*pos_systems),
    )
    def reconciliation_sales(context: dg.AssetExecutionContext):
        yield from _reconcile_sales(context, context.resources.omnisync)

    return reconciliation_sales


def _reconcile_sales(context: dg.AssetExecutionContext, omnisync: OmnisyncResource):
    config, ops = omnisync.load_config(), omnisync.ops_store()
    systems = config.pos_systems
    call_log = CallLogBuffer(ops)
    secrets = estate_secrets(context, config)
    checked_at = datetime.now(UTC)

    async def read_all_systems():
        async with open_estate(config, secrets, call_log=call_log) as (ct, pos_connectors):

            async def read_commercetools():
                orders, customers = await ct.read("orders"), await ct.read("customers")
                return orders, customers, [order async for order in ct.client.iter_orders()]

            async def read_pos(connector):
                reads = [await connector.read(entity) for entity in ("orders", "returns", "customers")]
                return ({table: rows for read in reads for table, rows in read.tables.items()},
                        [r for r in reads[0].rejected if r.entity == "orders"])

            return await asyncio.gather(read_commercetools(), *(read_pos(c) for c in pos_connectors))

    try:
        (ct_orders, ct_customers, raw_orders), *pos_reads = asyncio.run(read_all_systems())
    finally:
        call_log.flush()
    ct_order_frame = schemas.frame_from_records("orders", ct_orders.tables.get("orders", []))
    ct_payments = schemas.frame_from_records("order_payments", ct_orders.tables.get("order_payments", []))
    ct_customer_frame = schemas.frame_from_records("customers", ct_customers.tables.get("customers", []))
    ct_return_items = return_items_from_orders(raw_orders)
    per_pos = []
    open_rejections = ops.rejected_frame("open")
    for pos, (pos_read, unmapped) in zip(systems, pos_reads, strict=True):
        pos_tables = {t: schemas.frame_from_records(t, pos_read.get(t, []))
                      for t in ("orders", "order_payments", "returns", "return_lines", "customers")}
        with omnisync.warehouse() as con:
            synced_sales = _ids(warehouse.read_table(con, pos, "orders"), "order_id")
            synced_returns = _ids(warehouse.read_table(con, pos, "returns"), "return_id")
        in_flight_orders = {e["record_ref"] for e in ops.in_flight(orders_flow(pos))}
        in_flight_orders |= _ids(pos_tables["orders"], "order_id") - synced_sales
        in_flight_returns = {e["record_ref"] for e in ops.in_flight(returns_flow(pos))}
        in_flight_returns |= _ids(pos_tables["returns"], "return_id") - synced_returns
        in_flight_customers = ({(pos, e["record_ref"]) for e in ops.in_flight(customers_flow(pos, COMMERCETOOLS))}
                               | {(COMMERCETOOLS, e["record_ref"]) for e in ops.in_flight(customers_flow(COMMERCETOOLS, pos))})
        per_pos.append((pos, reconcile_orders(
            pos_tables["orders"], ct_order_frame, pos_system=pos,
            pos_payments=pos_tables["order_payments"], ct_payments=ct_payments if len(ct_payments) else None,
            in_flight=in_flight_orders, checked_at=checked_at,
            rejected=rejected_sales(open_rejections, pos, unmapped, _ids(pos_tables["orders"], "order_id")),
        ), reconcile_returns(
            pos_tables["returns"], pos_tables["return_lines"], ct_return_items, ct_payments,
            pos_system=pos, in_flight=in_flight_returns, checked_at=checked_at,
        ), reconcile_customers(
            pos_tables["customers"], ct_customer_frame, pos_system=pos, links=Crosswalk(ops).mapping("customer"),
            options=sync_options(config), in_flight=in_flight_customers, checked_at=checked_at,
        )))
    orders = estate_orders(config, [(pos, frame) for pos, frame, _, _ in per_pos])
    returns = _concat([r for _, _, r, _ in per_pos])
    customers = _concat([c for _, _, _, c in per_pos])
    history = drift.history_rows(orders, context.run_id, checked_at)
    with omnisync.warehouse() as con:
        warehouse.replace_table(con, "reconciliation", "orders", orders)
        warehouse.replace_table(con, "reconciliation", "returns", returns)
        warehouse.replace_table(con, "reconciliation", "customers", customers)
        append_history(con, "orders_history", history)
        history_held = con.execute("SELECT count(*) FROM drift.orders_history").fetchone()[0]
    yield dg.MaterializeResult(asset_key=["reconciliation", "orders"], metadata=_counts(orders, "status"))
    yield dg.MaterializeResult(asset_key=["reconciliation", "returns"], metadata=_counts(returns, "status"))
    yield dg.MaterializeResult(asset_key=["reconciliation", "customers"], metadata=_counts(customers, "status"))
    yield dg.MaterializeResult(asset_key=["drift", "orders_history"], metadata={"rows_added": len(history),
                                                                               "dagster/row_count": int(history_held)})


def rejected_sales(open_rejections: pd.DataFrame, pos: str, unmapped: list, mapped: set[str]) -> pd.DataFrame:
    """(record_ref, reason) of `pos`'s sales that are rejected now: those the fresh read could not
    map, the open rejections of the orders push, and those of a snapshot for a sale the fresh read
    does not map either (a snapshot rejection stays open after the sale was fixed at the POS)."""
    fresh = pd.DataFrame([{"record_ref": r.record_ref, "reason": _naming_field(r.field, r.reason)} for r in unmapped],
                         columns=["record_ref", "reason"])
    rows = open_rejections[(open_rejections["system"] == pos) & (open_rejections["entity"] == "orders")]
    pushed = rows["flow"] == orders_flow(pos)
    read = (rows["flow"] == snapshot_flow(pos, "orders")) & ~rows["record_ref"].isin(mapped)
    stored = [{"record_ref": r.record_ref, "reason": _naming_field(r.field, r.reason)}
              for r in rows[pushed | read].itertuples()]
    return pd.concat([fresh, pd.DataFrame(stored, columns=fresh.columns)], ignore_index=True)


def _naming_field(field: str, reason: str) -> str:
    return reason if reason.startswith(field) else f"{field}: {reason}"


def estate_orders(config, frames: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """Each POS's order rows, read against every commercetools store order: a store order is
    `missing_in_pos` once, in the rows of the POS its store trades on now (an order naming no
    configured store: the first POS's), and not at all when another POS's sale pairs it (a store
    that moved keeps its old sales on the old POS)."""
    if len(frames) == 1:
        return frames[0][1]
    paired = {i for _, f in frames for i in f.loc[f["pos_order_id"].notna(), "commercetools_order_id"]}
    every = {loc.key for loc in config.locations}
    kept = []
    for pos, frame in frames:
        own = set(config.location_keys_of(pos))
        missing = frame["status"] == "missing_in_pos"
        at_own = frame["location_key"].isin(own) | (~frame["location_key"].isin(every) & (pos == frames[0][0]))
        kept.append(frame[~missing | (at_own & ~frame["commercetools_order_id"].isin(paired))])
    return pd.concat(kept, ignore_index=True)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _ids(frame, column: str) -> set[str]:
    return set(frame[column]) if len(frame) else set()


def _counts(frame, column: str) -> dict:
    return {"rows": len(frame), "dagster/row_count": len(frame), **{str(k): int(v) for k, v in frame[column].value_counts().items()}}


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[build_reconciliation_sales(configured_pos())])
