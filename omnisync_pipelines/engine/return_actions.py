"""Pure builders of the order update actions that record a POS return (tiny, None when nothing to do).

The return is found again on the order by its `returnTrackingId` (derived from the POS return id)
and its items by their `key` (return id, POS return line, line item), so every builder can be re-run against a
re-read order without adding anything twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from omnisync_pipelines.canonical.models import Return, ReturnLine
from omnisync_pipelines.connectors.commercetools.actions import Action
from omnisync_pipelines.engine.order_drafts import safe_key


class NotReturnable(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class ItemTarget:
    """What one return item should end up as."""

    shipment_state: str  # BackInStock | Unusable
    payment_state: str  # Refunded | NonRefundable


def tracking_id(ret: Return) -> str:
    return f"POS-RETURN-{ret.return_id}"


def item_key(ret: Return, line: ReturnLine, line_item_id: str) -> str:
    return safe_key("ret", f"{ret.return_id}-{line.line_id}-{line_item_id}")


def line_of_item(ret: Return, lines: list[ReturnLine], item: dict) -> ReturnLine | None:
    """The POS return line a return item was recorded for (by its key)."""
    key, line_item_id = item.get("key"), item.get("lineItemId") or ""
    return next((line for line in lines if item_key(ret, line, line_item_id) == key), None)


def _custom_fields(resource: dict) -> dict:
    return ((resource.get("custom") or {}).get("fields")) or {}


def returned_so_far(order: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for info in order.get("returnInfo") or []:
        for item in info.get("items") or []:
            line_id = item.get("lineItemId")
            if line_id:
                counts[line_id] = counts.get(line_id, 0) + item.get("quantity", 0)
    return counts


def return_info_of(order: dict, tracking: str) -> dict | None:
    return next((i for i in order.get("returnInfo") or [] if i.get("returnTrackingId") == tracking), None)


def _candidates(order: dict, line: ReturnLine) -> list[dict]:
    """Line items of the SKU, the one sold as the POS line referenced by the return first."""
    items = [li for li in order.get("lineItems") or [] if (li.get("variant") or {}).get("sku") == line.sku]
    return sorted(items, key=lambda li: _custom_fields(li).get("posLineId") != line.original_line_ref)


def allocate(order: dict, lines: list[ReturnLine]) -> list[tuple[ReturnLine, str, int]]:
    """(return line, lineItemId, quantity) by SKU and remaining returnable quantity."""
    used = returned_so_far(order)
    parts: list[tuple[ReturnLine, str, int]] = []
    for line in lines:
        candidates = _candidates(order, line)
        if not candidates:
            raise NotReturnable("sku", f"SKU {line.sku} is not on order {order.get('orderNumber') or order.get('id')}")
        wanted = line.quantity
        for item in candidates:
            take = min(wanted, item["quantity"] - used.get(item["id"], 0))
            if take > 0:
                parts.append((line, item["id"], take))
                used[item["id"]] = used.get(item["id"], 0) + take
                wanted -= take
        if wanted:
            sold = sum(item["quantity"] for item in candidates)
            raise NotReturnable("quantity", f"returning {line.quantity} x {line.sku}, but only "
                                            f"{line.quantity - wanted} of {sold} sold are still returnable")
    return parts


def add_return_info(order: dict, ret: Return, lines: list[ReturnLine], reason_code: str, return_date: str) -> Action | None:
    """addReturnInfo with the items `Returned`; None when this return is already on the order."""
    tracking = tracking_id(ret)
    if return_info_of(order, tracking) is not None:
        return None
    items = [
        {"lineItemId": line_item_id, "quantity": quantity, "shipmentState": "Returned", "comment": reason_code,
         "key": item_key(ret, line, line_item_id)}
        for line, line_item_id, quantity in allocate(order, lines)
    ]
    return {"action": "addReturnInfo", "returnTrackingId": tracking, "returnDate": return_date, "items": items}


def set_return_shipment_state(item: dict, state: str) -> Action | None:
    if item.get("shipmentState") == state:
        return None
    return {"action": "setReturnShipmentState", "returnItemId": item["id"], "shipmentState": state}


def set_return_payment_state(item: dict, state: str) -> Action | None:
    if item.get("paymentState") == state:
        return None
    return {"action": "setReturnPaymentState", "returnItemId": item["id"], "paymentState": state}


def item_target(line: ReturnLine | None, refunded: bool) -> ItemTarget:
    restocked = line is None or line.restock
    return ItemTarget("BackInStock" if restocked else "Unusable", "Refunded" if refunded else "NonRefundable")


def return_state_actions(order: dict, ret: Return, lines: list[ReturnLine]) -> list[Action]:
    """Move this return's items to BackInStock/Unusable and Refunded/NonRefundable."""
    info = return_info_of(order, tracking_id(ret))
    actions: list[Action] = []
    for item in (info or {}).get("items") or []:
        target = item_target(line_of_item(ret, lines, item), ret.refund_total > 0)
        actions += [a for a in (set_return_shipment_state(item, target.shipment_state),
                                set_return_payment_state(item, target.payment_state)) if a]
    return actions


def items_back_in_stock(order: dict, ret: Return, line: ReturnLine) -> bool:
    """Whether this line's items are already BackInStock: the evidence a restock already happened."""
    info = return_info_of(order, tracking_id(ret)) or {}
    mine = [i for i in info.get("items") or [] if line_of_item(ret, [line], i) is line]
    return bool(mine) and all(i.get("shipmentState") == "BackInStock" for i in mine)


# refunds -------------------------------------------------------------------------------------


def refunded_by(payment: dict, interaction_id: str) -> bool:
    return any(t.get("type") == "Refund" and t.get("interactionId") == interaction_id
               for t in payment.get("transactions") or [])


def refundable(payment: dict) -> int:
    signs = {"Charge": 1, "Refund": -1}
    return sum(signs.get(t.get("type"), 0) * (t.get("amount") or {}).get("centAmount", 0)
               for t in payment.get("transactions") or [] if t.get("state") == "Success")


def refund_payment(payments: list[dict], amount: int) -> dict | None:
    """The payment to refund on: the first with enough charged and not yet refunded, else the first."""
    return next((p for p in payments if refundable(p) >= amount), payments[0] if payments else None)
