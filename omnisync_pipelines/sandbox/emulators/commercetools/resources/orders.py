"""Orders created by `POST /orders/import` (OrderImportDraft) and their update actions."""

from __future__ import annotations

from ..errors import (
    CtError,
    duplicate,
    enum_value,
    invalid_input,
    invalid_operation,
    referenced_not_found,
    required,
)
from ..fields import (
    address,
    channel_with_role,
    custom_actions,
    custom_fields,
    money,
    reference,
    resolve,
    setter,
)
from ..indexes import field_index
from ..store import Ctx
from .base import ResourceKind
from .inventory import adjust_stock, find_entry
from .returns import RETURN_ACTIONS
from .shipping import shipping_info
from .taxes import item_taxes, taxed_price

ORDER_STATES = ("Open", "Confirmed", "Complete", "Cancelled")
SHIPMENT_STATES = ("Shipped", "Delivered", "Ready", "Pending", "Delayed", "Partial", "Backorder", "Canceled")
PAYMENT_STATES = ("BalanceDue", "Failed", "Pending", "CreditOwed", "Paid")
INVENTORY_MODES = ("None", "TrackOnly", "ReserveOnOrder")


def _times(money_value: dict, quantity: int) -> dict:
    return {**money_value, "centAmount": money_value["centAmount"] * quantity}


def _product_with_sku(ctx: Ctx, sku: str) -> tuple[dict, dict] | None:
    for product in ctx.candidates("product", ("variants.sku", sku)):
        for data in (product["masterData"]["current"], product["masterData"]["staged"]):
            for variant in [data["masterVariant"], *data["variants"]]:
                if variant.get("sku") == sku:
                    return product, variant
    return None


def _line_item(ctx: Ctx, draft: dict, index: int) -> dict:
    field = f"lineItems[{index}]"
    variant_draft = required(draft, "variant")
    sku = variant_draft.get("sku")
    found = _product_with_sku(ctx, sku) if sku else None
    if found is None:
        raise invalid_input(f"{field}.variant: A product variant with SKU '{sku}' does not exist.")
    product, variant = found
    if draft.get("productId") not in (None, product["id"]):
        raise invalid_input(f"{field}.productId: the variant with SKU '{sku}' belongs to product '{product['id']}'.")
    quantity = required(draft, "quantity")
    price_draft = required(draft, "price")
    unit = {"id": ctx.new_id(), "value": money(required(price_draft, "value"), f"{field}.price.value")}
    for name in ("country", "channel", "customerGroup"):
        if price_draft.get(name) is not None:
            unit[name] = price_draft[name]
    item = {
        "id": ctx.new_id(),
        "productId": product["id"],
        "name": required(draft, "name"),
        "productType": product["productType"],
        "productSlug": product["masterData"]["current"]["slug"],
        "variant": {"id": variant["id"], "sku": sku, "prices": variant_draft.get("prices") or [],
                    "attributes": variant_draft.get("attributes") or [], "images": variant_draft.get("images") or []},
        "price": unit,
        "quantity": quantity,
        "totalPrice": _times(unit["value"], quantity),
        "discountedPricePerQuantity": [],
        "state": [],
        "priceMode": "ExternalPrice",
        "lineItemMode": "Standard",
        "perMethodTaxRate": [],  # required in LineItem (filled only in the Multiple shipping mode)
        "taxedPricePortions": [],
        "addedAt": ctx.now,
        "lastModifiedAt": ctx.now,
    }
    if product.get("key") is not None:
        item["productKey"] = product["key"]
    item_taxes(item, draft, item["totalPrice"], field)
    supply = channel_with_role(ctx, draft.get("supplyChannel"), "InventorySupply", f"{field}.supplyChannel")
    if supply is not None:
        item["supplyChannel"] = supply
    distribution = channel_with_role(ctx, draft.get("distributionChannel"), "ProductDistribution",
                                     f"{field}.distributionChannel")
    if distribution is not None:
        item["distributionChannel"] = distribution
    if draft.get("inventoryMode") is not None:
        item["inventoryMode"] = enum_value(draft["inventoryMode"], INVENTORY_MODES, f"{field}.inventoryMode")
    if draft.get("custom") is not None:
        item["custom"] = custom_fields(ctx, draft["custom"], "line-item", f"{field}.custom")
    return item


