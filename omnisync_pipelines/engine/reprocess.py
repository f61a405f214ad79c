"""Retrying rejected records after a fix, and releasing them, with an audit trail.

`queue_retry` marks open or held records `retry` (who asked, why); `reprocess` then takes the
queued records and retries each through the same ledger as every other run, so a retried record
is applied exactly once however often it is retried:
- stock: re-reads the current POS count and, if commercetools now knows the SKU, pushes it
  through `push_stock` (same keys);
- store sales (rejected when read, e.g. an unknown tender, or when imported): re-reads the named
  sale from the POS with today's configuration (tender and location maps), and imports it through
  `sync_store_sales` (same order number, same ledger key). This matters because the sales snapshot
  reads by version cursor: a sale rejected when read is behind the cursor, so no delta_sync would
  ever read it again.
Each record ends `resolved` (applied) or back `open` with `attempts` + 1 and the new reason; every
step is a row in `rejected_audit`. Released records (an operator let a held movement through; the
next push applies it) and resolved ones are never queued. Records of other flows go back to `open`
with the audit note that their next delta_sync re-reads them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import select, update

from omnisync_pipelines.canonical.keys import idempotency_key
from omnisync_pipelines.canonical.models import Order, OrderLine, Payment, Rejection, normalise_email
from omnisync_pipelines.connectors.lightspeed_x import sales_mapping
from omnisync_pipelines.engine.fast_lane import POS_SYSTEM, FastLane
from omnisync_pipelines.engine.order_drafts import OrderSyncOptions, StoreRef
from omnisync_pipelines.engine.orders import orders_flow, sale_key, sync_store_sales
from omnisync_pipelines.engine.sale_customers import SaleCustomers
from omnisync_pipelines.engine.stock_plan import PLAN_COLUMNS, stock_flow
from omnisync_pipelines.engine.stock_push import push_stock
from omnisync_pipelines.rest.errors import NotFound
from omnisync_pipelines.store import tables as t
from omnisync_pipelines.store.audit import add_audit, ensure_audit_tables
from omnisync_pipelines.store.ops import OpsStore, now

RETRYABLE = ("open", "held")
QUEUED = "retry"
SALE_FLOWS = (orders_flow(POS_SYSTEM), f"snapshot/{POS_SYSTEM}/orders")  # import refusals, read rejections


class NothingToDo(ValueError):
    pass


def queue_retry(ops: OpsStore, *, ids: list[int] | None = None, flow: str | None = None, actor: str, reason: str | None = None) -> list[int]:
    c = t.rejected.c
    query = select(c.id, c.status).where(c.status.in_((*RETRYABLE, QUEUED)))
    if ids:
        query = query.where(c.id.in_(ids))
    if flow:
        query = query.where(c.flow == flow)
    with ensure_audit_tables(ops).engine.begin() as conn:
        found = [row.id for row in conn.execute(query)]
        for rejected_id in found:
            conn.execute(update(t.rejected).where(c.id == rejected_id).values(status=QUEUED, updated_at=now()))
            add_audit(conn, rejected_id, "retry_requested", actor, reason=reason)
    return found


def release(ops: OpsStore, rejected_id: int, *, actor: str, reason: str) -> None:
    """Let an open or held record through: the next push applies it as it is; `retry` never takes it."""
    c = t.rejected.c
    with ensure_audit_tables(ops).engine.begin() as conn:
        status = conn.execute(select(c.status).where(c.id == rejected_id)).scalar()
        if status is None:
            raise NothingToDo(f"no rejected record {rejected_id}")
        if status not in (*RETRYABLE, QUEUED):
            raise NothingToDo(f"rejected record {rejected_id} is {status}: only open, held or queued records can be released")
        conn.execute(update(t.rejected).where(c.id == rejected_id).values(status="released", updated_at=now()))
        add_audit(conn, rejected_id, "released", actor, reason=reason)


@dataclass
class ReprocessOutcome:
    applied: list[int] = field(default_factory=list)
    still_rejected: list[int] = field(default_factory=list)
    unsupported: list[int] = field(default_factory=list)

    def summary(self) -> str:
        return (f"reprocessed rejected records: {len(self.applied)} applied, {len(self.still_rejected)} still rejected, "
                f"{len(self.unsupported)} left to their flow's next run")


@dataclass
class SalesRetry:
    """What retrying a store sale needs: `pos`, the X-Series connector (its client and today's tender
    and location maps); `ct_client`; `stores()`, the stores the sales flow imports into (looked up
    only when a sale is queued); the order options; `record(order, lines, payments)`, called for a
    sale that maps now, keeps it in the sales snapshot."""

    pos: Any
    ct_client: Any
    stores: Callable[[], Awaitable[Mapping[str, StoreRef]]]
    options: OrderSyncOptions = field(default_factory=OrderSyncOptions)
    record: Callable[[Order, list[OrderLine], list[Payment]], None] | None = None
    customers: SaleCustomers = field(default_factory=SaleCustomers)  # linked customer and loyalty id, as the flow


async def reprocess(ops: OpsStore, lane: FastLane, catalog_skus, *, actor: str,
                    sales: SalesRetry | None = None) -> ReprocessOutcome:
    """`lane`: a FastLane (its POS client, location map and commercetools target);
    `catalog_skus(skus) -> set`: which of these SKUs commercetools knows now; `sales`: retry store
    sales too (without it they are left to their flow's next run)."""
    ensure_audit_tables(ops)
    queued = ops.rejected_frame(QUEUED)
    outcome = ReprocessOutcome()
    flow = stock_flow(POS_SYSTEM)
    handled = (flow, *SALE_FLOWS) if sales is not None else (flow,)
    stock = queued[queued["flow"] == flow]
    for rejected_id in queued.loc[~queued["flow"].isin(handled), "id"]:
        _settle(ops, int(rejected_id), "open", actor, "unsupported_flow", "not retried here: the flow's next delta_sync reads it again")
        outcome.unsupported.append(int(rejected_id))
    if sales is not None:
        await _reprocess_sales(ops, queued[queued["flow"].isin(SALE_FLOWS)], sales, actor, outcome)
    if stock.empty:
        return outcome
    refs = {int(r.id): tuple(r.record_ref.rsplit("@", 1)) for r in stock.itertuples()}
    for r in stock.itertuples():  # a refused write keeps its key: the ledger must let it be sent again
        if r.idempotency_key and ops.ledger_status(r.idempotency_key) == "rejected":
            ops.mark_failed(r.idempotency_key, "superseded", f"operator retry by {actor}")
    known = set(await catalog_skus(sorted({sku for sku, _ in refs.values()})))
    product_of = await _product_ids(lane, {sku for sku, _ in refs.values() if sku in known})
    levels, _ = await lane.pos_levels(sorted(set(product_of.values())))
    wanted = {(sku, loc) for sku, loc in refs.values()}
    plan = _plan(ops, [lvl for lvl in levels if (lvl.sku, lvl.location_key) in wanted], lane.flow)
    if len(plan):
        await push_stock(plan, lane.target, ops, pos_system=POS_SYSTEM, options=lane.options)
    keys = dict(zip(zip(plan["sku"], plan["location_key"], strict=True), plan["idempotency_key"], strict=True))
    for rejected_id, (sku, loc) in refs.items():
        key = keys.get((sku, loc))
        status = ops.ledger_status(key) if key else None
        if sku not in known:
            _settle(ops, rejected_id, "open", actor, "still_rejected", f"SKU {sku!r} is still not in the commercetools catalog")
            outcome.still_rejected.append(rejected_id)
        elif key is None and ops.baseline(POS_SYSTEM, sku, loc) is not None:
            _settle(ops, rejected_id, "resolved", actor, "applied", "the current POS count is already applied", key=None)
            outcome.applied.append(rejected_id)
        elif status == "applied":
            _settle(ops, rejected_id, "resolved", actor, "applied", f"applied under {key}", key=key)
            outcome.applied.append(rejected_id)
        else:
            _settle(ops, rejected_id, "open", actor, "still_rejected", f"not applied ({status or 'no POS count found'})")
            outcome.still_rejected.append(rejected_id)
    return outcome


async def _reprocess_sales(ops: OpsStore, queued: pd.DataFrame, sales: SalesRetry, actor: str,
                           outcome: ReprocessOutcome) -> None:
    if queued.empty:
        return
    flow, stores = orders_flow(POS_SYSTEM), await sales.stores()
    ids_of: dict[str, list[int]] = {}
    for r in queued.itertuples():
        ids_of.setdefault(str(r.record_ref), []).append(int(r.id))
    for sale_id, rejected_ids in sorted(ids_of.items()):
        read = await read_store_sale(sales.pos, sale_id)
        if not isinstance(read, tuple):
            reason = read.reason if read is not None else f"sale {sale_id} is no longer at the POS"
            for rejected_id in rejected_ids:
                _settle(ops, rejected_id, "open", actor, "still_rejected", reason)
            outcome.still_rejected.extend(rejected_ids)
            continue
        order, lines, payments = read
        if sales.record is not None:
            sales.record(order, lines, payments)
        key = sale_key(order, flow)
        if ops.ledger_status(key) == "rejected":  # a refused import keeps its key: let it be sent again
            ops.mark_failed(key, "superseded", f"operator retry by {actor}")
        pushed = await sync_store_sales([order], lines, payments, sales.ct_client, ops, pos_system=POS_SYSTEM,
                                        stores=stores, customers=sales.customers.commercetools_id,
                                        loyalty=sales.customers.loyalty_id, options=sales.options)
        status = ops.ledger_status(key)
        for rejected_id in rejected_ids:
            if status == "applied":
                _settle(ops, rejected_id, "resolved", actor, "applied", f"imported under {key}", key=key)
            else:
                reasons = "; ".join(r.reason for r in pushed.rejections) or f"not imported ({status or 'not sent'})"
                _settle(ops, rejected_id, "open", actor, "still_rejected", reasons, key=key)
        (outcome.applied if status == "applied" else outcome.still_rejected).extend(rejected_ids)


async def read_store_sale(pos, sale_id: str) -> tuple[Order, list[OrderLine], list[Payment]] | Rejection | None:
    """The sale as the orders snapshot maps it today (None: the POS no longer has it)."""
    try:
        raw = await pos.client.get("sales", sale_id)
    except NotFound:
        return None
    if raw.get("status") not in sales_mapping.COMPLETED or sales_mapping.is_return(raw) or sales_mapping.is_own_write(raw):
        return Rejection(POS_SYSTEM, "orders", sale_id, "status",
                         f"sale {sale_id} is not a completed store sale (status {raw.get('status')!r})", "")
    currency = (await pos.currency_of()).get(raw.get("outlet_id")) or pos.default_currency
    if currency is None:
        return Rejection(POS_SYSTEM, "orders", sale_id, "currency", f"{sale_id}: outlet {raw.get('outlet_id')} has no currency", "")
    email_of = {}
    if raw.get("customer_id"):
        try:
            email = normalise_email((await pos.client.get("customers", raw["customer_id"])).get("email"))
        except NotFound:
            email = None
        email_of = {raw["customer_id"]: email} if email else {}
    return sales_mapping.map_sale(raw, sku_of=await pos.sku_of(), location_map=pos.location_map, currency=currency,
                                  tender_map=pos.tender_map, email_of=email_of)


def _plan(ops: OpsStore, levels, flow: str) -> pd.DataFrame:
    rows = []
    for level in levels:
        baseline = ops.baseline(POS_SYSTEM, level.sku, level.location_key)
        if baseline is not None and baseline["level"] == level.on_hand:
            continue
        rows.append({
            "idempotency_key": idempotency_key(POS_SYSTEM, f"{level.sku}@{level.location_key}", level.system_version, flow),
            "source_system": POS_SYSTEM, "sku": level.sku, "location_key": level.location_key,
            "pos_level": level.on_hand, "pos_version": level.system_version,
            "baseline_level": baseline["level"] if baseline else None,
            "expected_delta": level.on_hand - (baseline["level"] if baseline else 0),
            "kind": "level_change" if baseline else "initial",
        })
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


async def _product_ids(lane: FastLane, skus: set[str]) -> dict[str, str]:
    if not skus:
        return {}
    products = (await lane.pos_client.products()).rows
    found = {}
    for product in products:
        sku = (product.get("sku") or "").strip()
        if sku in skus and not product.get("deleted_at"):
            found[sku] = product["id"]
    return found


def _settle(ops: OpsStore, rejected_id: int, status: str, actor: str, outcome: str, detail: str, key: str | None = None) -> None:
    c = t.rejected.c
    values = {"status": status, "attempts": c.attempts + 1, "updated_at": now()}
    if status == "open":
        values["reason"] = detail
    with ops.engine.begin() as conn:
        conn.execute(update(t.rejected).where(c.id == rejected_id).values(**values))
        add_audit(conn, rejected_id, "retried", actor, outcome=outcome, detail={"detail": detail, "key": key})


def describe(ops: OpsStore, rejected_id: int) -> dict:
    c = t.rejected.c
    with ops.engine.connect() as conn:
        row = conn.execute(select(t.rejected).where(c.id == rejected_id)).mappings().first()
    return json.loads(json.dumps(dict(row), default=str)) if row else {}


def commercetools_catalog(client):
    """`catalog_skus` for `reprocess`: which SKUs the published commercetools catalog holds."""

    async def known(skus: list[str]) -> set[str]:
        if not skus:
            return set()
        quoted = ", ".join(json.dumps(s) for s in skus)
        where = f"masterVariant(sku in ({quoted})) or variants(sku in ({quoted}))"
        found: set[str] = set()
        async for product in client.iter_product_projections(where=[where]):
            found |= {v.get("sku") for v in [product.get("masterVariant") or {}, *(product.get("variants") or [])]}
        return found & set(skus)

    return known
