"""Retrying rejected records after a fix, and releasing them, with an audit trail.

`queue_retry` marks open or held records `retry` (who asked, why); `reprocess` then takes the
queued records and retries each through the same ledger as every other run, so a retried record
is applied exactly once however often it is retried:
- stock: re-reads the current POS count (the POS plugin's `LiveStock`) and, if commercetools now
  knows the SKU, pushes it through `push_stock` (same keys);
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
from omnisync_pipelines.canonical.models import Order, OrderLine, Payment
from omnisync_pipelines.engine.fast_lane import FastLane
from omnisync_pipelines.engine.order_drafts import OrderSyncOptions, StoreRef
from omnisync_pipelines.engine.orders import orders_flow, sale_key, sync_store_sales
from omnisync_pipelines.engine.sale_customers import SaleCustomers
from omnisync_pipelines.engine.stock_plan import PLAN_COLUMNS
from omnisync_pipelines.engine.stock_push import push_stock
from omnisync_pipelines.store import tables as t
from omnisync_pipelines.store.audit import add_audit, ensure_audit_tables
from omnisync_pipelines.store.ops import OpsStore, now

RETRYABLE = ("open", "held")
QUEUED = "retry"


def sale_flows(pos_system: str) -> tuple[str, str]:
    """Where a POS's store sales are rejected: import refusals, read rejections."""
    return orders_flow(pos_system), f"snapshot/{pos_system}/orders"


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
    """What retrying a POS's store sales needs: `pos_system`; `live`, the POS's `LiveStock` (reads one
    sale again with today's configuration); `ct_client`; `stores()`, the stores the sales flow imports into (looked up
    only when a sale is queued); the order options; `record(order, lines, payments)`, called for a
    sale that maps now, keeps it in the sales snapshot."""

    pos_system: str
    live: Any
    ct_client: Any
    stores: Callable[[], Awaitable[Mapping[str, StoreRef]]]
    options: OrderSyncOptions = field(default_factory=OrderSyncOptions)
    record: Callable[[Order, list[OrderLine], list[Payment]], None] | None = None
    customers: SaleCustomers = field(default_factory=SaleCustomers)  # linked customer and loyalty id, as the flow


async def reprocess(ops: OpsStore, lanes: list[FastLane], catalog_skus, *, actor: str,
                    sales: list[SalesRetry] | None = None) -> ReprocessOutcome:
    """`lanes`: a FastLane per POS (its live stock read and the commercetools target);
    `catalog_skus(skus) -> set`: which of these SKUs commercetools knows now; `sales`: retry store
    sales too, per POS (without it they are left to their flow's next run)."""
    ensure_audit_tables(ops)
    queued = ops.rejected_frame(QUEUED)
    outcome = ReprocessOutcome()
    handled = {lane.flow for lane in lanes} | {f for retry in sales or [] for f in sale_flows(retry.pos_system)}
    for rejected_id in queued.loc[~queued["flow"].isin(handled), "id"]:
        _settle(ops, int(rejected_id), "open", actor, "unsupported_flow", "not retried here: the flow's next delta_sync reads it again")
        outcome.unsupported.append(int(rejected_id))
    for retry in sales or []:
        await _reprocess_sales(ops, queued[queued["flow"].isin(sale_flows(retry.pos_system))], retry, actor, outcome)
    for lane in lanes:
        await _reprocess_stock(ops, queued[queued["flow"] == lane.flow], lane, catalog_skus, actor, outcome)
    return outcome


async def _reprocess_stock(ops: OpsStore, stock: pd.DataFrame, lane: FastLane, catalog_skus, actor: str,
                           outcome: ReprocessOutcome) -> None:
    if stock.empty:
        return
    pos = lane.pos_system
    refs = {int(r.id): tuple(r.record_ref.rsplit("@", 1)) for r in stock.itertuples()}
    for r in stock.itertuples():  # a refused write keeps its key: the ledger must let it be sent again
        if r.idempotency_key and ops.ledger_status(r.idempotency_key) == "rejected":
            ops.mark_failed(r.idempotency_key, "superseded", f"operator retry by {actor}")
    known = set(await catalog_skus(sorted({sku for sku, _ in refs.values()})))
    item_of = await lane.live.items_for_skus({sku for sku, _ in refs.values() if sku in known})
    levels, _ = await lane.pos_levels(sorted(set(item_of.values())))
    wanted = {(sku, loc) for sku, loc in refs.values()}
    plan = _plan(ops, pos, [lvl for lvl in levels if (lvl.sku, lvl.location_key) in wanted], lane.flow)
    if len(plan):
        await push_stock(plan, lane.target, ops, pos_system=pos, options=lane.options)
    keys = dict(zip(zip(plan["sku"], plan["location_key"], strict=True), plan["idempotency_key"], strict=True))
    for rejected_id, (sku, loc) in refs.items():
        key = keys.get((sku, loc))
        status = ops.ledger_status(key) if key else None
        if sku not in known:
            _settle(ops, rejected_id, "open", actor, "still_rejected", f"SKU {sku!r} is still not in the commercetools catalog")
            outcome.still_rejected.append(rejected_id)
        elif key is None and ops.baseline(pos, sku, loc) is not None:
            _settle(ops, rejected_id, "resolved", actor, "applied", "the current POS count is already applied", key=None)
            outcome.applied.append(rejected_id)
        elif status == "applied":
            _settle(ops, rejected_id, "resolved", actor, "applied", f"applied under {key}", key=key)
            outcome.applied.append(rejected_id)
        else:
            _settle(ops, rejected_id, "open", actor, "still_rejected", f"not applied ({status or 'no POS count found'})")
            outcome.still_rejected.append(rejected_id)


async def _reprocess_sales(ops: OpsStore, queued: pd.DataFrame, sales: SalesRetry, actor: str,
                           outcome: ReprocessOutcome) -> None:
    if queued.empty:
        return
    flow, stores = orders_flow(sales.pos_system), await sales.stores()
    ids_of: dict[str, list[int]] = {}
    for r in queued.itertuples():
        ids_of.setdefault(str(r.record_ref), []).append(int(r.id))
    for sale_id, rejected_ids in sorted(ids_of.items()):
        read = await sales.live.read_sale(sale_id)
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
        pushed = await sync_store_sales([order], lines, payments, sales.ct_client, ops, pos_system=sales.pos_system,
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


def _plan(ops: OpsStore, pos: str, levels, flow: str) -> pd.DataFrame:
    rows = []
    for level in levels:
        baseline = ops.baseline(pos, level.sku, level.location_key)
        if baseline is not None and baseline["level"] == level.on_hand:
            continue
        rows.append({
            "idempotency_key": idempotency_key(pos, f"{level.sku}@{level.location_key}", level.system_version, flow),
            "source_system": pos, "sku": level.sku, "location_key": level.location_key,
            "pos_level": level.on_hand, "pos_version": level.system_version,
            "baseline_level": baseline["level"] if baseline else None,
            "expected_delta": level.on_hand - (baseline["level"] if baseline else 0),
            "kind": "level_change" if baseline else "initial",
        })
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


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
