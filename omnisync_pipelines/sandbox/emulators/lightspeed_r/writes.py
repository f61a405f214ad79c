"""The writes of the first cut: Item POST/PUT/DELETE (incl. absolute `ItemShops` qoh, logged),
Customer POST/PUT (+ Contact), Sale POST (a completed sale must balance; it takes stock and logs)."""

from __future__ import annotations

from omnisync_pipelines.sandbox.emulators.lightspeed_r.store import PRICE_LEVELS, Store
from omnisync_pipelines.sandbox.emulators.lightspeed_r.xmljson import unwrap

QOH_REASON = "manualAdjustQOH"  # the docs' InventoryLog sample (their Reasons list says ManualQuantityAdjustment)
ITEM_DEFAULTS = {"systemSku": 0, "defaultCost": 0.0, "avgCost": 0.0, "discountable": True, "tax": True,
                 "archived": False, "itemType": "default", "serialized": False, "description": "", "modelYear": 0,
                 "upc": "", "ean": "", "customSku": "", "manufacturerSku": "", "createTime": "",
                 "publishToEcom": False, "categoryID": 0, "taxClassID": 1, "departmentID": 0, "itemMatrixID": 0,
                 "manufacturerID": 0, "seasonID": 0, "defaultVendorID": 0}
ITEM_WRITABLE = set(ITEM_DEFAULTS) - {"systemSku", "avgCost", "archived", "createTime"}
CUSTOMER_DEFAULTS = {"firstName": "", "lastName": "", "dob": "", "archived": False, "title": "", "company": "",
                     "companyRegistrationNumber": "", "vatNumber": "", "createTime": "", "creditAccountID": 0,
                     "customerTypeID": 0, "discountID": 0, "taxCategoryID": 0}
CUSTOMER_WRITABLE = set(CUSTOMER_DEFAULTS) - {"archived", "createTime", "creditAccountID"}


