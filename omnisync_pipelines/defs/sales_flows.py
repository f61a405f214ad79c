"""Store sales -> commercetools orders, then returns -> return info, refunds and restocks.

Validation runs at push time because part of it needs commercetools' state (the original order of
a return); rejected sales and returns land in the rejected-records table with their reasons.
An `event_sync` run pushes only the sales and returns its events named (defs/targets.py); the rest
stay in the snapshot, unapplied in the ledger, for the next delta_sync.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import dagster as dg
import pandas as pd

from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.canonical.models import Order, OrderLine, Payment, Return, ReturnLine
from omnisync_pipelines.connectors.registry import build_live_stock, open_connector
from omnisync_pipelines.defs.resources import CommercetoolsCredentials, OmnisyncResource
from omnisync_pipelines.defs.specs import TABLE_KEYS, configured_pos
from omnisync_pipelines.defs.targets import only_targeted_sales
from omnisync_pipelines.engine.customers import customers_from_frame
from omnisync_pipelines.engine.order_drafts import OrderSyncOptions, StoreRef
from omnisync_pipelines.engine.orders import orders_flow, rows_as_records, sale_key, sync_store_sales
from omnisync_pipelines.engine.reprocess import SalesRetry
from omnisync_pipelines.engine.returns import ReturnSyncOptions, return_key, returns_flow, sync_returns
from omnisync_pipelines.engine.sale_customers import SaleCustomers, sale_customers
from omnisync_pipelines.store import warehouse
from omnisync_pipelines.store.crosswalk import Crosswalk
from omnisync_pipelines.store.ops import CallLogBuffer


async def store_refs(config, ct) -> dict[str, StoreRef]:
    refs = {}
    for location in config.locations:
        channel_id = await ct.channel_id_for(location.key)
        refs[location.key] = StoreRef(
            channel_id=channel_id, store_key=location.commercetools.store_key or location.key, country=location.country
        )
    return refs


@asynccontextmanager
async def open_sales_retry(omnisync: OmnisyncResource, pos_system: str, secrets: dict[str, dict], *,
                           call_log=None) -> AsyncIterator[SalesRetry]:
    """What `reprocess` needs to retry a POS's rejected store sales as the sales flow would import them;
    a sale that maps now is also written to the POS sales snapshot (so reconciliation pairs it)."""
    config = omnisync.load_config()

    def record(order: Order, lines: list[OrderLine], payments: list[Payment]) -> None:
        with omnisync.warehouse() as con:
            # the sale is re-read whole: lines or payments it no longer has must go from the snapshot too
            warehouse.upsert_table(con, order.system, "orders", schemas.frame_from_records("orders", [order]),
                                   list(TABLE_KEYS["orders"]))
            for table, rows in (("order_lines", lines), ("order_payments", payments)):
                warehouse.upsert_table(con, order.system, table, schemas.frame_from_records(table, rows),
                                       list(TABLE_KEYS[table]), parent_key="order_id", parents=[order.order_id])

    async with open_connector(pos_system, config, secrets[pos_system], call_log=call_log) as pos, \
            open_connector("commercetools", config, secrets["commercetools"], call_log=call_log) as ct:
        with omnisync.warehouse() as con:
            buyers = _sale_customers(con, pos_system, omnisync.ops_store())
        yield SalesRetry(pos_system, build_live_stock(pos), ct.client, lambda: store_refs(config, ct),
                         OrderSyncOptions(payment_methods=config.orders.payment_methods), record, buyers)


def _sale_customers(con, pos: str, ops) -> SaleCustomers:
    """The commercetools customer and loyalty id of each POS customer, from the crosswalk and snapshot."""
    return sale_customers(pos, Crosswalk(ops).mapping("customer"),
                          customers_from_frame(warehouse.read_table(con, pos, "customers")))


def _records(con, system: str, table: str, record_type) -> list:
    frame = warehouse.read_table(con, system, table)
    return rows_as_records(frame.to_dict("records"), record_type) if len(frame) else []


def _outcome_frame(keys: dict[str, str], statuses: dict[str, str], ref_name: str) -> pd.DataFrame:
    return pd.DataFrame(
        {ref_name: list(keys), "idempotency_key": list(keys.values()),
         "status": [statuses.get(k, "rejected_before_push") for k in keys.values()]},
        columns=[ref_name, "idempotency_key", "status"],
    )


PLAN_COLUMNS = ["record_id", "idempotency_key", "ledger_status", "action"]


def _plan_frame(keys: dict[str, str], statuses: dict[str, str]) -> pd.DataFrame:
    """One row per POS record of the run's scope: its key, what the ledger knows, and whether the push
    sends it (`import`: new, or refused or interrupted before) or not (`already_applied`)."""
    return pd.DataFrame(
        [{"record_id": rid, "idempotency_key": key, "ledger_status": statuses.get(key),
          "action": "already_applied" if statuses.get(key) == "applied" else "import"} for rid, key in keys.items()],
        columns=PLAN_COLUMNS,
    )


def _planned(con, flow: str) -> tuple[dict[str, str], set[str]]:
    """(record id -> key for the whole plan, the record ids to send)."""
    plan = warehouse.read_table(con, "plan", flow)
    if not len(plan):
        return {}, set()
    return dict(zip(plan["record_id"], plan["idempotency_key"], strict=True)), set(plan[plan["action"] == "import"]["record_id"])


def build_sales_flows(pos: str) -> list[dg.AssetsDefinition]:
    orders_key, returns_key = orders_flow(pos), returns_flow(pos)

    @dg.asset(
        key=["plan", orders_key],
        deps=[dg.AssetKey([pos, t]) for t in ("orders", "order_lines", "order_payments")],
        group_name="orders",
        kinds={"duckdb"},
        pool="duckdb",
        description=f"The {pos} store sales this run would import (an event run: only those its batch names), "
        "each with its idempotency key and what the ledger already knows of it.",
    )
    def plan_orders(context: dg.AssetExecutionContext, omnisync: OmnisyncResource) -> dg.MaterializeResult:
        ops = omnisync.ops_store()
        with omnisync.warehouse() as con:
            orders = [o for o in _records(con, pos, "orders", Order) if o.channel == "store"]
            orders = only_targeted_sales(context, pos, orders, lambda o: o.order_id)
            keys = {o.order_id: sale_key(o, orders_key) for o in orders}
            plan = _plan_frame(keys, ops.ledger_statuses(keys.values()) if keys else {})
            warehouse.replace_table(con, "plan", orders_key, plan)
        return dg.MaterializeResult(metadata={"sales": len(plan), "dagster/row_count": len(plan), "to_import": int((plan["action"] == "import").sum())})

    @dg.asset(
        key=["plan", returns_key],
        deps=[dg.AssetKey([pos, "returns"]), dg.AssetKey([pos, "return_lines"])],
        group_name="orders",
        kinds={"duckdb"},
        pool="duckdb",
        description=f"The {pos} store returns this run would record on their original orders, each with its "
        "idempotency key and what the ledger already knows of it.",
    )
    def plan_returns(context: dg.AssetExecutionContext, omnisync: OmnisyncResource) -> dg.MaterializeResult:
        ops = omnisync.ops_store()
        with omnisync.warehouse() as con:
            returns = only_targeted_sales(context, pos, _records(con, pos, "returns", Return), lambda r: r.return_id)
            keys = {r.return_id: return_key(r, returns_key) for r in returns}
            plan = _plan_frame(keys, ops.ledger_statuses(keys.values()) if keys else {})
            warehouse.replace_table(con, "plan", returns_key, plan)
        return dg.MaterializeResult(metadata={"returns": len(plan), "dagster/row_count": len(plan), "to_record": int((plan["action"] == "import").sum())})

    @dg.asset(
        key=["push", orders_key],
        deps=[plan_orders, dg.AssetKey(["commercetools", "customers"])]
        # after the customer links (crosswalk) and creates: an order imported as a guest stays a guest
        + [dg.AssetKey(["push", f"customers_{pos}_to_commercetools"])],
        group_name="orders",
        kinds={"commercetools", "duckdb"},
        pool="duckdb",
        description=f"Store sales from {pos} imported as commercetools orders exactly once (orderNumber derived "
        "from the POS sale), with lines, taxes, discounts and one payment per tender; sales whose lines or "
        "payments do not add up are rejected with the difference.",
    )
    def push_orders(context: dg.AssetExecutionContext, omnisync: OmnisyncResource, commercetools: CommercetoolsCredentials):
        config, ops = omnisync.load_config(), omnisync.ops_store()
        with omnisync.warehouse() as con:
            keys, wanted = _planned(con, orders_key)
            todo = [o for o in _records(con, pos, "orders", Order) if o.order_id in wanted]
            lines = _records(con, pos, "order_lines", OrderLine)
            payments = _records(con, pos, "order_payments", Payment)
            buyers = _sale_customers(con, pos, ops)
        call_log = CallLogBuffer(ops)

        async def main():
            async with open_connector("commercetools", config, commercetools.secrets(), call_log=call_log) as ct:
                return await sync_store_sales(
                    todo, [x for x in lines if x.order_id in wanted], [p for p in payments if p.order_id in wanted],
                    ct.client, ops, pos_system=pos, stores=await store_refs(config, ct),
                    customers=buyers.commercetools_id, loyalty=buyers.loyalty_id,
                    options=OrderSyncOptions(payment_methods=config.orders.payment_methods),
                )

        try:
            outcome = asyncio.run(main())
        finally:
            call_log.flush()
        statuses = ops.ledger_statuses(keys.values())
        with omnisync.warehouse() as con:
            written = warehouse.replace_table(con, "push", orders_key, _outcome_frame(keys, statuses, "order_id"))
        stats = outcome.statistics
        context.log.info(stats.summary())
        if stats.failed:
            raise dg.Failure(f"{stats.failed} orders failed transiently; they are retried next run", metadata=stats.as_dict())
        return dg.MaterializeResult(metadata={**stats.as_dict(), "already_in_ledger": len(keys) - len(wanted),
                                              "dagster/row_count": written})

    @dg.asset(
        key=["push", returns_key],
        deps=[push_orders, plan_returns],
        group_name="orders",
        kinds={"commercetools", "duckdb"},
        pool="duckdb",
        description=f"Returns at the {pos} stores recorded on their original commercetools order (in-store or "
        "online purchase): return info, BackInStock, a refund transaction; POS reasons mapped to configured "
        "codes (unmapped ones are rejected, never guessed).",
    )
    def push_returns(context: dg.AssetExecutionContext, omnisync: OmnisyncResource, commercetools: CommercetoolsCredentials):
        config, ops = omnisync.load_config(), omnisync.ops_store()
        with omnisync.warehouse() as con:
            keys, wanted = _planned(con, returns_key)
            todo = [r for r in _records(con, pos, "returns", Return) if r.return_id in wanted]
            lines = _records(con, pos, "return_lines", ReturnLine)
        call_log = CallLogBuffer(ops)
        options = ReturnSyncOptions(reason_codes=config.returns.reason_codes, restock_via=config.restock_via(pos))

        async def main():
            async with open_connector("commercetools", config, commercetools.secrets(), call_log=call_log) as ct:
                return await sync_returns(
                    todo, [x for x in lines if x.return_id in wanted], ct.client, ops, pos_system=pos,
                    stores=await store_refs(config, ct), options=options,
                )

        try:
            outcome = asyncio.run(main())
        finally:
            call_log.flush()
        statuses = ops.ledger_statuses(keys.values())
        with omnisync.warehouse() as con:
            written = warehouse.replace_table(con, "push", returns_key, _outcome_frame(keys, statuses, "return_id"))
        stats = outcome.statistics
        context.log.info(stats.summary())
        if stats.failed:
            raise dg.Failure(f"{stats.failed} returns failed transiently; they are retried next run", metadata=stats.as_dict())
        return dg.MaterializeResult(metadata={**stats.as_dict(), "already_in_ledger": len(keys) - len(wanted),
                                              "dagster/row_count": written})

    return [plan_orders, push_orders, plan_returns, push_returns]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[a for pos in configured_pos() for a in build_sales_flows(pos)])
