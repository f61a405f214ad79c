"""Purchase orders: Order POST/PUT/DELETE (order.md; DELETE archives) and OrderLine POST/PUT/DELETE
(orderline.md; DELETE removes the line), as the inventory-levels tutorial uses them: an Order names the
shop that receives it (`shopID` required), lines are added one by one, and `numReceived` records units
"received but not checked in (hasn't been added to inventory yet)". Checking in, which adds the units to
the shop's qoh, is done in Retail POS (tutorial, "Finishing the Purchase Order"): `check_in` is that
button, for the sandbox. Open orders' unreceived units are the ItemShop `backorder` (itemshop.md)."""

from __future__ import annotations

from omnisync_pipelines.sandbox.emulators.lightspeed_r import lines as saleline
from omnisync_pipelines.sandbox.emulators.lightspeed_r.errors import WriteError
from omnisync_pipelines.sandbox.emulators.lightspeed_r.store import Store
from omnisync_pipelines.sandbox.emulators.lightspeed_r.writes import assign, need
from omnisync_pipelines.sandbox.emulators.lightspeed_r.xmljson import iso, parse_time

RECEIVED_REASON = "GenericReason"  # InventoryLog's Reasons list names none for a purchase order: orderID says it
ORDER_DEFAULTS = {
    "orderedDate": "", "receivedDate": "", "arrivalDate": "", "shipInstructions": "", "stockInstructions": "",
    "shipCost": 0.0, "shipVendorCost": 0.0, "otherCost": 0.0, "otherVendorCost": 0.0, "complete": False,
    "archived": False, "discount": 0.0, "totalDiscount": 0.0, "totalQuantity": 0, "subTotalCost": 0.0,
    "totalCost": 0.0, "timeStamp": "", "refNum": "", "createTime": "", "vendorCurrencyRate": 1.0,
    "vendorCurrencyCode": "", "shippingCostMethod": "evenly", "hasShipments": False,
    "discountMethod": "proportionally", "discountMoneyValue": 0.0, "discountMoneyVendorValue": 0.0,
    "discountIsPercent": False, "discountPercentValue": 0.0, "costsModifiedAfterShipment": False,
    "b2bOrderUID": "", "b2bOrderNumber": "", "vendorID": 0, "noteID": 0, "shopID": 0, "createdByEmployeeID": 0}
ORDER_WRITABLE = {"refNum", "shipInstructions", "stockInstructions", "shipCost", "otherCost", "discount", "shopID",
                  "b2bOrderUID", "b2bOrderNumber", "vendorID"}  # the POST/PUT "Attributes" tables
DATES = ("orderedDate", "receivedDate", "arrivalDate")
LINE_DEFAULTS = {"quantity": 0, "price": 0.0, "originalPrice": 0.0, "vendorCost": 0.0, "checkedIn": 0,
                 "numReceived": 0, "timeStamp": "", "total": 0.0, "createTime": "", "shippingCost": 0.0,
                 "shippingVendorCost": 0.0, "discountMoneyValue": 0.0, "discountMoneyVendorValue": 0.0,
                 "discountPercentValue": 0.0, "orderID": 0, "itemID": 0}
LINE_WRITABLE = {"quantity", "price", "originalPrice", "vendorCost", "numReceived"}


def lines_of(store: Store, order_id: int) -> list[dict]:
    return [r for r in store.tables["OrderLine"].values() if r["orderID"] == order_id]


def _dates(row: dict, body: dict) -> bool:
    changed = False
    for field in DATES:
        if field not in body:
            continue
        text = str(body[field] or "").strip()
        try:
            value = iso(parse_time(text).timestamp()) if text else ""
        except ValueError as exc:
            raise WriteError(f"Invalid value for {field}: {text}") from exc
        changed |= row[field] != value
        row[field] = value
    return changed


def _check_order(store: Store, body: dict) -> None:
    if "shopID" in body:  # vendorID is kept as given: the emulator serves no Vendor resource
        need(store, "Shop", body["shopID"], "Shop")


def new_order(store: Store, body: dict, employee_id: int = 0) -> dict:
    if not int(float(body.get("shopID") or 0)):
        raise WriteError("shopID is required.")
    _check_order(store, body)
    row = dict(ORDER_DEFAULTS)
    assign(row, body, ORDER_WRITABLE, ORDER_DEFAULTS)
    _dates(row, body)
    row.update(createTime=store.now(), createdByEmployeeID=employee_id or min(store.tables["Employee"], default=0))
    row = store.insert("Order", row)
    saleline.set_note(store, row, body)
    return row


def update_order(store: Store, row: dict, body: dict) -> dict:
    _check_order(store, body)
    if "shopID" in body and int(float(body["shopID"])) != row["shopID"] and any(
            line["checkedIn"] for line in lines_of(store, row["orderID"])):
        raise WriteError("The shop of an order with checked-in units can not change.", 422)
    before = row["shopID"]
    changed = assign(row, body, ORDER_WRITABLE, ORDER_DEFAULTS) | _dates(row, body)
    saleline.set_note(store, row, body)
    if changed or "Note" in body:
        _totals(store, row)
        store.touch(row)
    for line in lines_of(store, row["orderID"]):
        backorder(store, line["itemID"], before)
        backorder(store, line["itemID"], row["shopID"])
    return row


