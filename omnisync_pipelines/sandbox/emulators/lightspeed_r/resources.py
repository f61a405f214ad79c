"""What each served resource is: verbs (a subset of its docs page's "Actions Allowed"), sortable
fields (its "Sortable Fields"), relations for `load_relations` (name -> to-many?), and how a row prints."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

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


RESOURCES = {r.name: r for r in (
    Resource("Shop", "shopID", ("shopID",)),
    Resource("Register", "registerID", ("registerID",)),
    Resource("Employee", "employeeID", ("employeeID", "timeStamp")),
    Resource("Item", "itemID", ("itemID", "timeStamp", "description"), writes=("POST", "PUT", "DELETE"),
             relations={"ItemShops": True, "Category": False}),
    Resource("ItemShop", "itemShopID", ("itemShopID", "timeStamp"), writes=("PUT",)),
    Resource("ItemMatrix", "itemMatrixID", ("itemMatrixID", "timeStamp", "description"), relations={"Items": True}),
    Resource("Category", "categoryID", ("categoryID", "timeStamp", "leftNode", "rightNode")),
    Resource("TaxCategory", "taxCategoryID", ("taxCategoryID", "timeStamp")),
    Resource("Customer", "customerID", ("customerID", "timeStamp", "firstName", "lastName"), writes=("POST", "PUT"),
             relations={"Contact": False}),
    Resource("Sale", "saleID", ("saleID", "timeStamp", "completeTime", "updatetime"), writes=("POST",),
             relations={"SaleLines": True, "SalePayments": True, "SalePayments.PaymentType": False, "Customer": False}),
    Resource("SaleLine", "saleLineID", ("saleLineID", "timeStamp", "saleID")),
    Resource("SalePayment", "salePaymentID", ("salePaymentID", "timeStamp", "saleID"), relations={"PaymentType": False}),
    Resource("PaymentType", "paymentTypeID", ("paymentTypeID",)),
    Resource("InventoryLog", "inventoryLogID", ("inventoryLogID", "itemID"), single=False),
)}


def relations_asked(resource: Resource, raw: str | None) -> list[str]:
    if not raw:
        return []
    if raw == "all":
        return list(resource.relations)
    try:
        names = json.loads(raw)
        assert isinstance(names, list) and all(isinstance(n, str) for n in names)
    except Exception as exc:  # noqa: BLE001
        raise ValueError("load_relations must be a JSON array of relation names, or all") from exc
    unknown = [n for n in names if n not in resource.relations]
    if unknown:
        raise ValueError(f"Invalid relation(s) for {resource.name}: {', '.join(unknown)}")
    return names


def relation_cost(resource: Resource, names: list[str], listing: bool) -> float:
    """0.1 per X-to-one, 0.2 per X-to-many, doubled on lists or under an X-to-many (changelog 2026.03.17)."""
    cost = 0.0
    for name in names:
        parent = name.rsplit(".", 1)[0] if "." in name else None
        doubled = listing or (parent is not None and resource.relations.get(parent, False))
        cost += (0.2 if resource.relations[name] else 0.1) * (2 if doubled else 1)
    return cost


def _contact(store: Store, owner: str, ident: int):
    contact = store.contacts.get((owner, ident))
    if contact is None:
        return ""
    out = dict(contact)
    for block, child in (("Addresses", "ContactAddress"), ("Phones", "ContactPhone"), ("Emails", "ContactEmail"),
                         ("Websites", "ContactWebsite")):
        out[block] = many(child, [shape(e) for e in contact[block]])
    return shape(out)


def present(store: Store, name: str, row: dict, relations: list[str]) -> dict:
    """A row as the API prints it, with the relations asked for embedded."""
    out = shape({k: v for k, v in row.items() if k != "Prices"})
    if name == "Item":
        out["Prices"] = many("ItemPrice", shape(row["Prices"]))
        if "ItemShops" in relations:
            shops = sorted(store.item_shops(row["itemID"]), key=lambda r: r["itemShopID"])
            out["ItemShops"] = many("ItemShop", [shape(s) for s in shops])
        if "Category" in relations:
            category = store.tables["Category"].get(row["categoryID"])
            out["Category"] = shape(category) if category else ""
    elif name == "ItemMatrix" and "Items" in relations:
        items = [r for r in store.tables["Item"].values() if r["itemMatrixID"] == row["itemMatrixID"]]
        out["Items"] = many("Item", [present(store, "Item", r, []) for r in items])
    elif name == "Customer" and "Contact" in relations:
        out["Contact"] = _contact(store, "Customer", row["customerID"])
    elif name == "Sale":
        sale_id = row["saleID"]
        if "SaleLines" in relations:
            lines = [r for r in store.tables["SaleLine"].values() if r["saleID"] == sale_id]
            out["SaleLines"] = many("SaleLine", [shape(r) for r in lines])
        if "SalePayments" in relations:
            payments = [r for r in store.tables["SalePayment"].values() if r["saleID"] == sale_id]
            nested = ["PaymentType"] if "SalePayments.PaymentType" in relations else []
            out["SalePayments"] = many("SalePayment", [present(store, "SalePayment", p, nested) for p in payments])
        if "Customer" in relations:
            customer = store.tables["Customer"].get(row["customerID"])
            out["Customer"] = shape(customer) if customer else ""
    elif name == "SalePayment" and "PaymentType" in relations:
        kind = store.tables["PaymentType"].get(row["paymentTypeID"])
        out["PaymentType"] = shape(kind) if kind else ""
    return out
