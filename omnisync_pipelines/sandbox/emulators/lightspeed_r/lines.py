"""SaleLines: built from a request (item by `itemID` or `itemCode`, the till's price of the shop's price
level unless `unitPrice` is given), priced with the shop's TaxCategory, noted (`Note`), reserved for
layaways (ItemShop.onLayaway + InventorySales) and capped when they refund a parent line."""

from __future__ import annotations

from omnisync_pipelines.sandbox.emulators.lightspeed_r.errors import WriteError
from omnisync_pipelines.sandbox.emulators.lightspeed_r.store import Store
from omnisync_pipelines.sandbox.emulators.lightspeed_r.writes import need, price_for, typed


def tax_category(store: Store, shop_id: int) -> dict:
    shop = store.tables["Shop"].get(shop_id, {})
    return store.tables["TaxCategory"].get(shop.get("taxCategoryID", 0), {})


def find_item(store: Store, given: dict) -> int:
    """`itemCode` matches an item's UPC, EAN or itemID (sale.md)."""
    if given.get("itemID") not in (None, "", 0, "0") or "itemCode" not in given:
        return need(store, "Item", given.get("itemID"), "Item")
    code = str(given["itemCode"])
    for item in store.tables["Item"].values():
        if code and code in (item["upc"], item["ean"], str(item["itemID"])):
            return item["itemID"]
    raise WriteError(f"Item {code} not found.")


def refundable(store: Store, parent: dict, planned: int = 0) -> int:
    """Units of `parent` not yet refunded by lines of sales that are not voided."""
    refunded = sum(-line["unitQuantity"] for line in store.tables["SaleLine"].values()
                   if line["parentSaleLineID"] == parent["saleLineID"]
                   and not store.tables["Sale"].get(line["saleID"], {}).get("voided", False))
    return parent["unitQuantity"] - refunded - planned


def build(store: Store, given: dict, *, shop_id: int, employee_id: int, customer_id: int,
          planned: dict[int, int] | None = None) -> dict:
    """A line (not stored yet). `planned` counts the units other lines of the same request refund."""
    item = store.tables["Item"][find_item(store, given)]
    qty = int(float(given.get("unitQuantity", 1)))
    parent_id = int(given.get("parentSaleLineID") or 0)
    if parent_id:
        parent = store.tables["SaleLine"].get(parent_id)
        if parent is None:
            raise WriteError(f"SaleLine {parent_id} not found.")
        if qty >= 0 or parent["itemID"] != item["itemID"]:
            raise WriteError("A refund line needs a negative unitQuantity and its parent line's item.")
        planned = planned if planned is not None else {}
        if -qty > refundable(store, parent, planned.get(parent_id, 0)):
            raise WriteError(f"Refund quantity exceeds what is left of SaleLine {parent_id}.", 422)
        planned[parent_id] = planned.get(parent_id, 0) - qty
    price = float(given["unitPrice"]) if "unitPrice" in given else price_for(store, item, shop_id)
    tax_cat = tax_category(store, shop_id)
    line = {"createTime": store.now(), "unitQuantity": qty, "unitPrice": price, "normalUnitPrice": price,
            "discountAmount": float(given.get("discountAmount") or 0), "discountPercent": float(given.get("discountPercent") or 0),
            "avgCost": item["avgCost"], "fifoCost": item["defaultCost"],
            "tax": typed(True, given.get("tax", item["tax"])) and item["tax"], "tax1Rate": 0.0, "tax2Rate": 0.0,
            "isLayaway": typed(False, given.get("isLayaway", False)),
            "isWorkorder": False, "isSpecialOrder": typed(False, given.get("isSpecialOrder", False)),
            "displayableSubtotal": 0.0, "displayableUnitPrice": price, "lineType": "", "calcLineDiscount": 0.0,
            "calcTransactionDiscount": 0.0, "calcTotal": 0.0, "calcSubtotal": 0.0, "calcTax1": 0.0, "calcTax2": 0.0,
            "taxClassID": item["taxClassID"], "customerID": customer_id, "discountID": 0, "employeeID": employee_id,
            "itemID": item["itemID"], "noteID": 0, "parentSaleLineID": parent_id, "shopID": shop_id,
            "taxCategoryID": tax_cat.get("taxCategoryID", 0), "saleID": 0, "itemFeeID": 0}
    if line["discountAmount"] and line["discountPercent"]:
        raise WriteError("A line can have a discountAmount or a discountPercent, not both.")
    price_line(store, line)
    return line