def archive_order(store: Store, row: dict) -> dict:
    """DELETE archives (order.md); "archived orders are not counted towards backorder totals"."""
    row["archived"] = True
    store.touch(row)
    for line in lines_of(store, row["orderID"]):
        backorder(store, line["itemID"], row["shopID"])
    return row


def _totals(store: Store, order: dict) -> None:
    found = lines_of(store, order["orderID"])
    order["totalQuantity"] = sum(line["quantity"] for line in found)
    order["subTotalCost"] = round(sum(line["total"] for line in found), 2)
    order["totalDiscount"] = round(sum(line["quantity"] * (line["originalPrice"] - line["price"]) for line in found), 2)
    order["totalCost"] = round(order["subTotalCost"] + order["shipCost"] + order["otherCost"], 2)


def backorder(store: Store, item_id: int, shop_id: int) -> None:
    """ItemShop.backorder = units on open (not archived, not complete) orders of the shop not yet checked in."""
    row = store.item_shop(item_id, shop_id)
    if row is None or not shop_id:
        return
    wanted = sum(max(line["quantity"] - line["checkedIn"], 0) for line in store.tables["OrderLine"].values()
                 if line["itemID"] == item_id and _open(store.tables["Order"][line["orderID"]])
                 and store.tables["Order"][line["orderID"]]["shopID"] == shop_id)
    store.bump(item_id, shop_id, "backorder", wanted - row["backorder"])


def _open(order: dict) -> bool:
    return not order["archived"] and not order["complete"]


def _editable(order: dict) -> None:
    if not _open(order):
        raise WriteError(f"Order {order['orderID']} is {'archived' if order['archived'] else 'complete'}: "
                         "its lines can not change.", 422)


def _numbers(line: dict, body: dict) -> None:
    for field in ("quantity", "numReceived"):
        if field in body and int(float(body[field] or 0)) < 0:
            raise WriteError(f"{field} can not be negative.")
    assign(line, body, LINE_WRITABLE, LINE_DEFAULTS)
    line["total"] = round(line["quantity"] * line["price"], 2)


def new_line(store: Store, body: dict) -> dict:
    for key in ("orderID", "itemID"):
        if not body.get(key):
            raise WriteError(f"{key} is required.")
    order = store.tables["Order"][need(store, "Order", body.get("orderID"), "Order")]
    item = store.tables["Item"][need(store, "Item", body.get("itemID"), "Item")]
    _editable(order)
    line = dict(LINE_DEFAULTS)
    line.update(price=item["defaultCost"], originalPrice=item["defaultCost"])
    if "price" in body and "originalPrice" not in body:
        line["originalPrice"] = float(body["price"] or 0)
    _numbers(line, body)
    line.update(createTime=store.now(), orderID=order["orderID"], itemID=item["itemID"])
    line = store.insert("OrderLine", line)
    _changed(store, order, line["itemID"])
    return line


def update_line(store: Store, line: dict, body: dict) -> dict:
    order = store.tables["Order"][line["orderID"]]
    _editable(order)
    for key in ("orderID", "itemID"):  # the PUT sample repeats orderID: the same value is fine
        if key in body and int(float(body[key] or 0)) != line[key]:
            raise WriteError(f"The {key} of an order line can not change.")
    _numbers(line, body)
    store.touch(line)
    _changed(store, order, line["itemID"])
    return line


def delete_line(store: Store, line: dict) -> dict:
    order = store.tables["Order"][line["orderID"]]
    _editable(order)
    if line["checkedIn"]:
        raise WriteError(f"OrderLine {line['orderLineID']} has checked-in units and can not be deleted.", 422)
    del store.tables["OrderLine"][line["orderLineID"]]
    _changed(store, order, line["itemID"])
    return line


def _changed(store: Store, order: dict, item_id: int) -> None:
    _totals(store, order)
    store.touch(order)
    backorder(store, item_id, order["shopID"])


def check_in(store: Store, order: dict, employee_id: int = 0) -> dict:
    """Retail POS's check-in (not an API call): each line's `numReceived` goes to the shop's qoh, logged
    with the orderID, and becomes `checkedIn`; the order is complete and dated received."""
    if order["archived"]:
        raise WriteError(f"Order {order['orderID']} is archived.", 422)
    for line in sorted(lines_of(store, order["orderID"]), key=lambda r: r["orderLineID"]):
        units = line["numReceived"]
        if units:
            shop = store.item_shop(line["itemID"], order["shopID"])
            store.set_qoh(line["itemID"], order["shopID"], shop["qoh"] + units, RECEIVED_REASON,
                          employee_id=employee_id, orderID=order["orderID"], costChange=line["price"])
            line["checkedIn"] += units
            line["numReceived"] = 0
            store.touch(line)
    order["complete"] = True
    order["receivedDate"] = order["receivedDate"] or store.now()
    store.touch(order)
    for line in lines_of(store, order["orderID"]):
        backorder(store, line["itemID"], order["shopID"])
    return order
