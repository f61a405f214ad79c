"""Webhook subscriptions (`/api/2.0/webhooks[/{id}]`, legacy 0.9 `POST /api/webhooks`) and the
payloads X-Series delivers: form-encoded, field `payload` = a JSON string of the changed object in
the older 0.9 shapes (docs "Webhooks - Example Payloads"), plus `environment`, `domain_prefix` and
`retailer_id`, which the docs say may be present but are not guaranteed.
"""

from __future__ import annotations

import json

from omnisync_pipelines.sandbox.emulators.lightspeed_x.sales import SaleError
from omnisync_pipelines.sandbox.emulators.lightspeed_x.store import Store

TYPES = ("sale.update", "product.update", "customer.update", "inventory.update", "register_closure.create",
         "consignment.send", "consignment.receive")
BY_COLLECTION = {"sales": "sale.update", "products": "product.update", "customers": "customer.update",
                 "inventory": "inventory.update"}


# subscriptions ---------------------------------------------------------------------------------
def _validated(store: Store, body: dict, webhook_id: str | None = None) -> dict:
    if not isinstance(body, dict) or not body.get("url") or len(str(body["url"])) < 3:
        raise SaleError(422, "url is required")
    if body.get("type") not in TYPES:
        raise SaleError(422, f"type must be one of {', '.join(TYPES)}", {"type": body.get("type")})
    if not isinstance(body.get("active", True), bool):
        raise SaleError(422, "active must be a boolean")
    if any(w["url"] == body["url"] and w["type"] == body["type"] and w["id"] != webhook_id
           for w in store.rows["webhooks"].values()):
        raise SaleError(409, "A webhook with this type and URL already exists.")
    return {"url": body["url"], "type": body["type"], "active": body.get("active", True)}


def create(store: Store, body: dict, retailer_id: str) -> dict:
    row = {"id": store.new_id(), "retailer_id": retailer_id, **_validated(store, body)}
    store.rows["webhooks"][row["id"]] = row
    return row


def get(store: Store, webhook_id: str) -> dict:
    row = store.rows["webhooks"].get(webhook_id)
    if row is None:
        raise SaleError(404, "Not Found", {"id": webhook_id})
    return row


def update(store: Store, webhook_id: str, body: dict) -> dict:
    """`PUT` takes the whole `{url, active, type}` (the docs' WebhookRequest has all three required)."""
    row = get(store, webhook_id)
    if not isinstance(body, dict) or "active" not in body:
        raise SaleError(422, "url, type and active are required")
    row.update(_validated(store, body, webhook_id))
    return row


def delete(store: Store, webhook_id: str) -> dict:
    row = get(store, webhook_id)
    del store.rows["webhooks"][webhook_id]
    return row


def public(row: dict) -> dict:
    return {k: row[k] for k in ("id", "retailer_id", "url", "type", "active")}


# payloads (0.9 shapes) -------------------------------------------------------------------------
def _decimal_text(value) -> str:
    return f"{float(value or 0):.2f}"


def inventory_record(row: dict) -> dict:
    return {"id": row["id"], "product_id": row["product_id"], "outlet_id": row["outlet_id"],
            "count": row["inventory_level"], "attributed_cost": _decimal_text(row.get("average_cost")),
            "reorder_point": str(row.get("reorder_point") or 0), "restock_level": str(row.get("reorder_amount") or 0),
            "version": row["version"]}


def product_payload(store: Store, product: dict) -> dict:
    at_outlets = (store.inventory_index.get((product["id"], outlet)) for outlet in store.rows["outlets"])
    inventory = [inventory_record(store.rows["inventory"][i]) for i in at_outlets if i in store.rows["inventory"]]
    entries = [{"id": e["id"], "product_id": e["product_id"], "price_book_id": e.get("price_book_id"),
                "price": f"{float(e.get('price') or 0):.5f}", "min_units": e.get("min_units"),
                "max_units": e.get("max_units"), "valid_from": None, "valid_to": None}
               for e in store.rows["price_book_products"].values() if e.get("product_id") == product["id"]]
    keep = ("id", "name", "handle", "sku", "active", "deleted_at", "description", "source", "source_id",
            "variant_parent_id", "variant_name", "product_codes", "version")
    return {**{k: product.get(k) for k in keep}, "base_name": product.get("name"),
            "supply_price": _decimal_text(product.get("supply_price")),
            "price": f"{float(product.get('price_excluding_tax') or 0):.5f}",
            "tax_id": product.get("tax_id"), "inventory": sorted(inventory, key=lambda r: r["outlet_id"]),
            "price_book_entries": entries,
            "variant_option_one_name": _option(product, 0, "name"), "variant_option_one_value": _option(product, 0, "value")}