class WriteError(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _typed(default, value):
    if isinstance(default, bool):
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if isinstance(default, int):
        return int(float(value or 0))
    if isinstance(default, float):
        return float(value or 0)
    return "" if value is None else str(value)


def _assign(row: dict, body: dict, writable: set[str], defaults: dict) -> bool:
    changed = False
    for field in writable & set(body):
        value = _typed(defaults[field], body[field])
        changed |= row.get(field) != value
        row[field] = value
    return changed


# Item --------------------------------------------------------------------------------------------
def _prices(row: dict, body: dict) -> bool:
    changed = False
    for price in unwrap(body.get("Prices"), "ItemPrice"):
        level = int(price.get("useTypeID") or next((i for i, n in PRICE_LEVELS.items() if n == price.get("useType")), 0))
        if level not in PRICE_LEVELS:
            raise WriteError(f"Invalid price level: {price.get('useType') or price.get('useTypeID')}")
        entry = next(p for p in row["Prices"] if p["useTypeID"] == level)
        changed |= entry["amount"] != float(price.get("amount", 0))
        entry["amount"] = float(price.get("amount", 0))
    return changed


def _item_shops(store: Store, item_id: int, body: dict, employee_id: int) -> None:
    for entry in unwrap(body.get("ItemShops"), "ItemShop"):
        if "itemShopID" in entry:
            target = store.tables["ItemShop"].get(int(entry["itemShopID"]))
        elif "shopID" in entry:
            target = store.item_shop(item_id, int(entry["shopID"]))
        else:
            raise WriteError("Either itemShopID or shopID must be provided for an ItemShop.")
        if target is None or target["itemID"] != item_id or target["shopID"] == 0:
            raise WriteError("Invalid ItemShop for this item.")
        for field in ("reorderPoint", "reorderLevel"):
            if field in entry and int(entry[field]) != target[field]:
                target[field] = int(entry[field])
                store.touch(target)
        if "qoh" in entry:
            store.set_qoh(item_id, target["shopID"], int(entry["qoh"]), QOH_REASON, employee_id)


def update_item_shop(store: Store, row: dict, body: dict) -> dict:
    """`PUT ItemShop/{id}` edits the reorder fields only (changelog 2025.06.06); stock is written via Item."""
    if row["shopID"] == 0:
        raise WriteError("The shopID=0 ItemShop is a read-only summary.")
    if "qoh" in body:
        raise WriteError("qoh can not be updated on this endpoint; use PUT Item with ItemShops.")
    changed = False
    for field in ("reorderPoint", "reorderLevel"):
        if field in body and int(body[field]) != row[field]:
            row[field], changed = int(body[field]), True
    if changed:
        store.touch(row)
    return row


def new_item(store: Store, body: dict, employee_id: int = 0) -> dict:
    if not str(body.get("description", "")).strip():
        raise WriteError("description cannot be blank.")
    row = dict(ITEM_DEFAULTS)
    _assign(row, body, ITEM_WRITABLE, ITEM_DEFAULTS)
    row["createTime"] = store.now()
    row["Prices"] = [{"amount": 0.0, "useTypeID": i, "useType": n} for i, n in PRICE_LEVELS.items()]
    _prices(row, body)
    row = store.insert("Item", row)
    row["systemSku"] = 210000000000 + row["itemID"]
    store.ensure_item_shops(row["itemID"])
    _item_shops(store, row["itemID"], body, employee_id)
    return row


def update_item(store: Store, row: dict, body: dict, employee_id: int = 0) -> dict:
    changed = _assign(row, body, ITEM_WRITABLE, ITEM_DEFAULTS) | _prices(row, body)
    if changed:  # Item.timeStamp ignores related records (ItemShops)
        store.touch(row)
    _item_shops(store, row["itemID"], body, employee_id)
    return row


def archive_item(store: Store, row: dict) -> dict:
    """DELETE archives, and zeroes the stock (docs: "This can not be undone")."""
    for shop in store.item_shops(row["itemID"]):
        if shop["shopID"]:
            store.set_qoh(row["itemID"], shop["shopID"], 0, "RemoveForArchiveItem")
    row["archived"] = True
    store.touch(row)
    return row


# Customer ----------------------------------------------------------------------------------------
def _contact(store: Store, customer_id: int, body: dict) -> None:
    given = body.get("Contact")
    if not isinstance(given, dict):
        return
    contact = store.contacts.setdefault(("Customer", customer_id), {
        "custom": "", "noEmail": False, "noPhone": False, "noMail": False, "Addresses": [], "Phones": [],
        "Emails": [], "Websites": [], "timeStamp": store.now()})
    for flag in ("custom", "noEmail", "noPhone", "noMail"):
        if flag in given:
            contact[flag] = _typed(contact[flag], given[flag])
    for block, child in (("Addresses", "ContactAddress"), ("Phones", "ContactPhone"), ("Emails", "ContactEmail"),
                         ("Websites", "ContactWebsite")):
        if block in given:
            contact[block] = [{k: ("" if v is None else str(v)) for k, v in e.items()}
                              for e in unwrap(given[block], child)]
    contact["timeStamp"] = store.now()


def new_customer(store: Store, body: dict) -> dict:
    if not (str(body.get("firstName", "")).strip() or str(body.get("lastName", "")).strip()
            or str(body.get("company", "")).strip()):
        raise WriteError("Customer must have a firstName, lastName or company.")
    row = dict(CUSTOMER_DEFAULTS)
    _assign(row, body, CUSTOMER_WRITABLE, CUSTOMER_DEFAULTS)
    row["createTime"] = store.now()
    row = store.insert("Customer", row)
    _contact(store, row["customerID"], body)
    return row


def update_customer(store: Store, row: dict, body: dict) -> dict:
    _assign(row, body, CUSTOMER_WRITABLE, CUSTOMER_DEFAULTS)
    _contact(store, row["customerID"], body)
    store.touch(row)
    return row


# Sale --------------------------------------------------------------------------------------------
def _need(store: Store, table: str, value, label: str) -> int:
    try:
        ident = int(value or 0)
    except (TypeError, ValueError):
        ident = -1
    if ident not in store.tables[table]:
        raise WriteError(f"{label} {value} not found.")
    return ident


def new_sale(store: Store, body: dict) -> dict:
    shop_id = _need(store, "Shop", body.get("shopID"), "Shop")
    register_id = _need(store, "Register", body.get("registerID"), "Register")
    employee_id = _need(store, "Employee", body.get("employeeID"), "Employee")
    customer_id = _need(store, "Customer", body["customerID"], "Customer") if int(body.get("customerID") or 0) else 0
    completed = str(body.get("completed", "false")).lower() == "true"
    shop = store.tables["Shop"][shop_id]
    tax_cat = store.tables["TaxCategory"].get(shop.get("taxCategoryID", 0), {})
    rate1 = float(tax_cat.get("tax1Rate", 0.0))
    lines, subtotal, tax1 = [], 0.0, 0.0
    for given in unwrap(body.get("SaleLines"), "SaleLine"):
        item_id = _need(store, "Item", given.get("itemID"), "Item")
        item = store.tables["Item"][item_id]
        qty = int(float(given.get("unitQuantity", 1)))
        price = float(given.get("unitPrice", item["Prices"][0]["amount"]))
        line_sub = round(qty * price, 2)
        line_tax = round(line_sub * rate1, 2) if item["tax"] else 0.0
        subtotal, tax1 = subtotal + line_sub, tax1 + line_tax
        lines.append({"createTime": store.now(), "unitQuantity": qty, "unitPrice": price, "normalUnitPrice": price,
                      "discountAmount": 0.0, "discountPercent": 0.0, "avgCost": item["defaultCost"],
                      "fifoCost": item["defaultCost"], "tax": item["tax"], "tax1Rate": rate1, "tax2Rate": 0.0,
                      "isLayaway": False, "isWorkorder": False, "isSpecialOrder": False,
                      "calcLineDiscount": 0.0, "calcTransactionDiscount": 0.0, "calcTotal": round(line_sub + line_tax, 2),
                      "calcSubtotal": line_sub, "calcTax1": line_tax, "calcTax2": 0.0, "taxClassID": item["taxClassID"],
                      "customerID": customer_id, "discountID": 0, "employeeID": employee_id, "itemID": item_id,
                      "noteID": 0, "parentSaleLineID": int(given.get("parentSaleLineID") or 0), "shopID": shop_id,
                      "taxCategoryID": shop.get("taxCategoryID", 0)})
    total = round(subtotal + tax1, 2)
    payments = []
    for given in unwrap(body.get("SalePayments"), "SalePayment"):
        _need(store, "PaymentType", given.get("paymentTypeID"), "PaymentType")
        payments.append({"amount": float(given.get("amount", 0)), "createTime": store.now(), "archived": False,
                         "remoteReference": "", "tipAmount": 0.0, "paymentID": 0,
                         "paymentTypeID": int(given["paymentTypeID"]), "ccChargeID": 0, "refPaymentID": 0,
                         "registerID": register_id, "employeeID": employee_id, "creditAccountID": 0})
    paid = round(sum(p["amount"] for p in payments), 2)
    if completed and abs(paid - total) > 0.005:
        raise WriteError(f"Sale can not be completed: payments ({paid}) do not balance the total ({total}).", 422)
    sale = store.insert("Sale", {
        "discountPercent": 0.0, "completed": completed, "archived": False, "voided": False, "enablePromotions": True,
        "createTime": store.now(), "updatetime": store.now(), "completeTime": store.now() if completed else "",
        "referenceNumber": str(body.get("referenceNumber", "")), "referenceNumberSource": str(body.get("referenceNumberSource", "")),
        "tax1Rate": rate1, "tax2Rate": 0.0, "change": 0.0, "tipEnabled": False, "ticketNumber": "",
        "calcDiscount": 0.0, "calcTotal": total, "calcSubtotal": round(subtotal, 2), "calcTaxable": round(subtotal, 2),
        "calcNonTaxable": 0.0, "calcAvgCost": 0.0, "calcFIFOCost": 0.0, "calcTax1": round(tax1, 2), "calcTax2": 0.0,
        "calcPayments": paid, "calcTips": 0.0, "total": total, "totalDue": total, "displayableTotal": total,
        "balance": round(total - paid, 2), "customerID": customer_id, "discountID": 0, "employeeID": employee_id,
        "tipEmployeeID": 0, "quoteID": 0, "registerID": register_id, "shipToID": 0, "shopID": shop_id,
        "taxCategoryID": shop.get("taxCategoryID", 0)})
    sale["ticketNumber"] = f"2200000{sale['saleID']:05d}"
    for line in lines:
        store.insert("SaleLine", {**line, "saleID": sale["saleID"]})
        if completed and store.tables["Item"][line["itemID"]]["itemType"] != "non_inventory":
            shop_row = store.item_shop(line["itemID"], shop_id)
            if shop_row is not None:
                reason = "RemoveForTransaction" if line["unitQuantity"] > 0 else "RefundAddInventory"
                store.set_qoh(line["itemID"], shop_id, shop_row["qoh"] - line["unitQuantity"], reason, employee_id,
                              sale["saleID"], customer_id)
    for payment in payments:
        store.insert("SalePayment", {**payment, "saleID": sale["saleID"]})
    return sale
