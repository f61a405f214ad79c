"""What each served resource is: its path, verbs (a subset of its docs page's "Actions Allowed"),
sortable fields (its "Sortable Fields"), relations for `load_relations` (name -> to-many?), and how a
row prints with the relations asked for."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from omnisync_pipelines.sandbox.emulators.lightspeed_r import customers
from omnisync_pipelines.sandbox.emulators.lightspeed_r.store import Store
from omnisync_pipelines.sandbox.emulators.lightspeed_r.xmljson import many, shape


@dataclass(frozen=True)
class Resource:
    name: str
    pk: str
    sortable: tuple[str, ...]
    single: bool = True  # GET /{Resource}/{id}
    writes: tuple[str, ...] = ()  # of POST, PUT, DELETE
    relations: dict[str, bool] = field(default_factory=dict)  # relation -> X-to-many
    path: str = ""  # under the account, when it is not the name
    actions: tuple[str, ...] = ()  # POST {path}/{id}/{action}
    single_only: frozenset[str] = frozenset()  # relations loaded only when reading one row by id

    @property
    def url_path(self) -> str:
        return self.path or self.name


CRUD = ("POST", "PUT", "DELETE")
RESOURCES = {r.name: r for r in (
    Resource("Shop", "shopID", ("shopID",), writes=("POST", "PUT"),
             relations={"Registers": True, "PriceLevel": False, "TaxCategory": False}),
    Resource("Register", "registerID", ("registerID",)),
    Resource("Employee", "employeeID", ("employeeID", "timeStamp")),
    Resource("Item", "itemID", ("itemID", "timeStamp", "description"), writes=CRUD,
             relations={"ItemShops": True, "Category": False, "ItemAttributes": False}),
    Resource("ItemShop", "itemShopID", ("itemShopID", "timeStamp"), writes=("PUT",)),
    Resource("ItemMatrix", "itemMatrixID", ("itemMatrixID", "timeStamp", "description"), writes=CRUD,
             relations={"Items": True, "Category": False}),
    Resource("Category", "categoryID", ("categoryID", "timeStamp", "leftNode", "rightNode"), writes=CRUD),
    Resource("TaxCategory", "taxCategoryID", ("taxCategoryID", "timeStamp"), writes=("POST", "PUT")),
    Resource("PriceLevel", "priceLevelID", ("priceLevelID", "name"), writes=("PUT",)),
    Resource("Customer", "customerID", ("customerID", "timeStamp", "firstName", "lastName"), writes=CRUD,
             relations={"Contact": False, "CustomFieldValues": True}),
    Resource("CustomField", "customFieldID", ("customFieldID", "timeStamp", "name"), writes=CRUD,
             path="Customer/CustomField"),
    Resource("Sale", "saleID", ("saleID", "timeStamp", "completeTime", "updatetime"), writes=CRUD, actions=("refund",),
             relations={"SaleLines": True, "SaleLines.Note": False, "SaleLines.InventorySales": True,
                        "SaleLines.Item": False, "SalePayments": True, "SalePayments.PaymentType": False,
                        "Customer": False, "Customer.Contact": False, "ShipTo": False, "ShipTo.Contact": False,
                        "TaxCategory": False}),
    Resource("SaleLine", "saleLineID", ("saleLineID", "timeStamp", "saleID"), writes=CRUD,
             relations={"Note": False, "InventorySales": True, "Item": False, "TaxCategory": False}),
    Resource("SalePayment", "salePaymentID", ("salePaymentID", "timeStamp", "saleID"), relations={"PaymentType": False}),
    Resource("PaymentType", "paymentTypeID", ("paymentTypeID",)),
    Resource("ShipTo", "shipToID", ("shipToID", "timeStamp", "saleID"), relations={"Contact": False}),
    Resource("SaleVoid", "saleVoidID", ("saleVoidID", "saleID")),
    Resource("InventoryLog", "inventoryLogID", ("inventoryLogID", "itemID"), single=False),
    Resource("Order", "orderID", ("orderID", "timeStamp"), writes=CRUD,
             relations={"OrderLines": True, "Note": False, "Shop": False}),
    Resource("OrderLine", "orderLineID", ("orderLineID", "timeStamp", "orderID"), writes=CRUD),
    Resource("Transfer", "transferID", ("transferID", "timeStamp"), writes=("POST", "PUT"), path="Inventory/Transfer",
             relations={"SendingShop": False, "SendingShop.Contact": False, "CreatedByEmployee": False,
                        "CreatedByEmployee.Contact": False, "SentByEmployee": False, "SentByEmployee.Contact": False,
                        "ReceivingShop": False, "ReceivingShop.Contact": False, "TransferItems": True,
                        "TransferItems.Item": False},
             single_only=frozenset({"TransferItems", "TransferItems.Item"}),
             actions=("Archive", "Restore", "Send", "AddItems", "UpdateItems", "DeleteItems")),
    # the deprecated read-only `TransferItem.json` (transferitem.md); a transfer's own are under
    # Inventory/Transfer/{id}/TransferItems
    Resource("TransferItem", "transferItemID", ("transferItemID", "timeStamp", "transferID")),
    Resource("InventoryCount", "inventoryCountID", ("inventoryCountID",), writes=CRUD, actions=("Reconcile",)),
    Resource("InventoryCountItem", "inventoryCountItemID", ("inventoryCountItemID", "inventoryCountID", "itemID"),
             writes=CRUD),
    Resource("InventoryCountCalc", "inventoryCountCalcID", ("inventoryCountCalcID", "inventoryCountID", "itemID")),
    Resource("InventoryCountReconcile", "inventoryCountReconcileID",
             ("inventoryCountReconcileID", "inventoryCountID", "itemID"), writes=("POST",)),
)}
BY_PATH = {r.url_path: r for r in RESOURCES.values()}
ONLY_WHEN_NAMED = {"CustomFieldValues"}  # relations.md: `all` loads everything except CustomFieldValues
HIDDEN = {"saleLineID": "InventorySale", "customerID": "CustomFieldValue"}  # our join keys, not API fields


def relations_asked(resource: Resource, raw: str | None, listing: bool = False) -> list[str]:
    if not raw:
        return []
    if raw == "all":
        return [n for n in resource.relations if n not in ONLY_WHEN_NAMED and not (listing and n in resource.single_only)]
    try:
        names = json.loads(raw)
        assert isinstance(names, list) and all(isinstance(n, str) for n in names)
    except Exception as exc:  # noqa: BLE001
        raise ValueError("load_relations must be a JSON array of relation names, or all") from exc
    unknown = [n for n in names if n not in resource.relations]
    if unknown:
        raise ValueError(f"Invalid relation(s) for {resource.name}: {', '.join(unknown)}")
    single = [n for n in names if n in resource.single_only] if listing else []
    if single:
        raise ValueError(f"{', '.join(single)} can only be loaded when getting a single {resource.name} by ID")
    return names


def relation_cost(resource: Resource, names: list[str], listing: bool) -> float:
    """0.1 per X-to-one, 0.2 per X-to-many, doubled on lists or under an X-to-many (changelog 2026.03.17)."""
    cost = 0.0
    for name in names:
        parent = name.rsplit(".", 1)[0] if "." in name else None
        doubled = listing or (parent is not None and resource.relations.get(parent, False))
        cost += (0.2 if resource.relations[name] else 0.1) * (2 if doubled else 1)
    return cost


def related(store: Store, name: str, row: dict, relation: str) -> tuple[str, list[dict]]:
    """(child resource, native rows) of one relation of a row."""
    t = store.tables
    by = {
        "ItemShops": lambda: ("ItemShop", sorted(store.item_shops(row["itemID"]), key=lambda r: r["itemShopID"])),
        "Category": lambda: ("Category", _one(t["Category"], row.get("categoryID"))),
        "Items": lambda: ("Item", [r for r in t["Item"].values() if r["itemMatrixID"] == row["itemMatrixID"]]),
        "Registers": lambda: ("Register", [r for r in t["Register"].values() if r["shopID"] == row["shopID"]]),
        "PriceLevel": lambda: ("PriceLevel", _one(t["PriceLevel"], row.get("priceLevelID"))),
        "TaxCategory": lambda: ("TaxCategory", _one(t["TaxCategory"], row.get("taxCategoryID"))),
        "SaleLines": lambda: ("SaleLine", [r for r in t["SaleLine"].values() if r["saleID"] == row["saleID"]]),
        "SalePayments": lambda: ("SalePayment", [r for r in t["SalePayment"].values() if r["saleID"] == row["saleID"]]),
        "PaymentType": lambda: ("PaymentType", _one(t["PaymentType"], row.get("paymentTypeID"))),
        "Customer": lambda: ("Customer", _one(t["Customer"], row.get("customerID"))),
        "ShipTo": lambda: ("ShipTo", _one(t["ShipTo"], row.get("shipToID"))),
        "Note": lambda: ("Note", _one(t["Note"], row.get("noteID"))),
        "Item": lambda: ("Item", _one(t["Item"], row.get("itemID"))),
        "InventorySales": lambda: ("InventorySale", [s for s in t["InventorySale"].values()
                                                     if s["saleLineID"] == row["saleLineID"]]),
        "CustomFieldValues": lambda: ("CustomFieldValue", customers.printed_values(store, row["customerID"])),
        "OrderLines": lambda: ("OrderLine", [r for r in t["OrderLine"].values() if r["orderID"] == row["orderID"]]),
        "Shop": lambda: ("Shop", _one(t["Shop"], row.get("shopID"))),
        "SendingShop": lambda: ("Shop", _one(t["Shop"], row.get("sendingShopID"))),
        "ReceivingShop": lambda: ("Shop", _one(t["Shop"], row.get("receivingShopID"))),
        "CreatedByEmployee": lambda: ("Employee", _one(t["Employee"], row.get("createdByEmployeeID"))),
        "SentByEmployee": lambda: ("Employee", _one(t["Employee"], row.get("sentByEmployeeID"))),
        "TransferItems": lambda: ("TransferItem", [r for r in t["TransferItem"].values()
                                                   if r["transferID"] == row["transferID"]]),
    }
    return by[relation]()


def _one(table: dict, ident) -> list[dict]:
    row = table.get(ident or 0)
    return [row] if row else []


def _contact(store: Store, owner: str, ident: int):
    contact = store.contacts.get((owner, ident))
    if contact is None:
        return ""
    out = dict(contact)
    for block, child in (("Addresses", "ContactAddress"), ("Phones", "ContactPhone"), ("Emails", "ContactEmail"),
                         ("Websites", "ContactWebsite")):
        out[block] = many(child, [shape(e) for e in contact[block]])
    return shape(out)


def search_rows(store: Store, name: str, row: dict, relation: str) -> list[dict]:
    """What a dotted filter (`Contact.email`, `ItemShops.qoh`) tests, one level deep (relations.md)."""
    if relation == "Contact":
        contact = store.contacts.get((name, row[RESOURCES[name].pk]), {})
        phones = {"Home": "phoneHome", "Work": "phoneWork", "Mobile": "mobile", "Pager": "pager", "Fax": "fax"}
        return [*({"email": e.get("address", "")} for e in contact.get("Emails", [])),
                *({phones.get(p.get("useType", ""), "phone"): p.get("number", "")} for p in contact.get("Phones", []))]
    return related(store, name, row, relation)[1]


def present(store: Store, name: str, row: dict, relations: list[str]) -> dict:
    """A row as the API prints it, with the relations asked for (and their `Rel.Sub` relations) embedded."""
    out = shape({k: v for k, v in row.items() if k not in ("Prices", "ItemAttributes") and HIDDEN.get(k) != name})
    if "Prices" in row:
        levels = store.price_levels()
        out["Prices"] = many("ItemPrice", [shape({**p, "useType": levels[p["useTypeID"]]}) for p in row["Prices"]])
    if name == "ItemMatrix":
        items = [r for r in store.tables["Item"].values() if r["itemMatrixID"] == row["itemMatrixID"]]
        for n in (1, 2):  # the docs print no attribute3Values
            values = sorted({i["ItemAttributes"][f"attribute{n}"] for i in items} - {""})
            out[f"attribute{n}Values"] = values[0] if len(values) == 1 else values or ""
    for relation in (r for r in relations if "." not in r):
        nested = [r.split(".", 1)[1] for r in relations if r.startswith(relation + ".")]
        if relation == "Contact":
            out["Contact"] = _contact(store, name, row[RESOURCES[name].pk])
        elif relation == "ItemAttributes":
            out["ItemAttributes"] = shape(row.get("ItemAttributes", ""))
        else:
            child, rows = related(store, name, row, relation)
            shown = [present(store, child, r, nested) for r in rows]
            to_many = RESOURCES[name].relations.get(relation, False)
            out[relation] = many(child, shown) if to_many else (shown[0] if shown else "")
    return out