def _custom_line_item(ctx: Ctx, draft: dict, index: int) -> dict:
    field = f"customLineItems[{index}]"
    unit = money(required(draft, "money"), f"{field}.money")
    quantity = draft.get("quantity", 1)
    item = {"id": ctx.new_id(), "name": required(draft, "name"), "money": unit, "quantity": quantity,
            "totalPrice": _times(unit, quantity), "slug": required(draft, "slug"),
            "discountedPricePerQuantity": [], "state": [], "priceMode": "Standard",
            "perMethodTaxRate": [], "taxedPricePortions": []}
    for name in ("taxCategory", "key"):
        if draft.get(name) is not None:
            item[name] = draft[name]
    item_taxes(item, draft, item["totalPrice"], field)
    return item


def _apply_inventory(ctx: Ctx, order: dict) -> None:
    for item in order["lineItems"]:
        mode = item.get("inventoryMode", order["inventoryMode"])
        if mode == "None":
            continue
        channel_id = (item.get("supplyChannel") or {}).get("id")
        entry = find_entry(ctx, item["variant"]["sku"], channel_id)
        if entry is None or (mode == "ReserveOnOrder" and entry["availableQuantity"] < item["quantity"]):
            if mode == "TrackOnly":
                continue
            raise CtError(400, "OutOfStock", f"Some line items are out of stock at the time of placing the order: "
                          f"{item['variant']['sku']}.", lineItems=[item["id"]], skus=[item["variant"]["sku"]])
        adjust_stock(ctx, ctx.edit("inventory-entry", entry["id"]), -item["quantity"])


def import_order(ctx: Ctx, draft: dict) -> dict:
    order = {
        "orderState": enum_value(draft.get("orderState", "Open"), ORDER_STATES, "orderState"),
        "inventoryMode": enum_value(draft.get("inventoryMode", "None"), INVENTORY_MODES, "inventoryMode"),
        "origin": draft.get("origin", "Customer"),
        "totalPrice": money(required(draft, "totalPrice"), "totalPrice"),
        "lineItems": [_line_item(ctx, d, i) for i, d in enumerate(draft.get("lineItems") or [])],
        "customLineItems": [_custom_line_item(ctx, d, i) for i, d in enumerate(draft.get("customLineItems") or [])],
        "taxMode": draft.get("taxMode", "Platform"),
        "taxRoundingMode": "HalfEven",
        "taxCalculationMode": draft.get("taxCalculationMode", "LineItemLevel"),
        "shippingMode": "Single",
        "shipping": [],
        "syncInfo": [],
        "returnInfo": [],
        "discountCodes": [],
        "directDiscounts": [],
        "refusedGifts": [],
        "itemShippingAddresses": [],
    }
    if draft.get("shipmentState") is not None:
        order["shipmentState"] = enum_value(draft["shipmentState"], SHIPMENT_STATES, "shipmentState")
    if draft.get("paymentState") is not None:
        order["paymentState"] = enum_value(draft["paymentState"], PAYMENT_STATES, "paymentState")
    for name in ("orderNumber", "customerEmail", "country", "completedAt", "locale", "purchaseOrderNumber"):
        if draft.get(name) is not None:
            order[name] = draft[name]
    if draft.get("customerId") is not None:
        if ctx.get("customer", draft["customerId"]) is None:
            raise referenced_not_found("customer", draft["customerId"])
        order["customerId"] = draft["customerId"]
    if draft.get("store") is not None:
        order["store"] = {"typeId": "store", "key": resolve(ctx, draft["store"], "store", "store")["key"]}
    if draft.get("taxedPrice") is not None:
        order["taxedPrice"] = taxed_price(draft["taxedPrice"])
    for name in ("shippingAddress", "billingAddress"):
        if draft.get(name) is not None:
            order[name] = address(ctx, draft[name], with_id=False)
    if draft.get("shippingInfo") is not None:
        order["shippingInfo"] = shipping_info(ctx, draft["shippingInfo"])
        if "taxedPrice" in order["shippingInfo"]:
            order["taxedShippingPrice"] = order["shippingInfo"]["taxedPrice"]
    if draft.get("paymentInfo") is not None:
        order["paymentInfo"] = {"payments": [reference(ctx, p, "payment", f"paymentInfo.payments[{i}]")
                                             for i, p in enumerate(draft["paymentInfo"].get("payments") or [])]}
    if draft.get("custom") is not None:
        order["custom"] = custom_fields(ctx, draft["custom"], "order")
    _apply_inventory(ctx, order)
    return order


# -- actions ----------------------------------------------------------------------------------
def _change_state(field: str, allowed: tuple[str, ...], message: str):
    def apply(ctx: Ctx, order: dict, action: dict) -> None:
        old = order.get(field)
        new = enum_value(required(action, field), allowed, field)
        if old == new:
            return
        order[field] = new
        old_key = "oldState" if field == "orderState" else f"old{field[0].upper()}{field[1:]}"
        ctx.emit("order", order["id"], message, **{field: new, old_key: old})

    return apply


