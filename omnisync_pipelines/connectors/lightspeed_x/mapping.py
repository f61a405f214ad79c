"""Raw X-Series records <-> the canonical model. Pure functions; a bad record raises `MappingError`
naming the field, which the connector turns into a Rejection (the rest of the batch proceeds)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from omnisync_pipelines.canonical.models import (
    CatalogItem,
    Customer,
    Location,
    MovementKind,
    Order,
    OrderLine,
    Payment,
    Price,
    Return,
    ReturnLine,
    StockLevel,
    StockMovement,
    normalise_email,
)
from omnisync_pipelines.connectors.lightspeed_x.settings import SYSTEM

# statuses of a completed sale (stock has left the outlet, the money is taken)
COMPLETED = {"CLOSED", "ONACCOUNT_CLOSED", "LAYBY_CLOSED", "DISPATCHED_CLOSED", "PICKED_UP_CLOSED", "ONACCOUNT",
             "AWAITING_DISPATCH", "AWAITING_PICKUP"}
FULFILMENT = {"AWAITING_PICKUP": "click_and_collect", "PICKED_UP_CLOSED": "click_and_collect",
              "AWAITING_DISPATCH": "ship_from_store", "DISPATCHED_CLOSED": "ship_from_store"}
DEFAULT_TENDERS = (("gift", "gift_card"), ("store credit", "store_credit"), ("credit note", "store_credit"),
                   ("cash", "cash"), ("card", "card"), ("credit", "card"), ("debit", "card"), ("eftpos", "card"))
MINOR_DIGITS = {"JPY": 0, "KRW": 0}


class MappingError(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


def minor_units(value, currency: str, field: str) -> int:
    """A decimal amount as integer minor units; more decimals than the currency has is an error."""
    try:
        amount = Decimal(str(value if value is not None else 0))
    except InvalidOperation as exc:
        raise MappingError(field, f"{field}: {value!r} is not an amount") from exc
    digits = MINOR_DIGITS.get(currency, 2)
    scaled = amount.scaleb(digits)
    # float noise beyond the 6th decimal is the API's JSON, not money
    rounded = scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if abs(scaled - rounded) > Decimal("0.0001"):
        raise MappingError(field, f"{field}: {value} has more decimals than {currency} allows")
    return int(rounded)


def whole(value, field: str) -> int:
    if value is None or isinstance(value, bool):
        raise MappingError(field, f"{field}: missing")
    number = Decimal(str(value))
    if number != number.to_integral_value():
        raise MappingError(field, f"{field}: {value} is not a whole number of units")
    return int(number)


def timestamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def location(outlet: dict, location_map: dict[str, str]) -> Location:
    return Location(SYSTEM, location_map.get(outlet["id"]), outlet["id"], outlet["name"], outlet.get("currency"),
                    outlet.get("physical_country_id"), not outlet.get("deleted_at"))


def catalog_item(product: dict) -> CatalogItem:
    sku = (product.get("sku") or "").strip()
    if not sku:
        raise MappingError("sku", f"product {product['id']} ({product.get('name')!r}) has no SKU")
    options = {o.get("name") or o.get("id"): o["value"] for o in product.get("variant_options") or []}
    codes = [c.get("code") for c in product.get("product_codes") or [] if c.get("code")]
    return CatalogItem(SYSTEM, sku, product.get("handle"), product.get("variant_name") or product["name"], product["id"],
                       json.dumps(options, sort_keys=True), codes[0] if codes else None, product.get("tax_id"),
                       bool(product.get("active", True)) and not product.get("deleted_at"), timestamp(product.get("updated_at")))


def price(product: dict, currency: str) -> Price:
    item = catalog_item(product)
    return Price(SYSTEM, item.sku, currency, minor_units(product.get("price_including_tax"), currency, "price_including_tax"),
                 f"{product['id']}:{currency}")


def stock_level(row: dict, sku_of: dict[str, str], location_map: dict[str, str]) -> StockLevel:
    if row.get("product_id") not in sku_of:
        raise MappingError("product_id", f"inventory {row['id']}: product {row.get('product_id')} unknown or without SKU")
    if row.get("outlet_id") not in location_map:
        raise MappingError("outlet_id", f"inventory {row['id']}: outlet {row.get('outlet_id')} is not in the location map")
    level = whole(row.get("inventory_level"), "inventory_level")
    return StockLevel(SYSTEM, sku_of[row["product_id"]], location_map[row["outlet_id"]], level, 0, level, row["id"],
                      int(row["version"]))


def tender(payment: dict, tender_map: dict[str, str] | None) -> str:
    name = (payment.get("name") or "").lower()
    if tender_map and name in tender_map:
        return tender_map[name]
    for word, method in DEFAULT_TENDERS:
        if word in name:
            return method
    raise MappingError("payments", f"unknown tender {payment.get('name')!r}: add it to the tender map")


def is_return(sale: dict) -> bool:
    return bool(sale.get("return_for")) or any(line["quantity"] < 0 for line in sale.get("line_items") or [])


def _line_money(line: dict, currency: str) -> tuple[int, int, int, int]:
    """(unit gross before discount, discount on the line, tax on the line, line gross after discount)."""
    quantity = abs(int(line["quantity"]))
    unit_after = minor_units(Decimal(str(line["price"])) + Decimal(str(line["tax"])), currency, "line_items.price")
    net = Decimal(str(line["price"]))
    gross_factor = (net + Decimal(str(line["tax"]))) / net if net else Decimal(1)
    unit_discount = minor_units((Decimal(str(line.get("discount") or 0)) * gross_factor).quantize(Decimal("0.01")), currency, "line_items.discount")
    tax = minor_units(Decimal(str(line["tax"])) * quantity, currency, "line_items.tax")
    return unit_after + unit_discount, unit_discount * quantity, tax, unit_after * quantity


def sale(raw: dict, *, sku_of: dict[str, str], location_map: dict[str, str], currency: str,
         tender_map: dict[str, str] | None = None, email_of: dict[str, str] | None = None) -> tuple[Order, list[OrderLine], list[Payment]]:
    if raw.get("outlet_id") not in location_map:
        raise MappingError("outlet_id", f"sale {raw['id']}: outlet {raw.get('outlet_id')} is not in the location map")
    lines, discount = [], 0
    for line in raw.get("line_items") or []:
        if line.get("status") == "VOIDED":
            continue
        if line["product_id"] not in sku_of:
            raise MappingError("line_items.product_id", f"sale {raw['id']}: product {line['product_id']} unknown or without SKU")
        unit, line_discount, tax, total = _line_money(line, currency)
        discount += line_discount
        lines.append(OrderLine(SYSTEM, raw["id"], line["id"], sku_of[line["product_id"]], whole(line["quantity"], "quantity"),
                               unit, line_discount, tax, total))
    payments = [Payment(SYSTEM, raw["id"], p["id"], tender(p, tender_map), minor_units(p["amount"], currency, "payments.amount"),
                        currency, p.get("retailer_payment_type_id")) for p in raw.get("payments") or []]
    customer = raw.get("customer_id") or None
    order = Order(
        SYSTEM, raw["id"], str(raw.get("invoice_number") or raw["id"]), "store", currency,
        minor_units(Decimal(str(raw["total_price"])) + Decimal(str(raw["total_tax"])), currency, "total_price"),
        minor_units(raw["total_tax"], currency, "total_tax"), discount, raw["status"], timestamp(raw.get("sale_date")),
        location_map[raw["outlet_id"]], customer, (email_of or {}).get(customer or ""), FULFILMENT.get(raw["status"], "in_store"),
        timestamp(raw.get("updated_at")),
    )
    return order, lines, payments


def sale_return(raw: dict, *, sku_of: dict[str, str], location_map: dict[str, str], currency: str) -> tuple[Return, list[ReturnLine]]:
    if raw.get("outlet_id") not in location_map:
        raise MappingError("outlet_id", f"return {raw['id']}: outlet {raw.get('outlet_id')} is not in the location map")
    lines = []
    for line in raw.get("line_items") or []:
        if line["quantity"] >= 0 or line.get("status") == "VOIDED":
            continue
        if line["product_id"] not in sku_of:
            raise MappingError("line_items.product_id", f"return {raw['id']}: product {line['product_id']} unknown")
        _, _, _, total = _line_money(line, currency)
        lines.append(ReturnLine(SYSTEM, raw["id"], line["id"], sku_of[line["product_id"]], -int(line["quantity"]), total))
    tags = note_tags(raw.get("note"))
    reason = tags.get("reason") or (raw.get("note") or "").strip() or None
    refund = -minor_units(Decimal(str(raw["total_price"])) + Decimal(str(raw["total_tax"])), currency, "total_price")
    # a return of an online order has no sale to point at: the till records the order number in the note
    original = raw.get("return_for") or tags.get("order")
    return Return(SYSTEM, raw["id"], currency, refund, timestamp(raw.get("sale_date")), original,
                  location_map[raw["outlet_id"]], reason), lines


def note_tags(note: str | None) -> dict[str, str]:
    """`key:value` words of a sale note (e.g. "order:WEB-1 reason:size") as a dict."""
    return dict(word.split(":", 1) for word in (note or "").split() if ":" in word and not word.startswith(":"))


def sale_movements(raw: dict, sku_of: dict[str, str], location_map: dict[str, str]) -> list[StockMovement]:
    loc = location_map.get(raw.get("outlet_id"))
    if loc is None or raw.get("status") not in COMPLETED:
        return []
    moved = []
    for line in raw.get("line_items") or []:
        if line.get("status") == "VOIDED" or line["product_id"] not in sku_of or not line["quantity"]:
            continue
        kind = MovementKind.RETURN if line["quantity"] < 0 else MovementKind.SALE
        moved.append(StockMovement(f"{SYSTEM}:sale:{raw['id']}:{line['id']}", SYSTEM, sku_of[line["product_id"]], loc,
                                   -int(line["quantity"]), kind.value, f"sale:{raw['id']}", timestamp(raw.get("sale_date"))))
    return moved


def consignment_movements(raw: dict, lines: list[dict], sku_of: dict[str, str], location_map: dict[str, str]) -> list[StockMovement]:
    moved = []
    when = timestamp(raw.get("received_at") or raw.get("created_at"))
    for line in lines:
        sku = sku_of.get(line["product_id"])
        if sku is None:
            continue
        ref = f"consignment:{raw['id']}"
        if raw["type"] == "OUTLET" and raw["status"] in ("SENT", "DISPATCHED", "RECEIVED") and raw.get("source_outlet_id") in location_map:
            moved.append(StockMovement(f"{SYSTEM}:{ref}:{line['product_id']}:out", SYSTEM, sku, location_map[raw["source_outlet_id"]],
                                       -int(line["count"]), MovementKind.TRANSFER_OUT.value, ref, when))
        if raw["status"] == "RECEIVED" and raw["type"] in ("OUTLET", "SUPPLIER") and raw.get("outlet_id") in location_map:
            kind = MovementKind.TRANSFER_IN if raw["type"] == "OUTLET" else MovementKind.RECEIVING
            moved.append(StockMovement(f"{SYSTEM}:{ref}:{line['product_id']}:in", SYSTEM, sku, location_map[raw["outlet_id"]],
                                       int(line.get("received") or line["count"]), kind.value, ref, when))
    return [m for m in moved if m.quantity]


def customer(raw: dict) -> Customer:
    email = normalise_email(raw.get("email"))
    if email is not None and ("@" not in email or "." not in email.split("@")[-1] or " " in email):
        raise MappingError("email", f"customer {raw['id']}: {raw.get('email')!r} is not an email address")
    return Customer(SYSTEM, raw["id"], email, raw.get("first_name") or None, raw.get("last_name") or None,
                    raw.get("phone") or raw.get("mobile") or None, raw.get("customer_code") or None,
                    raw.get("customer_code") if raw.get("enable_loyalty") else None,
                    None if raw.get("do_not_email") is None else not raw.get("do_not_email"), timestamp(raw.get("updated_at")))


# canonical -> X-Series drafts -------------------------------------------------------------------
def customer_fields(record: Customer) -> dict:
    fields = {"first_name": record.first_name, "last_name": record.last_name, "email": record.email, "phone": record.phone}
    if record.external_id:
        fields["customer_code"] = record.external_id
    if record.consent_marketing is not None:
        fields["do_not_email"] = not record.consent_marketing
    return {k: v for k, v in fields.items() if v is not None}


def product_variant(item: CatalogItem, price_gross_minor: int | None, tax_rate: Decimal, currency: str) -> dict:
    variant: dict = {"sku": item.sku, "product_codes": [{"type": "EAN", "code": item.barcode}] if item.barcode else []}
    options = json.loads(item.attributes or "{}")
    if options:
        variant["variant_definitions"] = [{"attribute_id": name, "value": value} for name, value in sorted(options.items())]
    if price_gross_minor is not None:
        digits = MINOR_DIGITS.get(currency, 2)
        gross = Decimal(price_gross_minor).scaleb(-digits)
        variant["price_excluding_tax"] = float((gross / (1 + tax_rate)).quantize(Decimal("0.00001")))
    return variant
