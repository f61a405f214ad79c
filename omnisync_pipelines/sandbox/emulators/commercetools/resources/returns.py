"""Order return actions: addReturnInfo, setReturnShipmentState, setReturnPaymentState."""

from __future__ import annotations

from ..errors import enum_value, invalid_input, invalid_json, invalid_operation, required
from ..fields import custom_fields
from ..store import Ctx

RETURN_SHIPMENT_STATES = ("Advised", "Returned", "BackInStock", "Unusable")
RETURN_PAYMENT_STATES = ("NonRefundable", "Initial", "Refunded", "NotRefunded")


def _returned_so_far(order: dict, item_field: str, item_id: str) -> int:
    return sum(r["quantity"] for info in order["returnInfo"] for r in info["items"] if r.get(item_field) == item_id)


def _return_item(ctx: Ctx, order: dict, draft: dict, index: int, pending: dict[str, int]) -> dict:
    field = f"items[{index}]"
    quantity = required(draft, "quantity")
    if not isinstance(quantity, int) or quantity < 1:
        raise invalid_json(f"{field}.quantity: must be a positive integer")
    if draft.get("lineItemId"):
        item_field, kind, lines = "lineItemId", "LineItemReturnItem", order["lineItems"]
    elif draft.get("customLineItemId"):
        item_field, kind, lines = "customLineItemId", "CustomLineItemReturnItem", order["customLineItems"]
    else:
        raise invalid_json(f"{field}: Either 'lineItemId' or 'customLineItemId' must be set")
    line = next((li for li in lines if li["id"] == draft[item_field]), None)
    if line is None:
        raise invalid_input(f"{field}.{item_field}: The line item with ID '{draft[item_field]}' does not exist.")
    already = _returned_so_far(order, item_field, line["id"]) + pending.get(line["id"], 0)
    if already + quantity > line["quantity"]:
        raise invalid_operation(
            f"Cannot return {quantity} of line item '{line['id']}': ordered {line['quantity']}, "
            f"already returned {already}.")
    pending[line["id"]] = pending.get(line["id"], 0) + quantity
    item = {"type": kind, "id": ctx.new_id(), item_field: line["id"], "quantity": quantity,
            "shipmentState": enum_value(required(draft, "shipmentState"), RETURN_SHIPMENT_STATES,
                                        f"{field}.shipmentState"),
            "paymentState": "Initial", "createdAt": ctx.now, "lastModifiedAt": ctx.now}
    for name in ("comment", "key"):
        if draft.get(name) is not None:
            item[name] = draft[name]
    if draft.get("custom") is not None:
        item["custom"] = custom_fields(ctx, draft["custom"], "order-return-item", f"{field}.custom")
    return item


def _add_return_info(ctx: Ctx, order: dict, action: dict) -> None:
    pending: dict[str, int] = {}
    items = [_return_item(ctx, order, d, i, pending) for i, d in enumerate(required(action, "items"))]
    info = {"items": items}
    for name in ("returnTrackingId", "returnDate"):
        if action.get(name) is not None:
            info[name] = action[name]
    order["returnInfo"] = order["returnInfo"] + [info]
    ctx.emit("order", order["id"], "ReturnInfoAdded", returnInfo=info)


def _find_return_item(order: dict, item_id: str) -> dict:
    for info in order["returnInfo"]:
        for item in info["items"]:
            if item["id"] == item_id:
                return item
    raise invalid_input(f"The return item with ID '{item_id}' does not exist.")


def _set_return_state(field: str, allowed: tuple[str, ...], message: str | None):
    """`message`: the message type and its state member, as the vendor document defines them
    (OrderReturnShipmentStateChanged carries `returnShipmentState`; it defines no message for a
    return payment state)."""
    def apply(ctx: Ctx, order: dict, action: dict) -> None:
        item = _find_return_item(order, required(action, "returnItemId"))
        new = enum_value(required(action, field), allowed, field)
        if item[field] != new:
            item[field] = new
            item["lastModifiedAt"] = ctx.now
            if message is not None:
                ctx.emit("order", order["id"], message, returnItemId=item["id"], returnShipmentState=new)

    return apply


RETURN_ACTIONS = {
    "addReturnInfo": _add_return_info,
    "setReturnShipmentState": _set_return_state("shipmentState", RETURN_SHIPMENT_STATES,
                                                "OrderReturnShipmentStateChanged"),
    "setReturnPaymentState": _set_return_state("paymentState", RETURN_PAYMENT_STATES, None),
}
