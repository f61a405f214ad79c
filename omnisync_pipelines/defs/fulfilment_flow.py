"""Click-and-collect and ship-from-store (flow 5): commercetools orders -> a store's register sale,
then the sale's pickup / dispatch / void status -> commercetools order and shipment states.

Both pushes run before the stock plan: the POS counts they moved are read back and merged into the
`<pos>.stock` snapshot (as a delta read would), so the same run's stock flow carries the decrement
(or the restock of a voided pickup) to commercetools once.
"""

import asyncio
from dataclasses import replace

import dagster as dg
import pandas as pd

from omnisync_pipelines import systems
from omnisync_pipelines.canonical.models import Customer, Order, OrderLine, normalise_email
from omnisync_pipelines.connectors.pos import WAITING_PICKUP
from omnisync_pipelines.connectors.registry import build_fulfilment, open_connector
from omnisync_pipelines.defs.resources import OmnisyncResource, pos_secrets, resource_keys
from omnisync_pipelines.defs.runtime import run_mode
from omnisync_pipelines.defs.specs import configured_pos
from omnisync_pipelines.engine.customers import customers_from_frame
from omnisync_pipelines.engine.fulfilment import fulfilment_flow, plan_fulfilment, push_fulfilment
from omnisync_pipelines.engine.fulfilment_status import assignments, push_fulfilment_status, status_flow
from omnisync_pipelines.engine.orders import rows_as_records
from omnisync_pipelines.store import warehouse
from omnisync_pipelines.store.ops import CallLogBuffer

PUSH_COLUMNS = ["order_id", "order_number", "fulfilment", "requested_location", "location_key", "status", "reason",
                "pos_sale_id", "lines"]
STATUS_COLUMNS = ["order_id", "order_number", "location_key", "pos_sale_id", "fulfilment", "pos_status", "order_state",
                  "shipment_state", "units", "lines", "outcome"]


def _ct_orders(con) -> tuple[list[Order], list[OrderLine]]:
    if not warehouse.table_exists(con, "commercetools", "orders"):
        return [], []
    orders = warehouse.read_table(con, "commercetools", "orders")
    lines = warehouse.read_table(con, "commercetools", "order_lines") if warehouse.table_exists(
        con, "commercetools", "order_lines") else pd.DataFrame()
    return (rows_as_records(orders.to_dict("records"), Order) if len(orders) else [],
            rows_as_records(lines.to_dict("records"), OrderLine) if len(lines) else [])


def _shoppers(con, orders: list[Order], private_fields: list[str]) -> dict[str, Customer]:
    """order id -> the commercetools customer who placed it (by the order's customer id, else its email),
    private fields left out (never copied)."""
    if not orders or not warehouse.table_exists(con, "commercetools", "customers"):
        return {}
    blank = {f: None for f in private_fields if f in Customer.columns()}
    customers = [replace(c, **blank) for c in customers_from_frame(warehouse.read_table(con, "commercetools", "customers"))]
    by_id = {c.customer_id: c for c in customers}
    by_email = {c.email: c for c in customers if c.email}
    found = {o.order_id: by_id.get(o.customer_ref or "") or by_email.get(normalise_email(o.customer_email) or "")
             for o in orders}
    return {order_id: customer for order_id, customer in found.items() if customer is not None}


def orders_of_pos(config, pos: str, orders: list[Order]) -> list[Order]:
    """The online orders `pos` serves: those whose chosen store trades on it; an order naming no
    configured store goes to the first POS (its default fallbacks, else an exception row there)."""
    own, every = set(config.location_keys_of(pos)), {loc.key for loc in config.locations}
    first = config.pos_systems[0]
    return [o for o in orders if o.location_key in own or (o.location_key not in every and pos == first)]


def _secrets(context, pos: str) -> dict:
    return {"commercetools": context.resources.commercetools.secrets(), pos: pos_secrets(context, pos)}