def price_line(store: Store, line: dict) -> None:
    """calc* fields from quantity, unit price and discount. `discountAmount` is for the whole line. A
    tax-inclusive TaxCategory: the price is gross, tax is carved out of it, calcSubtotal and
    calcLineDiscount are net, so calcTotal = calcSubtotal - calcLineDiscount + taxes = the gross paid."""
    tax_cat = tax_category(store, line["shopID"])
    rate1 = float(tax_cat.get("tax1Rate", 0.0)) if line["tax"] else 0.0
    rate2 = float(tax_cat.get("tax2Rate", 0.0)) if line["tax"] else 0.0
    gross = line["unitQuantity"] * line["unitPrice"]
    sign = -1 if line["unitQuantity"] < 0 else 1
    discount = sign * abs(line["discountAmount"]) if line["discountAmount"] else gross * line["discountPercent"]
    after = round(gross - discount, 2)
    if tax_cat.get("isTaxInclusive"):
        net_share = 1 / (1 + rate1 + rate2)
        tax1, tax2 = round(after * rate1 * net_share, 2), round(after * rate2 * net_share, 2)
        subtotal = round(gross * net_share, 2)
        line_discount = round(subtotal - (after - tax1 - tax2), 2)
        total = after
    else:
        subtotal, line_discount = round(gross, 2), round(discount, 2)
        tax1, tax2 = round(after * rate1, 2), round(after * rate2, 2)
        total = round(after + tax1 + tax2, 2)
    line.update({"tax1Rate": rate1, "tax2Rate": rate2, "displayableSubtotal": after, "calcSubtotal": subtotal,
                 "calcLineDiscount": line_discount, "calcTax1": tax1, "calcTax2": tax2, "calcTotal": total})


def set_note(store: Store, line: dict, given: dict) -> None:
    """`{"Note": {"note": "..."}}`: one Note per line (saleline.md), created or edited."""
    note = given.get("Note")
    if not isinstance(note, dict) or "note" not in note:
        return
    row = store.tables["Note"].get(line["noteID"])
    if row is None:
        row = store.insert("Note", {"note": "", "isPublic": False})
        line["noteID"] = row["noteID"]
    row["note"] = str(note["note"])
    row["isPublic"] = typed(False, note.get("isPublic", row["isPublic"]))
    store.touch(row)


def reserved(store: Store, line: dict) -> int:
    return sum(s["quantity"] for s in allocations(store, line["saleLineID"]))


def allocations(store: Store, line_id: int) -> list[dict]:
    return [s for s in store.tables["InventorySale"].values() if s["saleLineID"] == line_id]


def reserve(store: Store, line: dict, require_full: bool) -> None:
    """Holds what is free of the layaway's units (all of them, or fail, with `requireFullReservation`)."""
    item = store.tables["Item"][line["itemID"]]
    if not line["isLayaway"] or item["itemType"] == "non_inventory":
        return
    wanted = line["unitQuantity"] - reserved(store, line)
    if wanted <= 0:
        return release(store, line, -wanted)
    free = max(0, store.available(line["itemID"], line["shopID"]))
    if require_full and free < wanted:
        raise WriteError(f"Insufficient inventory to reserve {wanted} of item {line['itemID']}: {free} available.", 422)
    units = min(free, wanted)
    if units:
        lot = store.item_shop(line["itemID"], line["shopID"])["itemShopID"]
        store.insert("InventorySale", {"quantity": units, "createTime": store.now(), "inventoryID": lot,
                                       "saleLineID": line["saleLineID"]})
        store.hold(line["itemID"], line["shopID"], units)


def release(store: Store, line: dict, units: int | None = None) -> None:
    """Gives back `units` (all when None) of a line's reservation."""
    left = reserved(store, line) if units is None else units
    for allocation in sorted(allocations(store, line["saleLineID"]), key=lambda s: -s["inventorySaleID"]):
        if left <= 0:
            break
        taken = min(left, allocation["quantity"])
        allocation["quantity"] -= taken
        if not allocation["quantity"]:
            del store.tables["InventorySale"][allocation["inventorySaleID"]]
        store.hold(line["itemID"], line["shopID"], -taken)
        left -= taken
