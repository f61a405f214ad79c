"""Writes other than sales: products (2.1), customers (2.0), consignments (2.0), admin seeding."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from omnisync_pipelines.sandbox.emulators.lightspeed_x.sales import SaleError
from omnisync_pipelines.sandbox.emulators.lightspeed_x.store import Store, now_iso

CONSIGNMENT_TYPES = {"SUPPLIER", "OUTLET", "STOCKTAKE", "RETURN"}
CONSIGNMENT_STATUSES = {"OPEN", "SENT", "DISPATCHED", "RECEIVED", "CANCELLED"}
CUSTOMER_FIELDS = (
    "customer_code", "first_name", "last_name", "email", "phone", "mobile", "company_name", "date_of_birth",
    "enable_loyalty", "loyalty_balance", "do_not_email", "customer_group_id", "note",
    "custom_field_1", "custom_field_2", "custom_field_3", "custom_field_4",
)


def _cents(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


# products --------------------------------------------------------------------------------------
def create_products(store: Store, body: dict) -> list[str]:
    common = body.get("common") or {}
    details = body.get("details") or {}
    variants = details.get("variants") or [details]
    if not common.get("name"):
        raise SaleError(422, "common.name is required")
    parent_id = store.new_id() if len(variants) > 1 else None
    ids = []
    for variant in variants:
        if not variant.get("sku"):
            raise SaleError(422, "details.sku is required for every variant")
        if any(p["sku"] == variant["sku"] and not p.get("deleted_at") for p in store.rows["products"].values()):
            raise SaleError(409, f"a product with sku {variant['sku']!r} already exists")
        row = {"id": store.new_id(), "created_at": now_iso(), "variant_parent_id": parent_id, "deleted_at": None}
        _apply_product(store, row, common, variant)
        ids.append(row["id"])
    return ids


def update_product(store: Store, product_id: str, body: dict) -> dict:
    row = store.get("products", product_id)
    if row is None or row.get("deleted_at"):
        raise SaleError(404, f"product {product_id} not found")
    row = dict(row)
    return _apply_product(store, row, body.get("common") or {}, body.get("details") or {})


def _apply_product(store: Store, row: dict, common: dict, variant: dict) -> dict:
    name = common.get("name", row.get("name"))
    options = variant.get("variant_definitions", row.get("variant_options") or [])
    options = [{"id": o.get("attribute_id", o.get("id")), "name": o.get("name", o.get("attribute_id")), "value": o["value"]}
               for o in options]
    tax_id = common.get("tax_id", row.get("tax_id"))
    tax = store.get("taxes", tax_id or "")
    rate = Decimal(str(tax["rate"])) if tax else Decimal(0)
    price = Decimal(str(variant.get("price_excluding_tax", row.get("price_excluding_tax", 0))))
    row.update({
        "name": name, "handle": common.get("handle", row.get("handle") or name.lower().replace(" ", "-")),
        "variant_name": " / ".join([name, *[o["value"] for o in options]]) if options else name,
        "sku": variant.get("sku", row.get("sku")), "active": common.get("active", row.get("active", True)),
        "has_inventory": True, "is_composite": False, "has_variants": bool(row.get("variant_parent_id")),
        "variant_options": options, "supply_price": variant.get("supply_price", row.get("supply_price", 0)),
        "price_excluding_tax": _cents(price), "price_including_tax": _cents(price * (1 + rate)), "tax_id": tax_id,
        "product_codes": variant.get("product_codes", row.get("product_codes", [])),
        "brand_id": common.get("brand_id", row.get("brand_id")), "description": common.get("description", row.get("description", "")),
        "updated_at": now_iso(),
    })
    store.bump("products", row)
    for level in variant.get("inventory") or []:
        if store.get("outlets", level.get("outlet_id") or "") is None:
            raise SaleError(422, "unknown outlet_id in details.inventory", {"outlet_id": level.get("outlet_id")})
        amount = level.get("current_amount", level.get("count", 0))
        if int(amount) != amount:
            raise SaleError(422, "current_amount must be a whole number")
        store.set_stock(row["id"], level["outlet_id"], int(amount))
    return row


# customers -------------------------------------------------------------------------------------
def save_customer(store: Store, body: dict, customer_id: str | None = None) -> dict:
    existing = store.get("customers", customer_id) if customer_id else None
    if customer_id and (existing is None or existing.get("deleted_at")):
        raise SaleError(404, f"customer {customer_id} not found")
    row = dict(existing or {"id": store.new_id(), "created_at": now_iso(), "deleted_at": None, "loyalty_balance": 0,
                            "enable_loyalty": False, "do_not_email": False})
    row.update({k: v for k, v in body.items() if k in CUSTOMER_FIELDS})
    if not (row.get("first_name") or row.get("last_name") or row.get("company_name")):
        raise SaleError(422, "a customer needs a first_name, last_name or company_name")
    if not row.get("customer_code"):
        row["customer_code"] = f"{(row.get('first_name') or 'C')[:3].upper()}-{store.version % 100000}"
    clash = [c for c in store.rows["customers"].values()
             if c["customer_code"] == row["customer_code"] and c["id"] != row["id"] and not c.get("deleted_at")]
    if clash:
        raise SaleError(409, f"customer_code {row['customer_code']!r} is already used")
    row["updated_at"] = now_iso()
    return store.bump("customers", row)


# consignments ----------------------------------------------------------------------------------
def create_consignment(store: Store, body: dict) -> dict:
    kind = body.get("type", "SUPPLIER")
    if kind not in CONSIGNMENT_TYPES:
        raise SaleError(422, f"invalid consignment type {kind!r}")
    if store.get("outlets", body.get("outlet_id") or "") is None:
        raise SaleError(422, "outlet_id must name an outlet")
    if kind == "OUTLET" and store.get("outlets", body.get("source_outlet_id") or "") is None:
        raise SaleError(422, "an OUTLET consignment needs source_outlet_id")
    row = {"id": store.new_id(), "name": body.get("name", ""), "type": kind, "status": "OPEN",
           "outlet_id": body["outlet_id"], "source_outlet_id": body.get("source_outlet_id"),
           "supplier_id": body.get("supplier_id"), "reference": body.get("reference"), "created_at": now_iso(),
           "received_at": None, "deleted_at": None, "_sent": False, "_received": False}
    store.consignment_products[row["id"]] = []
    return store.bump("consignments", row)


def add_consignment_product(store: Store, consignment_id: str, body: dict) -> dict:
    consignment = store.get("consignments", consignment_id)
    if consignment is None:
        raise SaleError(404, f"consignment {consignment_id} not found")
    if consignment["status"] != "OPEN":
        raise SaleError(422, "products can only be added to an OPEN consignment")
    if store.get("products", body.get("product_id") or "") is None:
        raise SaleError(422, "unknown product_id")
    line = {"product_id": body["product_id"], "count": int(body.get("count", 0)),
            "received": body.get("received"), "cost": body.get("cost", 0), "sequence_number": len(store.consignment_products[consignment_id])}
    store.consignment_products[consignment_id].append(line)
    return line


def change_consignment(store: Store, consignment_id: str, body: dict) -> dict:
    row = store.get("consignments", consignment_id)
    if row is None:
        raise SaleError(404, f"consignment {consignment_id} not found")
    row = dict(row)
    status = body.get("status", row["status"])
    if status not in CONSIGNMENT_STATUSES:
        raise SaleError(422, f"invalid consignment status {status!r}")
    lines = store.consignment_products[consignment_id]
    if status in ("SENT", "DISPATCHED", "RECEIVED") and row["type"] == "OUTLET" and not row["_sent"]:
        for line in lines:
            store.move_stock(line["product_id"], row["source_outlet_id"], -line["count"])
        row["_sent"] = True
    if status == "RECEIVED" and not row["_received"]:
        for line in lines:
            received = int(line["received"] if line["received"] is not None else line["count"])
            line["received"] = received
            if row["type"] == "STOCKTAKE":
                store.set_stock(line["product_id"], row["outlet_id"], received)
            elif row["type"] == "RETURN":
                store.move_stock(line["product_id"], row["outlet_id"], -received)
            else:
                store.move_stock(line["product_id"], row["outlet_id"], received)
        row["_received"] = True
        row["received_at"] = now_iso()
    row["status"] = status
    return store.bump("consignments", row)


def public(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("_")}