def _with_both(pos: str, config, ops, secrets: dict, work):
    call_log = CallLogBuffer(ops)

    async def main():
        async with open_connector("commercetools", config, secrets["commercetools"], call_log=call_log) as ct, \
                open_connector(pos, config, secrets[pos], call_log=call_log) as pos_connector:
            return await work(ct, build_fulfilment(pos_connector))

    try:
        return asyncio.run(main())
    finally:
        call_log.flush()


def _store_currencies(con, pos: str) -> dict[str, str]:
    if not warehouse.table_exists(con, pos, "locations"):
        return {}
    rows = warehouse.read_table(con, pos, "locations")
    return {r.location_key: r.currency for r in rows.itertuples(index=False)
            if isinstance(r.location_key, str) and isinstance(r.currency, str) and r.currency}


def _merge_fresh_levels(con, pos: str, levels) -> None:
    if levels and warehouse.table_exists(con, pos, "stock"):
        warehouse.upsert_table(con, pos, "stock", pd.DataFrame([lv.to_row() for lv in levels]), ["sku", "location_key"])


def build_fulfilment_flow(pos: str) -> list[dg.AssetsDefinition]:
    flow, back = fulfilment_flow(pos), status_flow(pos)

    @dg.asset(
        key=["plan", flow], deps=[dg.AssetKey(["commercetools", "orders"]), dg.AssetKey(["commercetools", "order_lines"])],
        group_name="fulfilment", kinds={"duckdb"}, pool="duckdb",
        description="Open commercetools orders for click-and-collect or ship-from-store: lines, the store the shopper "
        "chose and its configured fallbacks, and whether the order is already assigned (ledger) or still to assign.",
    )
    def plan(context: dg.AssetExecutionContext, omnisync: OmnisyncResource) -> dg.MaterializeResult:
        config, ops = omnisync.load_config(), omnisync.ops_store()
        own = set(config.location_keys_of(pos))
        with omnisync.warehouse() as con:
            orders, lines = _ct_orders(con)
            rows = plan_fulfilment(orders_of_pos(config, pos, orders), lines, ops, flow,
                                   fallback_stores=config.fulfilment.fallback_stores,
                                   default_fallback=[k for k in config.fulfilment.default_fallback if k in own],
                                   other_flows=[fulfilment_flow(other) for other in systems.pos_ids() if other != pos])
            warehouse.replace_table(con, "plan", flow, rows)
        return dg.MaterializeResult(metadata={"open_orders": len(rows), "dagster/row_count": len(rows),
                                              "to_assign": int((rows["status"] == "to_assign").sum()) if len(rows) else 0})

    @dg.asset(
        key=["push", flow],
        deps=[plan, dg.AssetKey([pos, "stock"]), dg.AssetKey([pos, "catalog"]), dg.AssetKey([pos, "locations"])],
        group_name="fulfilment", kinds={pos, "commercetools", "duckdb"}, pool="duckdb",
        description=f"Assigns each open store-fulfilment order after a live stock check at {pos}: the chosen store, "
        "else its fallbacks in order; the store gets a register sale setting the goods aside (its count drops once). "
        "An order no store can serve (none holds every line, or none takes the order's currency) is an exception "
        "row (ops.rejected), tried again each run.",
        required_resource_keys=resource_keys(pos),
    )
    def push(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        omnisync: OmnisyncResource = context.resources.omnisync
        config, ops = omnisync.load_config(), omnisync.ops_store()
        with omnisync.warehouse() as con:
            rows = warehouse.read_table(con, "plan", flow)
            orders, lines = _ct_orders(con)
            currencies = _store_currencies(con, pos)
            shoppers = _shoppers(con, orders, config.customers.private_fields)
        by_id = {o.order_id: o for o in orders}
        lines_of: dict[str, list[OrderLine]] = {}
        for line in lines:
            lines_of.setdefault(line.order_id, []).append(line)
        todo = rows[rows["status"] == "to_assign"] if len(rows) else rows
        outcome = _with_both(pos, config, ops, _secrets(context, pos), lambda ct, adapter: push_fulfilment(
            todo, by_id, lines_of, adapter, ops, flow=flow, store_currencies=currencies, shoppers=shoppers)) if len(todo) else None
        done = {r["order_id"]: r for r in (outcome.rows if outcome else [])}
        table = pd.DataFrame([{
            "order_id": r.order_id, "order_number": r.order_number, "fulfilment": r.fulfilment,
            "requested_location": r.requested_location,
            "location_key": done.get(r.order_id, {}).get("location_key"),
            "status": done.get(r.order_id, {}).get("status", "assigned" if r.status == "assigned" else "failed"),
            "reason": done.get(r.order_id, {}).get("reason"), "pos_sale_id": done.get(r.order_id, {}).get("pos_sale_id"),
            "lines": r.lines,
        } for r in rows.itertuples(index=False)] if len(rows) else [], columns=PUSH_COLUMNS)
        with omnisync.warehouse() as con:
            _merge_fresh_levels(con, pos, outcome.fresh_levels if outcome else [])
            warehouse.replace_table(con, "push", flow, table)
        stats = outcome.statistics.finish() if outcome else None
        context.log.info(stats.summary() if stats else f"{flow}: no order to assign")
        return dg.MaterializeResult(metadata={
            **(stats.as_dict() if stats else {"processed": 0}),
            "dagster/row_count": len(table),
            "exceptions": int((table["status"] == "exception").sum()) if len(table) else 0,
            "rerouted": int((table["status"] == "rerouted").sum()) if len(table) else 0,
        })

    @dg.asset(
        key=["push", back], deps=[push],
        group_name="fulfilment", kinds={pos, "commercetools", "duckdb"}, pool="duckdb",
        description=f"Pickup ready / collected, dispatched, and voided {pos} sales of assigned orders written back as "
        "commercetools order and shipment states (and the store after a re-route); an order cancelled in "
        "commercetools voids its sale. Delta: assignments not yet final; full: every assignment re-asserted.",
        required_resource_keys=resource_keys(pos),
    )
    def status_push(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        omnisync: OmnisyncResource = context.resources.omnisync
        config, ops = omnisync.load_config(), omnisync.ops_store()
        mode = run_mode(context)
        todo = assignments(ops, flow)
        with omnisync.warehouse() as con:
            orders, _ = _ct_orders(con)
        cancelled = {o.order_id for o in orders if o.status == "Cancelled"}
        store_keys = {loc.key: loc.commercetools.store_key or loc.key for loc in config.locations}
        outcome = _with_both(pos, config, ops, _secrets(context, pos), lambda ct, adapter: push_fulfilment_status(
            todo, adapter, ct.client, ops, pos_system=pos, mode=mode, store_keys=store_keys, cancelled=cancelled,
        )) if todo else None
        rows = outcome.rows if outcome else []
        with omnisync.warehouse() as con:
            _merge_fresh_levels(con, pos, outcome.fresh_levels if outcome else [])
            previous = warehouse.read_table(con, "push", back) if warehouse.table_exists(con, "push", back) else None
            table = pd.DataFrame(rows, columns=STATUS_COLUMNS)
            if previous is not None and len(previous):  # assignments skipped this run keep their last known status
                table = pd.concat([previous[~previous["order_id"].isin(table["order_id"])], table], ignore_index=True) \
                    if len(table) else previous
            warehouse.replace_table(con, "push", back, table[STATUS_COLUMNS])
        stats = outcome.statistics.finish() if outcome else None
        context.log.info(stats.summary() if stats else f"{back}: nothing assigned")
        if stats and stats.failed:  # logged, not raised: the stock flow downstream must still run
            context.log.warning(f"{stats.failed} status writes failed transiently; retried next run: {stats.errors[:5]}")
        return dg.MaterializeResult(metadata={**(stats.as_dict() if stats else {"processed": 0}),
                                              "open_pickups": int((table["pos_status"] == WAITING_PICKUP).sum()),
                                              "dagster/row_count": len(table)})

    return [plan, push, status_push]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[a for pos in configured_pos() for a in build_fulfilment_flow(pos)])