def _option(product: dict, index: int, key: str):
    options = product.get("variant_options") or []
    return options[index].get(key) if len(options) > index else None


def sale_payload(store: Store, sale: dict) -> dict:
    """A 0.9 register sale: `register_sale_products`, `register_sale_payments`, `totals`."""
    customer = store.get("customers", sale.get("customer_id") or "")
    lines = [{"id": x["id"], "product_id": x["product_id"], "quantity": x["quantity"], "price": x["price"],
              "tax": x["tax"], "tax_id": x.get("tax_id"), "discount": x["discount"], "price_total": x["price_total"],
              "tax_total": x["tax_total"], "sequence": x["sequence"], "status": x["status"]}
             for x in sale["line_items"]]
    payments = [{"id": p["id"], "retailer_payment_type_id": p["retailer_payment_type_id"],
                 "payment_type_id": p["payment_type_id"], "name": p["name"], "label": p["name"], "amount": p["amount"],
                 "payment_date": p["payment_date"]} for p in sale["payments"]]
    paid = round(sum(p["amount"] for p in payments), 2)
    total = round(sale["total_price"] + sale["total_tax"], 2)
    return {
        "id": sale["id"], "outlet_id": sale["outlet_id"], "register_id": sale["register_id"],
        "user_id": sale.get("user_id"), "customer_id": sale.get("customer_id"),
        "customer": {k: customer.get(k) for k in ("id", "customer_code", "first_name", "last_name", "email")} if customer else None,
        "sale_date": sale["sale_date"], "created_at": sale["created_at"], "updated_at": sale["updated_at"],
        "status": sale["status"], "invoice_number": sale["invoice_number"], "note": sale.get("note"),
        "return_for": sale.get("return_for"), "source": sale.get("source"), "source_id": sale.get("source_id"),
        "totals": {"total_price": sale["total_price"], "total_tax": sale["total_tax"], "total_payment": paid,
                   "total_to_pay": round(total - paid, 2)},
        "register_sale_products": lines, "register_sale_payments": payments, "version": sale["version"],
    }


def inventory_payload(store: Store, row: dict) -> dict:
    """An inventory record with the product and outlet embedded (the embedded product's
    `attributed_cost` is always null: the outlet's cost is on the record itself)."""
    product = store.get("products", row["product_id"]) or {"id": row["product_id"]}
    outlet = store.get("outlets", row["outlet_id"]) or {"id": row["outlet_id"]}
    return {**inventory_record(row),
            "product": {"id": product["id"], "sku": product.get("sku"), "handle": product.get("handle"),
                        "name": product.get("name"), "attributed_cost": None},
            "outlet": {"id": outlet["id"], "name": outlet.get("name"), "time_zone": outlet.get("time_zone")}}


def customer_payload(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def consignment_payload(store: Store, row: dict) -> dict:
    lines = store.consignment_products.get(row["id"], [])
    return {**{k: v for k, v in row.items() if not k.startswith("_")}, "products": [dict(x) for x in lines]}


def payload(store: Store, collection: str, row: dict) -> tuple[str, dict] | None:
    """(webhook type, payload object) for a changed row, None when no webhook type covers it."""
    if collection == "consignments":
        kind = {"SENT": "consignment.send", "RECEIVED": "consignment.receive"}.get(row["status"])
        return (kind, consignment_payload(store, row)) if kind else None
    kind = BY_COLLECTION.get(collection)
    if kind is None:
        return None
    shape = {"sales": lambda: sale_payload(store, row), "products": lambda: product_payload(store, row),
             "inventory": lambda: inventory_payload(store, row), "customers": lambda: customer_payload(row)}
    return kind, shape[collection]()


def deliveries(store: Store, collection: str, row: dict, *, domain_prefix: str, retailer_id: str,
               environment: str = "sandbox") -> list[dict]:
    """One queued delivery per active subscription of the row's type (no payload is built for a
    change nobody subscribed to: seeding a large account writes millions of rows)."""
    if not any(hook["active"] for hook in store.rows["webhooks"].values()):
        return []
    found = payload(store, collection, row)
    if found is None:
        return []
    kind, obj = found
    body = {"payload": json.dumps(obj), "environment": environment, "domain_prefix": domain_prefix,
            "retailer_id": retailer_id, "type": kind}
    return [{"url": hook["url"], "type": kind, "data": dict(body)}
            for hook in store.rows["webhooks"].values() if hook["active"] and hook["type"] == kind]
