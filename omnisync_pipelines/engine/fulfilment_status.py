"""Pickup and ship-from-store statuses, POS -> commercetools order and shipment states.

Each assigned order's register sale is read from the POS; its status decides the commercetools
states (and the store, after a re-route). The write is keyed by (sale, status, store), so a status
is written once; an order cancelled in commercetools while its goods are still set aside voids the
sale, which puts the units back on the POS count (`touched`, carried by the stock flow).
Delta runs look only at assignments whose current status is not yet recorded as final; full runs
re-read every assignment and re-assert the states (no write when they already agree).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select

from omnisync_pipelines.canonical.keys import idempotency_key
from omnisync_pipelines.connectors.pos import (
    CANCELLED,
    DISPATCHED,
    PICKED_UP,
    WAITING_DISPATCH,
    WAITING_PICKUP,
)
from omnisync_pipelines.engine.fulfilment import FulfilmentOutcome, FulfilmentPos, refresh_levels
from omnisync_pipelines.engine.statistics import SyncStatistics
from omnisync_pipelines.rest.errors import ApiError
from omnisync_pipelines.store import tables as t
from omnisync_pipelines.store.ops import OpsStore

# canonical fulfilment status of the store sale (each POS maps its own) -> (orderState, shipmentState)
CT_STATES = {
    WAITING_PICKUP: ("Confirmed", "Ready"),
    WAITING_DISPATCH: ("Confirmed", "Pending"),
    PICKED_UP: ("Complete", "Delivered"),
    DISPATCHED: ("Complete", "Shipped"),
    CANCELLED: ("Cancelled", "Canceled"),
}
FINAL = frozenset({PICKED_UP, DISPATCHED, CANCELLED})
WAITING = frozenset({WAITING_PICKUP, WAITING_DISPATCH})


def status_flow(pos_system: str) -> str:
    return f"fulfilment_status_{pos_system}_to_commercetools"


class StatusPos(FulfilmentPos, Protocol):
    async def sale(self, sale_id: str) -> dict: ...

    async def void_sale(self, sale: dict) -> dict: ...


@dataclass(frozen=True)
class Assignment:
    order_id: str
    order_number: str
    store: str
    pos_sale_id: str
    fulfilment: str
    lines: dict[str, int]


def assignments(ops: OpsStore, flow: str) -> list[Assignment]:
    """Every order the fulfilment push assigned (ledger `applied`), from the outcome it recorded."""
    c = t.ledger.c
    with ops.engine.connect() as conn:
        rows = conn.execute(select(c.record_ref, c.payload, c.result).where(c.flow == flow, c.status == "applied")).all()
    found = []
    for record_ref, payload, result in rows:
        p, r = json.loads(payload or "{}"), json.loads(result or "{}")
        if r.get("pos_sale_id"):
            found.append(Assignment(p["order_id"], record_ref, r["store"], r["pos_sale_id"], r.get("fulfilment") or "",
                                    dict(r.get("lines") or p.get("lines") or {})))
    return found


def _actions(order: dict, states: tuple[str, str], store_key: str) -> list[dict]:
    order_state, shipment_state = states
    actions = []
    if order.get("orderState") != order_state:
        actions.append({"action": "changeOrderState", "orderState": order_state})
    if order.get("shipmentState") != shipment_state:
        actions.append({"action": "changeShipmentState", "shipmentState": shipment_state})
    if (order.get("store") or {}).get("key") != store_key:
        actions.append({"action": "setStore", "store": {"typeId": "store", "key": store_key}})
    fields = (order.get("custom") or {}).get("fields") or {}
    if "fulfilmentStore" in fields and fields["fulfilmentStore"] != store_key:
        actions.append({"action": "setCustomField", "name": "fulfilmentStore", "value": store_key})
    return actions


async def push_fulfilment_status(
    todo: list[Assignment], pos: StatusPos, ct_client, ops: OpsStore, *, pos_system: str, mode: str,
    store_keys: dict[str, str], cancelled: set[str],
) -> FulfilmentOutcome:
    """`store_keys`: location -> commercetools store key; `cancelled`: order ids cancelled in commercetools."""
    flow = status_flow(pos_system)
    outcome = FulfilmentOutcome(SyncStatistics(flow=flow))
    stats = outcome.statistics
    final_done = _final_recorded(ops, flow)
    for a in todo:
        if mode == "delta" and a.pos_sale_id in final_done:
            continue
        stats.processed += 1
        try:
            sale = await pos.sale(a.pos_sale_id)
            status = sale.get("status")
            if a.order_id in cancelled and status in WAITING:
                void_key = idempotency_key("commercetools", a.order_id, "cancelled", flow)
                ops.mark_retrying(void_key, flow=flow, target=pos_system, source="commercetools", record_ref=a.order_number,
                                  payload={"order_id": a.order_id, "pos_sale_id": a.pos_sale_id, "action": "void"})
                sale = await pos.void_sale(sale)
                stats.api_writes += 1
                ops.mark_applied(void_key, {"status": "applied", "sale_status": sale.get("status")})
                status = sale.get("status")
            if status == CANCELLED:
                outcome.touched |= {(sku, a.store) for sku in a.lines}
            states = CT_STATES.get(status)
            if states is None:
                outcome.rows.append(_row(a, status, "unknown_status"))
                continue
            key = idempotency_key(pos_system, a.pos_sale_id, f"{status}@{a.store}", flow)
            if ops.ledger_status(key) == "applied" and mode == "delta":
                stats.already_applied += 1
                outcome.rows.append(_row(a, status, "in_sync"))
                continue
            order = await ct_client.get_by_id("orders", a.order_id)
            if order is None:
                outcome.rows.append(_row(a, status, "order_not_found"))
                stats.rejected += 1
                continue
            actions = _actions(order, states, store_keys.get(a.store, a.store))
            ops.mark_retrying(key, flow=flow, target="commercetools", source=pos_system, record_ref=a.order_number,
                              payload={"order_id": a.order_id, "pos_sale_id": a.pos_sale_id, "sale_status": status,
                                       "store": a.store, "actions": actions})
            if actions:
                await ct_client.update_order(order["id"], order["version"], actions)
                stats.api_writes += 1
                stats.applied += 1
            else:
                stats.noop += 1
            ops.mark_applied(key, {"status": "applied" if actions else "noop", "sale_status": status,
                                   "order_state": states[0], "shipment_state": states[1]})
            outcome.rows.append(_row(a, status, "updated" if actions else "in_sync"))
        except ApiError as exc:
            stats.failed += 1
            stats.errors.append(f"{a.order_number}: {exc}")
            outcome.rows.append(_row(a, None, "failed"))
    if outcome.touched:
        outcome.fresh_levels = await refresh_levels(pos, outcome.touched)
    return outcome


def _row(a: Assignment, status: str | None, outcome: str) -> dict:
    order_state, shipment_state = CT_STATES.get(status or "", (None, None))
    return {"order_id": a.order_id, "order_number": a.order_number, "location_key": a.store, "pos_sale_id": a.pos_sale_id,
            "fulfilment": a.fulfilment, "pos_status": status, "order_state": order_state,
            "shipment_state": shipment_state, "units": sum(a.lines.values()), "lines": json.dumps(sorted(a.lines.items())),
            "outcome": outcome}


def _final_recorded(ops: OpsStore, flow: str) -> set[str]:
    """Sales whose final status is already written to commercetools (nothing more will change)."""
    c = t.ledger.c
    with ops.engine.connect() as conn:
        rows = conn.execute(select(c.payload).where(c.flow == flow, c.status == "applied")).all()
    done = set()
    for (payload,) in rows:
        p = json.loads(payload or "{}")
        if p.get("sale_status") in FINAL and p.get("pos_sale_id"):
            done.add(p["pos_sale_id"])
    return done
