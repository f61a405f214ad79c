"""Back-office writes of the catalog and the estate: Shop POST/PUT (shop.md; a new shop gets an ItemShop
row for every item), PriceLevel PUT (pricelevel.md: no POST), TaxCategory POST/PUT (isTaxInclusive),
ItemMatrix POST/PUT/DELETE (itemmatrix.md, item-matrices tutorial: `description` and
`itemAttributeSetID` required; matrix prices) and Category POST/PUT/DELETE (tree paths kept)."""

from __future__ import annotations

from omnisync_pipelines.sandbox.emulators.lightspeed_r.errors import WriteError
from omnisync_pipelines.sandbox.emulators.lightspeed_r.store import BUILTIN_PRICE_LEVELS, Store
from omnisync_pipelines.sandbox.emulators.lightspeed_r.writes import assign, need, set_prices

SHOP_DEFAULTS = {"name": "", "serviceRate": 0.0, "timeZone": "America/New_York", "taxLabor": False,
                 "labelTitle": "Shop Name", "labelMsrp": False, "archived": False, "companyRegistrationNumber": "",
                 "vatNumber": "", "zebraBrowserPrint": False, "contactID": 0, "taxCategoryID": 0, "receiptSetupID": 0,
                 "ccGatewayID": 0, "gatewayConfigID": 0, "priceLevelID": 1}
SHOP_WRITABLE = set(SHOP_DEFAULTS) - {"contactID", "receiptSetupID", "ccGatewayID", "gatewayConfigID"}
TAX_DEFAULTS = {"isTaxInclusive": False, "tax1Name": "", "tax2Name": "", "tax1Rate": 0.0, "tax2Rate": 0.0}
MATRIX_DEFAULTS = {"defaultCost": 0.0, "tax": True, "archived": False, "itemType": "default", "serialized": False,
                   "description": "", "modelYear": 0, "categoryID": 0, "taxClassID": 1, "departmentID": 0,
                   "manufacturerID": 0, "seasonID": 0, "defaultVendorID": 0, "itemAttributeSetID": 0}
MATRIX_WRITABLE = set(MATRIX_DEFAULTS) - {"archived"}


def _references(store: Store, body: dict) -> None:
    for key, table in (("taxCategoryID", "TaxCategory"), ("priceLevelID", "PriceLevel"), ("categoryID", "Category")):
        if int(body.get(key) or 0):
            need(store, table, body[key], table)


def new_shop(store: Store, body: dict) -> dict:
    if not str(body.get("name", "")).strip():
        raise WriteError("name cannot be blank.")
    _references(store, body)
    row = dict(SHOP_DEFAULTS)
    assign(row, body, SHOP_WRITABLE, SHOP_DEFAULTS)
    row = store.insert("Shop", row)
    for item_id in store.tables["Item"]:
        store.ensure_item_shops(item_id)
    return row


def update_shop(store: Store, row: dict, body: dict) -> dict:
    if "name" in body and not str(body["name"]).strip():
        raise WriteError("name cannot be blank.")
    _references(store, body)
    if assign(row, body, SHOP_WRITABLE, SHOP_DEFAULTS):
        store.touch(row)
    return row


def update_price_level(store: Store, row: dict, body: dict) -> dict:
    if "name" in body:
        if not str(body["name"]).strip():
            raise WriteError("name cannot be blank.")
        row["name"] = str(body["name"])
    if "archived" in body and str(body["archived"]).lower() == "true":
        if row["priceLevelID"] <= len(BUILTIN_PRICE_LEVELS):
            raise WriteError(f"PriceLevel {row['name']} can not be archived.", 422)
        row["archived"] = True
    return row


def new_tax_category(store: Store, body: dict) -> dict:
    row = dict(TAX_DEFAULTS)
    assign(row, body, set(TAX_DEFAULTS), TAX_DEFAULTS)
    return store.insert("TaxCategory", row)


def update_tax_category(store: Store, row: dict, body: dict) -> dict:
    if assign(row, body, set(TAX_DEFAULTS), TAX_DEFAULTS):
        store.touch(row)
    return row


def new_matrix(store: Store, body: dict) -> dict:
    if not str(body.get("description", "")).strip():
        raise WriteError("description cannot be blank.")
    if not int(body.get("itemAttributeSetID") or 0):
        raise WriteError("itemAttributeSetID is required.")
    _references(store, body)
    row = dict(MATRIX_DEFAULTS)
    assign(row, body, MATRIX_WRITABLE, MATRIX_DEFAULTS)
    row["Prices"] = [{"amount": 0.0, "useTypeID": i} for i in range(1, len(BUILTIN_PRICE_LEVELS) + 1)]
    set_prices(store, row, body)
    return store.insert("ItemMatrix", row)


def update_matrix(store: Store, row: dict, body: dict) -> dict:
    _references(store, body)
    if assign(row, body, MATRIX_WRITABLE, MATRIX_DEFAULTS) | set_prices(store, row, body):
        store.touch(row)
    return row


def archive_matrix(store: Store, row: dict) -> dict:
    row["archived"] = True
    store.touch(row)
    return row


def new_category(store: Store, body: dict) -> dict:
    if not str(body.get("name", "")).strip():
        raise WriteError("name cannot be blank.")
    parent_id = need(store, "Category", body["parentID"], "Category") if int(body.get("parentID") or 0) else 0
    row = store.insert("Category", {"name": str(body["name"]), "nodeDepth": 0, "fullPathName": "", "leftNode": 0,
                                    "rightNode": 0, "createTime": store.now(), "parentID": parent_id})
    _place(store, row)
    return row


def update_category(store: Store, row: dict, body: dict) -> dict:
    if "name" in body:
        if not str(body["name"]).strip():
            raise WriteError("name cannot be blank.")
        row["name"] = str(body["name"])
    if "parentID" in body:
        parent_id = int(body["parentID"] or 0)
        if parent_id:
            need(store, "Category", parent_id, "Category")
        if parent_id == row["categoryID"]:
            raise WriteError("A category can not be its own parent.")
        row["parentID"] = parent_id
    _place(store, row)
    store.touch(row)
    return row


def delete_category(store: Store, row: dict) -> dict:
    if any(c["parentID"] == row["categoryID"] for c in store.tables["Category"].values()):
        raise WriteError("A category with subcategories can not be deleted.", 422)
    for holder in (*store.tables["Item"].values(), *store.tables["ItemMatrix"].values()):
        if holder["categoryID"] == row["categoryID"]:
            holder["categoryID"] = 0
    return store.tables["Category"].pop(row["categoryID"])


def _place(store: Store, row: dict) -> None:
    parent = store.tables["Category"].get(row["parentID"])
    row["nodeDepth"] = parent["nodeDepth"] + 1 if parent else 0
    row["fullPathName"] = f"{parent['fullPathName']}/{row['name']}" if parent else row["name"]
