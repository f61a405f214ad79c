"""Click-and-collect and ship-from-store: commercetools orders assigned to a store after a live check.

Plan: every open commercetools order whose fulfilment is `click_and_collect` or `ship_from_store`,
with the stores to try (the one the shopper chose, then its configured fallbacks). Push: for the
orders not yet assigned, the POS count of every line is read live at each candidate store in turn;
the first store that holds every line gets a register sale that sets the goods aside (the POS count
drops once, there); an order no store can serve becomes an exception row in the rejected table and
is tried again next run, never silently stuck. The stock decrement reaches commercetools through
the stock flow, which runs after this push on the refreshed counts (`touched`); commercetools
orders imported with `inventoryMode` None never move stock themselves, so nothing is counted twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

from omnisync_pipelines.canonical.keys import idempotency_key
from omnisync_pipelines.canonical.models import Customer, Fulfilment, Order, OrderLine, Rejection, StockLevel
from omnisync_pipelines.engine.statistics import SyncStatistics
from omnisync_pipelines.rest.errors import ApiError
from omnisync_pipelines.store.ops import OpsStore

STORE_FULFILMENT = (Fulfilment.CLICK_AND_COLLECT.value, Fulfilment.SHIP_FROM_STORE.value)
PLAN_COLUMNS = ["idempotency_key", "order_id", "order_number", "fulfilment", "requested_location", "candidates",
                "lines", "status"]


def fulfilment_flow(pos_system: str) -> str:
    return f"fulfilment_commercetools_to_{pos_system}"


class FulfilmentPos(Protocol):
    system: str

    async def stock_levels(self, skus: list[str], location_key: str) -> dict[str, StockLevel | None]: ...

    async def create_sale(self, order: Order, lines: list[OrderLine], location_key: str,
                          shopper: Customer | None = None) -> dict:
        """`shopper`: the order's commercetools customer (private fields left out), for a POS that must
        name a customer on the sale and adds one it does not know as the customer flow would."""
        ...

    async def find_sale(self, order_id: str) -> dict | None: ...


@dataclass
class FulfilmentOutcome:
    statistics: SyncStatistics
    rows: list[dict] = field(default_factory=list)  # per order: store, status, reason
    touched: set[tuple[str, str]] = field(default_factory=set)  # (sku, location) whose POS count this run moved
    fresh_levels: list[StockLevel] = field(default_factory=list)  # their counts read back from the POS


def candidates(requested: str | None, fallback_stores: dict[str, list[str]], default_fallback: list[str]) -> list[str]:
    ordered = ([requested] if requested else []) + list(fallback_stores.get(requested or "", [])) + list(default_fallback)
    return list(dict.fromkeys(ordered))


def plan_fulfilment(orders: list[Order], lines: list[OrderLine], ops: OpsStore, flow: str, *,
                    fallback_stores: dict[str, list[str]], default_fallback: list[str],
                    other_flows: Sequence[str] = ()) -> pd.DataFrame:
    """One row per open store-fulfilment order; `status` is `assigned` (in the ledger), `assigned_elsewhere`
    (set aside by the fulfilment flow of another POS, `other_flows`: its store has changed POS since, and
    its goods are not set aside twice) or `to_assign`."""
    wanted = [o for o in orders if o.channel == "online" and o.fulfilment in STORE_FULFILMENT
              and o.status not in ("Cancelled", "Complete")]
    by_order: dict[str, dict[str, int]] = {}
    for line in lines:
        by_order.setdefault(line.order_id, {})
        by_order[line.order_id][line.sku] = by_order[line.order_id].get(line.sku, 0) + line.quantity
    keys = {o.order_id: idempotency_key("commercetools", o.order_id, 1, flow) for o in wanted}
    statuses = ops.ledger_statuses(keys.values()) if keys else {}
    elsewhere = {o.order_id: [idempotency_key("commercetools", o.order_id, 1, other) for other in other_flows]
                 for o in wanted if statuses.get(keys[o.order_id]) != "applied"} if other_flows else {}
    served = ops.ledger_statuses([k for ks in elsewhere.values() for k in ks]) if elsewhere else {}
    rows = [{
        "idempotency_key": keys[o.order_id], "order_id": o.order_id, "order_number": o.order_number,
        "fulfilment": o.fulfilment, "requested_location": o.location_key,
        "candidates": json.dumps(candidates(o.location_key, fallback_stores, default_fallback)),
        "lines": json.dumps(sorted(by_order.get(o.order_id, {}).items())),
        "status": "assigned" if statuses.get(keys[o.order_id]) == "applied" else
                  "assigned_elsewhere" if any(served.get(k) == "applied" for k in elsewhere.get(o.order_id, ()))
                  else "to_assign",
    } for o in sorted(wanted, key=lambda o: (o.created_at, o.order_id))]
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


async def push_fulfilment(plan: pd.DataFrame, orders: dict[str, Order], lines: dict[str, list[OrderLine]],
                          pos: FulfilmentPos, ops: OpsStore, *, flow: str,
                          store_currencies: dict[str, str] | None = None,
                          shoppers: Mapping[str, Customer] | None = None) -> FulfilmentOutcome:
    """Assign each `to_assign` order (in order of arrival, so earlier shoppers are served first).

    `shoppers` (order id -> its commercetools customer) is handed to `create_sale`.

    `store_currencies` (location key -> the till's currency) keeps an order away from a store that
    would ring it up in another currency; a store whose currency is unknown is not excluded.
    """
    outcome = FulfilmentOutcome(SyncStatistics(flow=flow))
    stats = outcome.statistics
    for row in plan[plan["status"] == "to_assign"].itertuples(index=False) if len(plan) else []:
        stats.processed += 1
        order, order_lines = orders[row.order_id], lines.get(row.order_id, [])
        wanted = dict(json.loads(row.lines))
        key, store = row.idempotency_key, None
        try:
            sale, reason = await _recover(pos, ops, key, order), None
            field_name = "fulfilment"
            if sale is not None:
                store = json.loads(ops_payload(ops, key))["store"]
            else:
                stores, currency_reason = same_currency_stores(order, json.loads(row.candidates), store_currencies or {})
                if stores or not currency_reason:
                    store, reason = await _choose_store(pos, wanted, stores)
                else:
                    field_name, reason = "currency", currency_reason
            if store is None:
                ops.add_rejections(flow, [Rejection(
                    "commercetools", "orders", row.order_number, field_name, reason,
                    json.dumps({"order_id": row.order_id, "lines": wanted, "candidates": json.loads(row.candidates)}))])
                stats.rejected += 1
                outcome.rows.append({"order_id": row.order_id, "order_number": row.order_number, "location_key": None,
                                     "status": "exception", "reason": reason, "pos_sale_id": None})
                continue
            if sale is None:
                payload = {"order_id": row.order_id, "order_number": row.order_number, "store": store, "lines": wanted,
                           "fulfilment": row.fulfilment, "requested": row.requested_location}
                ops.mark_retrying(key, flow=flow, target=pos.system, source="commercetools", record_ref=row.order_number,
                                  payload=payload)
                sale = await pos.create_sale(order, order_lines, store, (shoppers or {}).get(order.order_id))
                stats.api_writes += 1
        except ApiError as exc:
            if ops.ledger_status(key) is not None:
                ops.mark_failed(key, "retrying", f"transient, will retry next run: {exc}")
            stats.failed += 1
            stats.errors.append(f"{row.order_number}: {exc}")
            continue
        except ValueError as exc:  # the POS cannot take the sale as built (a mapping error names its field)
            reason = f"the store sale for order {row.order_number} cannot be built: {exc}"
            if ops.ledger_status(key) is not None:
                ops.mark_failed(key, "rejected", reason)
            ops.add_rejections(flow, [Rejection("commercetools", "orders", row.order_number,
                                                getattr(exc, "field", "fulfilment"), reason,
                                                json.dumps({"order_id": row.order_id, "store": store}))])
            stats.rejected += 1
            outcome.rows.append({"order_id": row.order_id, "order_number": row.order_number, "location_key": store,
                                 "status": "exception", "reason": reason, "pos_sale_id": None})
            continue
        rerouted = store != row.requested_location
        ops.mark_applied(key, {"status": "applied", "store": store, "pos_sale_id": sale["id"], "sale_status": sale.get("status"),
                               "fulfilment": row.fulfilment, "rerouted": rerouted, "lines": wanted})
        ops.resolve_rejections(flow, "commercetools", [row.order_number])
        stats.applied += 1
        outcome.touched |= {(sku, store) for sku in wanted}
        outcome.rows.append({"order_id": row.order_id, "order_number": row.order_number, "location_key": store,
                             "status": "rerouted" if rerouted else "assigned", "reason": None, "pos_sale_id": sale["id"]})
    if outcome.touched:
        outcome.fresh_levels = await refresh_levels(pos, outcome.touched)
    return outcome


async def refresh_levels(pos: FulfilmentPos, touched: set[tuple[str, str]]) -> list[StockLevel]:
    """The POS counts of the (SKU, store)s a push moved, read back so the same run's stock plan sees them."""
    by_store: dict[str, list[str]] = {}
    for sku, store in sorted(touched):
        by_store.setdefault(store, []).append(sku)
    fresh = []
    for store, skus in by_store.items():
        fresh += [level for level in (await pos.stock_levels(skus, store)).values() if level is not None]
    return fresh


def same_currency_stores(order: Order, stores: list[str], store_currencies: dict[str, str]) -> tuple[list[str], str | None]:
    """The candidate stores whose till takes the order's currency, and why the others were left out."""
    foreign = {s: store_currencies[s] for s in stores if store_currencies.get(s) and store_currencies[s] != order.currency}
    reason = None
    if foreign:
        reason = (f"order currency {order.currency} differs from the store currency of "
                  + ", ".join(f"{s} ({c})" for s, c in foreign.items()))
    return [s for s in stores if s not in foreign], reason


async def _choose_store(pos: FulfilmentPos, wanted: dict[str, int], stores: list[str]) -> tuple[str | None, str | None]:
    shortfalls = []
    for store in stores:
        levels = await pos.stock_levels(list(wanted), store)
        # available, not on hand: a POS may keep units set aside for other orders in its count (layaways)
        short = {sku: (levels[sku].available if levels[sku] else 0) for sku, qty in wanted.items()
                 if (levels[sku].available if levels[sku] else 0) < qty}
        if not short:
            return store, None
        shortfalls.append(f"{store}: " + ", ".join(f"{sku} has {have} of {wanted[sku]}" for sku, have in short.items()))
    if not stores:
        return None, "no store to fulfil from: the order names no mapped store and no fallback is configured"
    return None, "no store can serve the order after the live stock check (" + "; ".join(shortfalls) + ")"


def ops_payload(ops: OpsStore, key: str) -> str:
    from sqlalchemy import select

    from omnisync_pipelines.store import tables as t

    with ops.engine.connect() as conn:
        return conn.execute(select(t.ledger.c.payload).where(t.ledger.c.idempotency_key == key)).scalar() or "{}"


async def _recover(pos: FulfilmentPos, ops: OpsStore, key: str, order: Order) -> dict | None:
    """A sale created by a run that died before recording it is found by its source id, never created twice."""
    if ops.ledger_status(key) != "retrying":
        return None
    return await pos.find_sale(order.order_id)