def _line_item_ids(order: dict) -> set[str]:
    return {item["id"] for item in order["lineItems"]} | {item["id"] for item in order["customLineItems"]}


def _add_delivery(ctx: Ctx, order: dict, action: dict) -> None:
    if order.get("shippingInfo") is None:
        raise invalid_operation("The order has no shippingInfo; a delivery cannot be added.")
    for item in action.get("items") or []:
        if item.get("id") not in _line_item_ids(order):
            raise invalid_input(f"The line item with ID '{item.get('id')}' does not exist on this order.")
    delivery = {"id": ctx.new_id(), "createdAt": ctx.now, "items": action.get("items") or [],
                "parcels": [{"id": ctx.new_id(), "createdAt": ctx.now, **p} for p in action.get("parcels") or []]}
    for name in ("key", "address"):
        if action.get(name) is not None:
            delivery[name] = action[name]
    order["shippingInfo"]["deliveries"] = order["shippingInfo"]["deliveries"] + [delivery]
    ctx.emit("order", order["id"], "DeliveryAdded", delivery=delivery)


def _set_parcel_tracking(ctx: Ctx, order: dict, action: dict) -> None:
    parcel_id = required(action, "parcelId")
    for delivery in (order.get("shippingInfo") or {}).get("deliveries", []):
        for parcel in delivery["parcels"]:
            if parcel["id"] == parcel_id:
                parcel["trackingData"] = action.get("trackingData")
                return
    raise invalid_input(f"The parcel with ID '{parcel_id}' does not exist on this order.")


def _add_payment(ctx: Ctx, order: dict, action: dict) -> None:
    ref = reference(ctx, required(action, "payment"), "payment", "payment")
    payments = (order.get("paymentInfo") or {}).get("payments", [])
    if all(p["id"] != ref["id"] for p in payments):
        order["paymentInfo"] = {"payments": payments + [ref]}


def _remove_payment(ctx: Ctx, order: dict, action: dict) -> None:
    ref = reference(ctx, required(action, "payment"), "payment", "payment")
    payments = [p for p in (order.get("paymentInfo") or {}).get("payments", []) if p["id"] != ref["id"]]
    order["paymentInfo"] = {"payments": payments}


def _set_order_number(ctx: Ctx, order: dict, action: dict) -> None:
    if order.get("orderNumber") is not None:
        raise invalid_operation("The orderNumber can only be set once.")
    setter("orderNumber")(ctx, order, action)


def _set_store(ctx: Ctx, order: dict, action: dict) -> None:
    if action.get("store") is None:
        order.pop("store", None)
    else:
        order["store"] = {"typeId": "store", "key": resolve(ctx, action["store"], "store", "store")["key"]}


def _set_address(field: str):
    return lambda ctx, order, action: setter(field, "address")(ctx, order, {"address": address(
        ctx, action.get("address"), with_id=False)})


def _validate(ctx: Ctx, order: dict) -> None:
    number = order.get("orderNumber")
    if number is not None and any(o["id"] != order["id"] and o.get("orderNumber") == number
                                  for o in ctx.candidates("order", ("orderNumber", number))):
        raise duplicate("orderNumber", number)


ORDERS = ResourceKind(
    path="orders", type_id="order",
    view_scopes=("view_orders", "manage_orders"), manage_scopes=("manage_orders",),
    create=import_order,
    actions={
        "changeOrderState": _change_state("orderState", ORDER_STATES, "OrderStateChanged"),
        "changeShipmentState": _change_state("shipmentState", SHIPMENT_STATES, "OrderShipmentStateChanged"),
        "changePaymentState": _change_state("paymentState", PAYMENT_STATES, "OrderPaymentStateChanged"),
        "addDelivery": _add_delivery,
        "setParcelTrackingData": _set_parcel_tracking,
        "addPayment": _add_payment,
        "removePayment": _remove_payment,
        "setOrderNumber": _set_order_number,
        "setStore": _set_store,
        "setCustomerEmail": setter("customerEmail", "email"),
        "setCustomerId": setter("customerId"),
        "setShippingAddress": _set_address("shippingAddress"),
        "setBillingAddress": _set_address("billingAddress"),
        "setLocale": setter("locale"),
        "setPurchaseOrderNumber": setter("purchaseOrderNumber"),
        **RETURN_ACTIONS,
        **custom_actions("order"),
    },
    validate=_validate,
    message_prefix="Order",
    created_message="OrderImported",
    indexes=(field_index("orderNumber"),),
)
