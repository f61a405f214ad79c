"""The reliability invariants, checked against the emulators' own state after a sync went quiet.

Each check returns what it found (lost and duplicated records, with names) so a test can assert
on it and the figures can count it: a record is *lost* when it is in neither commercetools nor the
rejected table, *duplicated* when commercetools holds it (or its effect) more than once.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from omnisync_pipelines_tests.reliability.harness import Rig


@dataclass
class Findings:
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    wrong_stock: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # well-formed till records rejected all the same
    reasons: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.wrong_stock or self.retrying or self.refused)

    def __str__(self) -> str:
        return (f"lost {self.lost[:10]}, duplicated {self.duplicated[:10]}, wrong stock {self.wrong_stock[:10]}, "
                f"retrying {self.retrying[:10]}, well-formed but rejected {self.refused[:10]}")


def check(rig: Rig, skip_stock: set[tuple[str, str]] = frozenset()) -> Findings:
    found = Findings(retrying=rig.retrying())
    rejected = rig.ops.rejected_frame()
    rejected_refs = {r.record_ref for r in rejected.itertuples() if r.reason}
    found.reasons = {r.record_ref: f"{r.field}: {r.reason}" for r in rejected.itertuples()}
    ledger = rig.ops.table_frame("ledger")
    _stock(rig, ledger, found, skip_stock)
    _sales(rig, ledger, rejected_refs, found)
    _returns(rig, ledger, rejected_refs, found)
    _online_orders(rig, found)
    return found


def _stock(rig: Rig, ledger, found: Findings, skip: set[tuple[str, str]]) -> None:
    """commercetools holds what the stores hold, per SKU x location, or exactly what the negative-stock
    policy reported; and the POS holds what the day's events say (no pickup set aside twice)."""
    reported: Counter = Counter()
    for row in ledger[ledger["flow"] == rig.stock_flow].itertuples():
        result = json.loads(row.result) if row.result else {}
        if result.get("negative_policy") and result.get("negative_policy") != "allow_negative_and_report":
            reported[row.record_ref] += int(result.get("discrepancy_units") or 0)
    expected, held = rig.expected_stock(), rig.ct_inventory()
    for (sku, store), want in expected.items():
        if (sku, store) in skip:
            continue
        have_ct = held.get((sku, store), 0)
        if have_ct != want and abs(have_ct - want) != reported[f"{sku}@{store}"]:
            found.wrong_stock.append(f"{sku}@{store}: commercetools {have_ct}, POS should hold {want}")
        pos = rig.probe.count(sku, store)
        if pos != want:
            found.wrong_stock.append(f"{sku}@{store}: POS {pos}, the day's events say {want}")


def _applied_or_rejected(ledger, flow: str, record_id: str, rejected_refs: set[str]) -> bool:
    mine = ledger[(ledger["flow"] == flow) & (ledger["record_ref"] == record_id)]
    return bool((mine["status"] == "applied").any()) or record_id in rejected_refs


def _sales(rig: Rig, ledger, rejected_refs: set[str], found: Findings) -> None:
    """Every till sale is one commercetools order (custom field posSaleId), or rejected with a reason."""
    by_sale = Counter(((o.get("custom") or {}).get("fields") or {}).get("posSaleId") for o in rig.ct_orders())
    for event_id, sale_id in rig.pos_sale_ids().items():
        held = by_sale[sale_id]
        if held > 1:
            found.duplicated.append(f"sale {event_id} ({sale_id}): {held} orders")
        if held == 0 and sale_id not in rejected_refs:
            found.lost.append(f"sale {event_id} ({sale_id}): no order, not rejected; {_where(rig, sale_id)}")
        if held == 0 and sale_id in rejected_refs:
            found.refused.append(f"sale {event_id} ({sale_id}): {found.reasons.get(sale_id)}")
        if not _applied_or_rejected(ledger, rig.orders_flow, sale_id, rejected_refs):
            found.lost.append(f"sale {event_id} ({sale_id}): neither applied nor rejected in the ledger")


def _where(rig: Rig, sale_id: str) -> str:
    """Where a lost sale got to: the POS, the snapshot, the ledger (for the failure message)."""
    pos = rig.probe.sale(sale_id) or {}
    try:
        snap = rig.query(f"SELECT count(*) AS n FROM {rig.pos}.orders WHERE order_id = ?", [sale_id])["n"][0]
    except Exception as exc:  # noqa: BLE001 - diagnostics only
        snap = f"unreadable ({exc})"
    cursor = rig.ops.table_frame("cursors").to_dict("records")
    return f"POS sale {pos or 'missing'}, rows in snapshot {snap}, cursors {cursor}"


def _returns(rig: Rig, ledger, rejected_refs: set[str], found: Findings) -> None:
    """Every till return is recorded once on its order (returnTrackingId), refunded once (a Refund
    transaction with the return's id), its items BackInStock and Refunded; or rejected with a reason."""
    tracking: Counter = Counter()
    states: dict[str, set] = {}
    for order in rig.ct_orders():
        for info in order.get("returnInfo") or []:
            tracking[info.get("returnTrackingId")] += 1
            for item in info.get("items") or []:
                states.setdefault(info.get("returnTrackingId"), set()).update(
                    {item.get("shipmentState"), item.get("paymentState")})
    refunds = Counter(t.get("interactionId") for p in rig.ct.store.all("payment") for t in p.get("transactions") or []
                      if t.get("type") == "Refund")
    for event_id, return_id in rig.pos_return_ids().items():
        if return_id in rejected_refs:
            found.refused.append(f"return {event_id} ({return_id}): {found.reasons.get(return_id)}")
            continue
        key = f"POS-RETURN-{return_id}"
        if tracking[key] != 1 or refunds[return_id] != 1:
            (found.duplicated if tracking[key] > 1 or refunds[return_id] > 1 else found.lost).append(
                f"return {event_id} ({return_id}): recorded {tracking[key]}x, refunded {refunds[return_id]}x")
        elif not {"BackInStock", "Refunded"} <= states.get(key, set()):
            found.lost.append(f"return {event_id}: item states {sorted(map(str, states.get(key, set())))}")
        if not _applied_or_rejected(ledger, rig.returns_flow, return_id, rejected_refs):
            found.lost.append(f"return {event_id} ({return_id}): neither applied nor rejected in the ledger")


def _online_orders(rig: Rig, found: Findings) -> None:
    """Every online order for store fulfilment is in commercetools once and set aside at the till once."""
    orders = Counter(o.get("orderNumber") for o in rig.ct_orders())
    pos_sales = Counter(s["order_id"] for s in rig.probe.sales() if s["order_id"])
    for online in rig.online_orders():
        if orders[online.order_number] != 1:
            (found.duplicated if orders[online.order_number] > 1 else found.lost).append(
                f"online order {online.order_number}: in commercetools {orders[online.order_number]}x")
            continue
        order = next(o for o in rig.ct_orders() if o.get("orderNumber") == online.order_number)
        held = pos_sales[order["id"]]
        if held > 1:
            found.duplicated.append(f"online order {online.order_number}: set aside at the till {held}x")
        elif held == 0 and online.order_number in found.reasons:
            found.refused.append(f"online order {online.order_number}: {found.reasons[online.order_number]}")
        elif held == 0:
            found.lost.append(f"online order {online.order_number}: not set aside at a till, not rejected")
