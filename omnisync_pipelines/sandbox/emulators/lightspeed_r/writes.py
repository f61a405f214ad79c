"""Item POST/PUT/DELETE (prices per price level, absolute `ItemShops` qoh, logged) and Customer
POST/PUT/DELETE (+ Contact and CustomFieldValues); the typing helpers every write module shares."""

from __future__ import annotations

from omnisync_pipelines.sandbox.emulators.lightspeed_r import customers
from omnisync_pipelines.sandbox.emulators.lightspeed_r.errors import WriteError
from omnisync_pipelines.sandbox.emulators.lightspeed_r.store import BUILTIN_PRICE_LEVELS, Store
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


def typed(default, value):
    if isinstance(default, bool):
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if isinstance(default, int):
        return int(float(value or 0))
    if isinstance(default, float):
        return float(value or 0)
    return "" if value is None else str(value)


def assign(row: dict, body: dict, writable: set[str], defaults: dict) -> bool:
    changed = False
    for field in writable & set(body):
        value = typed(defaults[field], body[field])
        changed |= row.get(field) != value
        row[field] = value
    return changed


def need(store: Store, table: str, value, label: str) -> int:
    """The id of an existing row, or a 400 naming the missing one."""
    try:
        ident = int(value or 0)
    except (TypeError, ValueError):
        ident = -1
    if ident not in store.tables[table]:
        raise WriteError(f"{label} {value} not found.")
    return ident


# Item --------------------------------------------------------------------------------------------
def set_prices(store: Store, row: dict, body: dict) -> bool:
    """`Prices.ItemPrice[]` by `useTypeID` or `useType` (a PriceLevel's id or name). The three built-in
    levels are always listed; another level's price is listed once it has been set."""
    levels, changed = store.price_levels(), False
    for price in unwrap(body.get("Prices"), "ItemPrice"):
        by_name = next((i for i, n in levels.items() if n == price.get("useType")), 0)
        level = int(price.get("useTypeID") or by_name)
        if level not in levels:
            raise WriteError(f"Invalid price level: {price.get('useType') or price.get('useTypeID')}")
        amount = float(price.get("amount", 0))
        entry = next((p for p in row["Prices"] if p["useTypeID"] == level), None)
        if entry is None:
            entry = {"amount": None, "useTypeID": level}
            row["Prices"].append(entry)
        changed |= entry["amount"] != amount
        entry["amount"] = amount
    return changed


def price_for(store: Store, item: dict, shop_id: int) -> float:
    """What a till charges: the price of the shop's price level if set, else the Default price."""
    level = store.tables["Shop"].get(shop_id, {}).get("priceLevelID", 1)
    prices = {p["useTypeID"]: p["amount"] for p in item["Prices"]}
    return prices.get(level, prices[1])


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
    """An item in a matrix takes the matrix's prices and, without a description of its own,
    "<ItemMatrix.description> <attributes>" (itemmatrix.md)."""
    matrix = store.tables["ItemMatrix"].get(int(body.get("itemMatrixID") or 0))
    if int(body.get("itemMatrixID") or 0) and matrix is None:
        raise WriteError(f"ItemMatrix {body['itemMatrixID']} not found.")
    attributes = _attributes(body.get("ItemAttributes"), matrix)
    if matrix is not None and not str(body.get("description", "")).strip():
        values = [attributes[f"attribute{n}"] for n in (1, 2, 3) if attributes[f"attribute{n}"]]
        body = {**body, "description": " ".join([matrix["description"], *values])}
    if not str(body.get("description", "")).strip():
        raise WriteError("description cannot be blank.")
    row = dict(ITEM_DEFAULTS)
    assign(row, body, ITEM_WRITABLE, ITEM_DEFAULTS)
    row["createTime"] = store.now()
    row["Prices"] = [dict(p) for p in matrix["Prices"]] if matrix else \
        [{"amount": 0.0, "useTypeID": i} for i in range(1, len(BUILTIN_PRICE_LEVELS) + 1)]
    set_prices(store, row, body)
    row["ItemAttributes"] = attributes
    row = store.insert("Item", row)
    row["systemSku"] = 210000000000 + row["itemID"]
    store.ensure_item_shops(row["itemID"])
    _item_shops(store, row["itemID"], body, employee_id)
    return row


def _attributes(given, matrix: dict | None = None) -> dict:
    """ItemAttributes (item.md): the variant's matrix attribute values and the matrix's attribute set."""
    given = given if isinstance(given, dict) else {}
    out = {f"attribute{n}": str(given.get(f"attribute{n}") or "") for n in (1, 2, 3)}
    return {**out, "itemAttributeSetID": matrix["itemAttributeSetID"] if matrix else 0}


def update_item(store: Store, row: dict, body: dict, employee_id: int = 0) -> dict:
    """item.md: `archived` "can only be set to false on update" (DELETE archives)."""
    if "archived" in body:
        if typed(False, body["archived"]):
            raise WriteError("You can not archive an item by setting the archived flag on an update; use DELETE.")
        if row["archived"]:
            row["archived"] = False
            store.touch(row)
    if "ItemAttributes" in body:
        given = {**row["ItemAttributes"], **body["ItemAttributes"]} if isinstance(body["ItemAttributes"], dict) else {}
        row["ItemAttributes"] = _attributes(given, store.tables["ItemMatrix"].get(row["itemMatrixID"]))
    changed = assign(row, body, ITEM_WRITABLE, ITEM_DEFAULTS) | set_prices(store, row, body)
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
            contact[flag] = typed(contact[flag], given[flag])
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
    assign(row, body, CUSTOMER_WRITABLE, CUSTOMER_DEFAULTS)
    row["createTime"] = store.now()
    customers.check_values(store, body)
    row = store.insert("Customer", row)
    _contact(store, row["customerID"], body)
    customers.write_values(store, row["customerID"], body)
    return row


def update_customer(store: Store, row: dict, body: dict) -> dict:
    customers.check_values(store, body)
    assign(row, body, CUSTOMER_WRITABLE | {"archived"}, CUSTOMER_DEFAULTS)
    _contact(store, row["customerID"], body)
    customers.write_values(store, row["customerID"], body)
    store.touch(row)
    return row


def archive_customer(store: Store, row: dict) -> dict:
    """DELETE archives (customer.md: undone by a PUT with archived=false)."""
    row["archived"] = True
    store.touch(row)
    return row
