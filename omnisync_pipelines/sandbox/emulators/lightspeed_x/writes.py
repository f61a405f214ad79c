"""Writes other than sales: products (2.1), customers (2.0), consignments (2.0), admin seeding."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from omnisync_pipelines.sandbox.emulators.lightspeed_x.sales import SaleError
from omnisync_pipelines.sandbox.emulators.lightspeed_x.store import Store, now_iso

CONSIGNMENT_TYPES = {"SUPPLIER", "OUTLET", "STOCKTAKE", "RETURN"}
CUSTOMER_FIELDS = (
    "customer_code", "first_name", "last_name", "email", "phone", "mobile", "company_name", "date_of_birth",
    "enable_loyalty", "loyalty_balance", "do_not_email", "customer_group_id", "note",
    "custom_field_1", "custom_field_2", "custom_field_3", "custom_field_4",
)


def tax_rate(tax: dict | None) -> Decimal:
    """A tax's rate: the sum of its `rates[]` (a compound tax has several)."""
    return sum((Decimal(str(r["rate"])) for r in (tax or {}).get("rates") or ()), Decimal(0))


def _net(value: Decimal) -> float:
    """A product's tax exclusive price as the API keeps it, to 5 decimals (16.80672): a write that
    leaves the price alone (a barcode, a family's name) recomputes the same gross from it."""
    return float(value.quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP))


# products --------------------------------------------------------------------------------------
# Variant families (docs "Variants"): the parent is a real, sellable product of the family with its own
# SKU (`variant_parent_id` null, `has_variants` true); every other member is a child (`variant_parent_id`
# = the parent's id, `has_variants` false); a standard product has neither. At most 200 per family.
FAMILY_LIMIT = 200


def _check_new_skus(store: Store, variants: list[dict]) -> None:
    skus = [v.get("sku") for v in variants]
    if not all(skus):
        raise SaleError(422, "details.sku is required for every variant")
    if len(set(skus)) < len(skus):
        raise SaleError(422, "the variants of one request need different SKUs")
    for sku in skus:
        if any(p["sku"] == sku and not p.get("deleted_at") for p in store.rows["products"].values()):
            raise SaleError(409, f"a product with sku {sku!r} already exists")


def create_products(store: Store, body: dict) -> list[str]:
    """`POST /api/2.1/products`: `details` is one standard product, `details.variants` a family whose
    first variant becomes the parent. Nothing is created unless every variant can be."""
    common = body.get("common") or {}
    details = body.get("details") or {}
    is_family = "variants" in details
    variants = details.get("variants") or [details]
    if not common.get("name"):
        raise SaleError(422, "common.name is required")
    if len(variants) > FAMILY_LIMIT:
        raise SaleError(422, f"a variant family has at most {FAMILY_LIMIT} variants")
    _check_new_skus(store, variants)
    parent_id = None
    ids = []
    for variant in variants:
        row = {"id": store.new_id(), "created_at": now_iso(), "variant_parent_id": parent_id,
               "has_variants": is_family and parent_id is None, "deleted_at": None}
        # a family's `details.is_active` (ProductCreateBody) holds for every variant
        _apply_product(store, row, common, {**({"is_active": details["is_active"]} if "is_active" in details else {}),
                                            **variant})
        if is_family and parent_id is None:
            parent_id = row["id"]
        ids.append(row["id"])
    return ids


# docs "Updating Variants": `common` holds what every member of a family shares, "such as the name and
# description", and updates every member; `details` updates only the product in the URL
FAMILY_FIELDS = ("name", "description")


def update_product(store: Store, product_id: str, body: dict) -> dict:
    """`PUT /api/2.1/products/{id}`: any member of a family may be addressed."""
    row = store.get("products", product_id)
    if row is None or row.get("deleted_at"):
        raise SaleError(404, f"product {product_id} not found")
    common = body.get("common") or {}
    updated = _apply_product(store, dict(row), common, body.get("details") or {})
    shared = {k: common[k] for k in FAMILY_FIELDS if k in common}
    family = row.get("variant_parent_id") or (row["id"] if row.get("has_variants") else None)
    if shared and family:
        for member in [p for p in store.rows["products"].values() if not p.get("deleted_at") and p["id"] != row["id"]
                       and family in (p["id"], p.get("variant_parent_id"))]:
            _apply_product(store, dict(member), shared, {})
    return updated


def _apply_product(store: Store, row: dict, common: dict, variant: dict) -> dict:
    name = common.get("name", row.get("name"))
    options = variant.get("variant_definitions", row.get("variant_options") or [])
    options = [{"id": o.get("attribute_id", o.get("id")), "name": o.get("name", o.get("attribute_id")), "value": o["value"]}
               for o in options]
    tax_id = common.get("tax_id", row.get("tax_id"))
    tax = store.get("taxes", tax_id or "")
    rate = tax_rate(tax)
    price = Decimal(str(variant.get("price_excluding_tax", row.get("price_excluding_tax", 0))))
    row.update({
        "name": name, "handle": common.get("handle", row.get("handle") or name.lower().replace(" ", "-")),
        "variant_name": " / ".join([name, *[o["value"] for o in options]]) if options else name,
        "sku": variant.get("sku", row.get("sku")), "active": variant.get("is_active", common.get("is_active", row.get("active", True))),
        "has_inventory": True, "is_composite": False, "has_variants": bool(row.get("has_variants")),
        "variant_options": options, "supply_price": variant.get("supply_price", row.get("supply_price", 0)),
        "price_excluding_tax": _net(price), "price_including_tax": _net(price * (1 + rate)), "tax_id": tax_id,
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
# Workflows (docs "Create a consignment"): SUPPLIER OPEN -> SENT -> DISPATCHED -> RECEIVED, CANCELLED
# except from RECEIVED; OUTLET OPEN -> SENT -> RECEIVED, CANCELLED before RECEIVED; RETURN (to a
# supplier) OPEN -> SENT or CANCELLED; STOCKTAKE ... -> STOCKTAKE_COMPLETE. Steps may be skipped
# forwards, never taken back; a DISPATCHED or RECEIVED consignment cannot be created directly.
FLOWS = {
    "SUPPLIER": ("OPEN", "SENT", "DISPATCHED", "RECEIVED"),
    "OUTLET": ("OPEN", "SENT", "RECEIVED"),
    "RETURN": ("OPEN", "SENT"),
    "STOCKTAKE": ("STOCKTAKE_SCHEDULED", "STOCKTAKE", "STOCKTAKE_IN_PROGRESS", "STOCKTAKE_IN_PROGRESS_PROCESSED",
                  "STOCKTAKE_COMPLETE"),
}
FINAL = {"SUPPLIER": "RECEIVED", "OUTLET": "RECEIVED", "RETURN": "SENT", "STOCKTAKE": "STOCKTAKE_COMPLETE"}
CONSIGNMENT_STATUSES = {status for flow in FLOWS.values() for status in flow} | {"CANCELLED", "CLOSED"}


def create_consignment(store: Store, body: dict) -> dict:
    kind = body.get("type", "SUPPLIER")
    if kind not in CONSIGNMENT_TYPES:
        raise SaleError(422, f"invalid consignment type {kind!r}")
    status = body.get("status") or FLOWS[kind][0]
    if status not in FLOWS[kind][:2] or status in ("SENT", "DISPATCHED", "RECEIVED"):
        raise SaleError(422, f"a {kind} consignment cannot be created as {status}")
    if store.get("outlets", body.get("outlet_id") or "") is None:
        raise SaleError(422, "outlet_id must name an outlet")
    if kind == "OUTLET" and store.get("outlets", body.get("source_outlet_id") or "") is None:
        raise SaleError(422, "an OUTLET consignment needs source_outlet_id")
    row = {"id": store.new_id(), "name": body.get("name", ""), "type": kind, "status": status,
           "outlet_id": body["outlet_id"], "source_outlet_id": body.get("source_outlet_id"),
           "supplier_id": body.get("supplier_id"), "reference": body.get("reference"),
           "supplier_invoice": body.get("supplier_invoice"), "due_at": body.get("due_at"),
           "consignment_date": now_iso(), "created_at": now_iso(), "updated_at": now_iso(), "received_at": None,
           "show_inactive": bool(body.get("show_inactive", True)), "deleted_at": None,
           "_sent": False, "_received": False}
    store.consignment_products[row["id"]] = []
    return store.bump("consignments", row)


def _open_for_lines(store: Store, consignment_id: str) -> dict:
    consignment = store.get("consignments", consignment_id)
    if consignment is None:
        raise SaleError(404, f"consignment {consignment_id} not found")
    if consignment["status"] in ("RECEIVED", "CANCELLED") or (consignment["type"] != "SUPPLIER" and consignment["_sent"]):
        raise SaleError(422, f"products cannot be changed on a {consignment['status']} {consignment['type']} consignment")
    return consignment


def _whole(value, field: str) -> int | None:
    if value is None:
        return None
    number = float(value)
    if number != int(number):
        raise SaleError(422, f"{field} must be a whole number")
    return int(number)


def add_consignment_product(store: Store, consignment_id: str, body: dict) -> dict:
    """`POST /consignments/{id}/products`; a `received` on a SENT supplier order marks it DISPATCHED."""
    consignment = _open_for_lines(store, consignment_id)
    product = store.get("products", body.get("product_id") or "")
    if product is None:
        raise SaleError(422, "unknown product_id")
    lines = store.consignment_products[consignment_id]
    if any(x["product_id"] == product["id"] for x in lines):
        raise SaleError(409, "the product is already on this consignment")
    line = {"product_id": product["id"], "product_sku": product.get("sku"), "count": _whole(body.get("count", 0), "count"),
            "received": _whole(body.get("received"), "received"), "cost": body.get("cost", 0),
            "sequence_number": len(lines), "created_at": now_iso(), "updated_at": now_iso()}
    _stamp(store, line)
    lines.append(line)
    _dispatch_on_received(store, consignment, line)
    return line


def update_consignment_product(store: Store, consignment_id: str, product_id: str, body: dict) -> dict:
    """`PUT /consignments/{id}/products/{product_id}`: count, received, cost."""
    consignment = _open_for_lines(store, consignment_id)
    line = next((x for x in store.consignment_products[consignment_id] if x["product_id"] == product_id), None)
    if line is None:
        raise SaleError(404, f"product {product_id} is not on consignment {consignment_id}")
    for field in ("count", "received"):
        if field in body:
            line[field] = _whole(body[field], field)
    if "cost" in body:
        line["cost"] = body["cost"]
    line["updated_at"] = now_iso()
    _stamp(store, line)
    _dispatch_on_received(store, consignment, line)
    return line


def _stamp(store: Store, line: dict) -> None:
    store.version += 1  # a consignment line has its own version in the one global sequence
    line["version"] = store.version


def _decimal_text(value) -> str:
    return f"{Decimal(str(value or 0)):.5f}"


def public_line(line: dict, *, received_status: bool = False) -> dict:
    """A consignment line as the 2.0 document gives it (ConsignmentProduct / InventoryCountItem):
    `count`, `received` and `cost` as decimal text with 5 places ("10.00000"); a line nobody has
    received yet reads `received` "0.00000", as in the vendor's example."""
    return {"product_id": line["product_id"], "product_sku": line.get("product_sku"),
            "count": _decimal_text(line["count"]), "received": _decimal_text(line.get("received")),
            "cost": _decimal_text(line.get("cost")), "is_included": True,
            "status": "SUCCESS" if received_status else "PENDING", "sequence_number": line.get("sequence_number"),
            "created_at": line["created_at"], "updated_at": line["updated_at"], "deleted_at": None,
            "version": line.get("version", 0)}


def _dispatch_on_received(store: Store, consignment: dict, line: dict) -> None:
    if consignment["type"] == "SUPPLIER" and consignment["status"] == "SENT" and line.get("received") is not None:
        store.bump("consignments", {**consignment, "status": "DISPATCHED", "updated_at": now_iso()})
    else:
        store.bump("consignments", {**consignment, "updated_at": now_iso()})  # a line change is a change


def _check_transition(row: dict, status: str) -> None:
    flow, current = FLOWS[row["type"]], row["status"]
    if status == current:
        return
    if status in ("CANCELLED", "CLOSED"):
        if current in (FINAL[row["type"]], "CANCELLED") and row["type"] != "STOCKTAKE":
            raise SaleError(422, f"a {current} {row['type']} consignment cannot be cancelled")
        return
    if status not in flow or current not in flow or flow.index(status) < flow.index(current):
        raise SaleError(422, f"a {row['type']} consignment cannot go from {current} to {status}")


def change_consignment(store: Store, consignment_id: str, body: dict) -> dict:
    """`PUT /consignments/{id}`: a status change moves the stock it stands for, once."""
    row = store.get("consignments", consignment_id)
    if row is None:
        raise SaleError(404, f"consignment {consignment_id} not found")
    row = dict(row)
    status = body.get("status", row["status"])
    if status not in CONSIGNMENT_STATUSES:
        raise SaleError(422, f"invalid consignment status {status!r}")
    _check_transition(row, status)
    lines = store.consignment_products[consignment_id]
    kind = row["type"]
    if kind == "OUTLET" and status in ("SENT", "RECEIVED") and not row["_sent"]:
        for line in lines:
            store.move_stock(line["product_id"], row["source_outlet_id"], -line["count"])
        row["_sent"] = True
    if kind == "OUTLET" and status == "CANCELLED" and row["_sent"]:
        for line in lines:  # goods on their way go back to the source outlet
            store.move_stock(line["product_id"], row["source_outlet_id"], line["count"])
        row["_sent"] = False
    if kind == "RETURN" and status == "SENT" and not row["_sent"]:
        for line in lines:  # back to the supplier
            store.move_stock(line["product_id"], row["outlet_id"], -line["count"])
        row["_sent"] = True
    if status in ("RECEIVED", "STOCKTAKE_COMPLETE") and not row["_received"]:
        for line in lines:
            received = int(line["received"] if line["received"] is not None else line["count"])
            line["received"] = received
            _stamp(store, line)
            if kind == "STOCKTAKE":
                store.set_stock(line["product_id"], row["outlet_id"], received)
            else:
                store.move_stock(line["product_id"], row["outlet_id"], received)
        row["_received"] = True
        row["received_at"] = now_iso()
    for field in ("name", "reference", "supplier_invoice", "due_at"):
        if field in body:
            row[field] = body[field]
    row["status"] = status
    row["updated_at"] = now_iso()
    return store.bump("consignments", row)


def public(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("_")}


# variants and price books ----------------------------------------------------------------------
def add_variant(store: Store, product_id: str, body: dict) -> str:
    """2.1 "Add Single Variant" to the family whose parent is `product_id` (a standard product becomes
    the parent of a new family). A child's id is refused: the family is addressed by its parent."""
    parent = store.get("products", product_id)
    if parent is None or parent.get("deleted_at"):
        raise SaleError(404, f"product {product_id} not found")
    if parent.get("variant_parent_id"):
        raise SaleError(422, f"product {product_id} is a variant of {parent['variant_parent_id']}: "
                             "add variants through the family's parent", {"variant_parent_id": parent["variant_parent_id"]})
    variant = body.get("details") or body
    _check_new_skus(store, [variant])
    family = [p for p in store.rows["products"].values()
              if p["variant_parent_id"] == product_id and not p.get("deleted_at")]
    if len(family) + 1 >= FAMILY_LIMIT:
        raise SaleError(422, f"a variant family has at most {FAMILY_LIMIT} variants")
    if not parent.get("has_variants"):
        store.bump("products", {**parent, "has_variants": True, "updated_at": now_iso()})
    common = {k: parent.get(k) for k in ("name", "handle", "tax_id", "active", "brand_id", "description")}
    row = {"id": store.new_id(), "created_at": now_iso(), "variant_parent_id": product_id, "has_variants": False,
           "deleted_at": None}
    _apply_product(store, row, {**common, **(body.get("common") or {})}, variant)
    return row["id"]


def create_price_book(store: Store, body: dict) -> dict:
    """`POST /price_books`: `name` and `customer_group_id` are required (PriceBookCreateRequest); a
    book for every customer names the "All Customers" group."""
    for field in ("name", "customer_group_id"):
        if not body.get(field):
            raise SaleError(422, f"{field} is required")
    if body.get("outlet_id") and store.get("outlets", body["outlet_id"]) is None:
        raise SaleError(422, "unknown outlet_id", {"outlet_id": body["outlet_id"]})
    row = {"id": store.new_id(), "name": body["name"], "type": "GENERAL", "outlet_id": body.get("outlet_id"),
           "customer_group_id": body["customer_group_id"], "valid_from": body.get("valid_from"),
           "valid_to": body.get("valid_to"), "created_at": now_iso(), "updated_at": now_iso(), "deleted_at": None}
    return store.bump("price_books", row)


def public_price_book(store: Store, row: dict) -> dict:
    """A price book as GET /price_books gives it: its customer group embedded (CustomerGroup)."""
    group = store.get("customer_groups", row.get("customer_group_id") or "")
    return {**public(row), **({"customer_group": public(group)} if group else {})}


def created_price_book(row: dict) -> dict:
    """The answer to `POST /price_books` (PriceBookCreateResponseData: strings only, none null)."""
    return {k: row[k] for k in ("id", "type", "name", "customer_group_id", "outlet_id", "valid_from", "valid_to")
            if row.get(k) is not None}


ENTRIES_PER_REQUEST = 100  # docs: "The request body may not contain more than 100 price book products"


def save_price_book_products(store: Store, price_book_id: str, entries: list[dict]) -> list[dict]:
    """Add or replace entries (one per product and quantity break) of a price book; prices are tax
    exclusive. Nothing is saved unless every entry can be."""
    if store.get("price_books", price_book_id) is None:
        raise SaleError(404, f"price book {price_book_id} not found")
    if not isinstance(entries, list) or not entries:
        raise SaleError(422, "data must be a list of price book products")
    if len(entries) > ENTRIES_PER_REQUEST:
        raise SaleError(422, f"the request body may not contain more than {ENTRIES_PER_REQUEST} price book products")
    for entry in entries:
        if store.get("products", entry.get("product_id") or "") is None:
            raise SaleError(422, "unknown product_id", {"product_id": entry.get("product_id")})
        if entry.get("price") is None:
            raise SaleError(422, "price is required", {"product_id": entry.get("product_id")})
    saved = []
    for entry in entries:
        min_units = entry.get("min_units")
        existing = next((e for e in store.rows["price_book_products"].values()
                         if e["price_book_id"] == price_book_id and e["product_id"] == entry["product_id"]
                         and e.get("min_units") == min_units and not e.get("deleted_at")), None)
        row = dict(existing or {"id": store.new_id(), "price_book_id": price_book_id, "product_id": entry["product_id"],
                                "min_units": min_units, "max_units": entry.get("max_units"), "deleted_at": None})
        row.update({"price": entry["price"], "tax_id": entry.get("tax_id"), "loyalty_value": entry.get("loyalty_value"),
                    "updated_at": now_iso()})
        saved.append(store.bump("price_book_products", row))
    return saved
