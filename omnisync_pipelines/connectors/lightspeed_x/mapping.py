"""X-Series 2.0 records -> canonical records: outlets, products, prices, inventory, customers.

Pure functions. Each `map_*` returns the canonical record, or a `Rejection` naming the field and
the reason; it never raises for a bad record. Sales, returns and movements are in
`sales_mapping.py`, canonical -> X-Series payloads in `drafts.py`.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeVar

from omnisync_pipelines.canonical.models import (
    CatalogItem,
    Customer,
    Location,
    Price,
    Rejection,
    StockLevel,
    normalise_email,
)
from omnisync_pipelines.canonical.money import currency_digits
from omnisync_pipelines.connectors import rejections
from omnisync_pipelines.connectors.lightspeed_x.settings import SYSTEM
from omnisync_pipelines.connectors.rejections import MappingError, split  # noqa: F401 (the connector's names)
from omnisync_pipelines.rest.redact import redact_body

R = TypeVar("R")
BARCODE_TYPES = ("EAN", "UPC", "GTIN", "ISBN")
# The API's JSON floats carry noise past the 6th decimal (16.8 -> 16.800000000000001); that is not
# money, so amounts are read at 6 decimals before checking against the currency's precision.
READ_PRECISION = Decimal("0.000001")
TEXT_LIMIT = 255  # names, codes, phones: longer is a broken record, not a name


# values ---------------------------------------------------------------------------------------------
def decimal(value: Any, field: str) -> Decimal:
    if value is None or isinstance(value, bool) or value == "":
        raise MappingError(field, f"{field}: missing")
    try:
        return Decimal(str(value)).quantize(READ_PRECISION, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise MappingError(field, f"{field}: {value!r} is not a number") from exc


def minor_units(value: Any, currency: str, field: str) -> int:
    """An amount the customer sees (a price, a total, a payment) as integer minor units.

    More decimals than the currency has is an error, never silently rounded.
    """
    scaled = decimal(value, field).scaleb(currency_digits(currency))
    if scaled != scaled.to_integral_value():
        raise MappingError(field, f"{field}: {value} has more decimals than {currency} allows")
    return int(scaled)


def round_minor(amount: Decimal, currency: str) -> int:
    """A derived amount (tax split of a line, net -> gross) rounded half-up to minor units."""
    return int(amount.scaleb(currency_digits(currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def major_units(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-currency_digits(currency))


def whole(value: Any, field: str) -> int:
    number = decimal(value, field)
    if number != number.to_integral_value():
        raise MappingError(field, f"{field}: {value} is not a whole number of units")
    return int(number)


def timestamp(value: str | None, field: str = "timestamp") -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, TypeError, ValueError) as exc:
        raise MappingError(field, f"{field}: {str(value)[:80]!r} is not an ISO 8601 time") from exc
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def rejection(entity: str, raw: dict, exc: MappingError, ref: str | None = None) -> Rejection:
    payload = redact_body(raw, 4000) or json.dumps({"id": raw.get("id")})
    return Rejection(SYSTEM, entity, ref or str(raw.get("id")), exc.field, exc.reason, payload)


def rejecting(entity: str, fn: Callable[..., R], raw: dict, *args, **kwargs) -> R | Rejection:
    return rejections.rejecting(entity, fn, raw, *args, reject=rejection, **kwargs)


# outlets --------------------------------------------------------------------------------------------
def map_outlet(outlet: dict, location_map: dict[str, str]) -> Location:
    """An unmapped outlet is still listed (location_key None) so operators can see what to map."""
    return Location(SYSTEM, location_map.get(outlet["id"]), outlet["id"], outlet.get("name") or outlet["id"],
                    (outlet.get("currency") or None), outlet.get("physical_country_id") or None,
                    not outlet.get("deleted_at"))


# products -------------------------------------------------------------------------------------------
def product_sku(product: dict) -> str:
    sku = (product.get("sku") or "").strip()
    if not sku:
        raise MappingError("sku", f"product {product.get('id')} ({product.get('name')!r}) has no SKU")
    return sku


def barcode(product: dict) -> str | None:
    for code in product.get("product_codes") or []:
        if str(code.get("type", "")).upper() in BARCODE_TYPES and (code.get("code") or "").strip():
            return code["code"].strip()
    return None


def tax_category(product: dict) -> str | None:
    tax = product.get("tax")
    if isinstance(tax, dict):
        return tax.get("id") or tax.get("name")
    return product.get("tax_id") or (tax if isinstance(tax, str) and tax else None)


def supply_price(product: dict, currency: str | None) -> int | None:
    """The product's unit cost (`supply_price`, tax exclusive) in minor units; absent stays None."""
    value = product.get("supply_price")
    if value is None or value == "":
        return None
    if currency is None:
        raise MappingError("supply_price", f"product {product.get('id')}: no currency to read supply_price {value} in")
    amount = minor_units(value, currency, "supply_price")
    if amount < 0:
        raise MappingError("supply_price", f"product {product.get('id')}: supply_price {value} is negative")
    return amount


def _catalog_item(product: dict, currency: str | None) -> CatalogItem:
    options = {(o.get("name") or o.get("attribute_id") or o.get("id")): o.get("value")
               for o in product.get("variant_options") or []}
    active = bool(product.get("active", True)) and not product.get("deleted_at")
    return CatalogItem(SYSTEM, product_sku(product), product.get("handle") or None,
                       product.get("variant_name") or product.get("name") or "", product["id"],
                       json.dumps(options, sort_keys=True), barcode(product), tax_category(product), active,
                       timestamp(product.get("updated_at")), supply_price(product, currency))


def map_product(product: dict, currency: str | None = None) -> CatalogItem | Rejection:
    """One catalog row per sellable product: a family's parent (`has_variants`, no `variant_parent_id`)
    is a variant with its own SKU like its children, so every row maps by its SKU. `currency`: the
    retailer's, for `supply_price`."""
    return rejecting("catalog", _catalog_item, product, currency)


def _price(product: dict, currency: str) -> Price:
    # X-Series keeps a product's prices at 5 decimals, the gross derived from the net (the vendor's own
    # example: 3.02632); the till charges it rounded to the currency's minor unit
    amount = round_minor(decimal(product.get("price_including_tax"), "price_including_tax"), currency)
    return Price(SYSTEM, product_sku(product), currency, amount, f"{product['id']}:{currency}")


def map_product_price(product: dict, currency: str) -> Price | Rejection:
    """The product's retail price (tax inclusive) in the outlets' currency."""
    return rejecting("prices", _price, product, currency)


def _price_book_price(entry: dict, book: dict, sku_of: dict[str, str], location_map: dict[str, str],
                      currency: str, tax_rate_of: dict[str, Decimal]) -> Price:
    if entry.get("product_id") not in sku_of:
        raise MappingError("product_id", f"price book entry {entry.get('id')}: product {entry.get('product_id')} unknown")
    if Decimal(str(entry.get("min_units") or 0)) > 1:
        raise MappingError("min_units", f"price book entry {entry.get('id')}: a quantity-break price is not a unit price")
    outlet_id = book.get("outlet_id")
    if outlet_id and outlet_id not in location_map:
        raise MappingError("outlet_id", f"price book {book.get('id')}: outlet {outlet_id} is not in the location map")
    if entry.get("price_including_tax") is not None:
        amount = minor_units(entry["price_including_tax"], currency, "price_including_tax")
    else:  # 2.0 price book prices are tax exclusive: gross them up with the entry's tax rate
        rate = tax_rate_of.get(entry.get("tax_id") or "")
        if rate is None:
            raise MappingError("tax_id", f"price book entry {entry.get('id')}: tax {entry.get('tax_id')!r} unknown")
        amount = round_minor(decimal(entry.get("price"), "price") * (1 + rate), currency)
    return Price(SYSTEM, sku_of[entry["product_id"]], currency, amount, f"price_book:{entry['id']}",
                 location_key=location_map.get(outlet_id) if outlet_id else None,
                 customer_group=book_customer_group(book),
                 valid_from=timestamp(book.get("valid_from")), valid_until=timestamp(book.get("valid_to")))


def map_price_book_entry(entry: dict, book: dict, *, sku_of: dict[str, str], location_map: dict[str, str],
                         currency: str, tax_rate_of: dict[str, Decimal]) -> Price | Rejection:
    """A price book row -> a price scoped to the book's outlet and/or customer group."""
    return rejecting("prices", _price_book_price, entry, book, sku_of, location_map, currency, tax_rate_of)


# `group_id` of the retailer's "All Customers" group (vendor examples of /price_books, /customer_groups):
# a book for that group is a price for everyone, not a customer-group price
ALL_CUSTOMERS_GROUP_ID = "1111111111"


def book_customer_group(book: dict) -> str | None:
    """The customer group a price book is restricted to; None for the "All Customers" group (every
    2.0 book names a group; the list embeds it as `customer_group`)."""
    group = book.get("customer_group") or {}
    if group.get("group_id") == ALL_CUSTOMERS_GROUP_ID:
        return None
    return book.get("customer_group_id") or None


def tax_rate(tax: dict) -> Decimal:
    """A 2.0 tax's rate: the sum of its `rates[].rate` (the document has no top-level `rate`; a
    compound tax has several rates)."""
    if tax.get("rates") is not None:
        return sum((decimal(r.get("rate"), "rates.rate") for r in tax["rates"]), Decimal(0))
    return Decimal(str(tax.get("rate") or 0))


def tax_rates(taxes: list[dict]) -> dict[str, Decimal]:
    return {t["id"]: tax_rate(t) for t in taxes if t.get("id")}


# inventory ------------------------------------------------------------------------------------------
INVENTORY_FIELDS = ("id", "product_id", "outlet_id", "inventory_level", "version")  # what `_stock_level` reads


def _stock_level(row: dict, sku_of: dict[str, str], location_map: dict[str, str]) -> StockLevel:
    if row.get("product_id") not in sku_of:
        raise MappingError("product_id", f"inventory {row.get('id')}: product {row.get('product_id')} unknown, without SKU or sharing its SKU")
    if row.get("outlet_id") not in location_map:
        raise MappingError("outlet_id", f"inventory {row.get('id')}: outlet {row.get('outlet_id')} is not in the location map")
    level = whole(row.get("inventory_level"), "inventory_level")
    return StockLevel(SYSTEM, sku_of[row["product_id"]], location_map[row["outlet_id"]], level, 0, level,
                      str(row.get("id") or f"{row['product_id']}@{row['outlet_id']}"), int(row.get("version") or 0))


def map_inventory(row: dict, *, sku_of: dict[str, str], location_map: dict[str, str]) -> StockLevel | Rejection:
    return rejecting("stock", _stock_level, row, sku_of, location_map)


# customers ------------------------------------------------------------------------------------------
def _text(raw: dict, field: str, limit: int = TEXT_LIMIT) -> str | None:
    """An optional free-text field: a string of at most `limit` characters, else the record is rejected."""
    value = raw.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MappingError(field, f"{raw.get('id')}: {field} is a {type(value).__name__}, not text")
    if len(value) > limit:
        raise MappingError(field, f"{raw.get('id')}: {field} is {len(value)} characters long (at most {limit})")
    return value


def _customer(raw: dict) -> Customer:
    if raw.get("email") is not None and not isinstance(raw.get("email"), str):
        raise MappingError("email", f"customer {raw.get('id')}: email is a {type(raw['email']).__name__}, not text")
    email = normalise_email(raw.get("email"))
    if email is not None and (email.count("@") != 1 or "." not in email.split("@")[1]
                              or any(unicodedata.category(ch)[0] in "CZ" for ch in email)):  # spaces, controls, invisibles
        raise MappingError("email", f"customer {raw.get('id')}: {raw.get('email')!r} is not an email address")
    for name in ("first_name", "last_name", "phone", "mobile", "customer_code"):
        _text(raw, name)
    code = (raw.get("customer_code") or "").strip() or None
    consent = None if raw.get("do_not_email") is None else not raw["do_not_email"]
    return Customer(SYSTEM, raw["id"], email, raw.get("first_name") or None, raw.get("last_name") or None,
                    raw.get("phone") or raw.get("mobile") or None, code,
                    code if raw.get("enable_loyalty") else None, consent, timestamp(raw.get("updated_at")))


def map_customer(raw: dict) -> Customer | Rejection:
    """external_id = customer_code; the code is also the loyalty id when loyalty is enabled."""
    return rejecting("customers", _customer, raw)


def duplicate_skus(products: list[dict]) -> set[str]:
    """SKUs carried by more than one live product: ambiguous, so neither product is synced."""
    counts = Counter((p.get("sku") or "").strip() for p in products if not p.get("deleted_at"))
    return {sku for sku, n in counts.items() if sku and n > 1}


def sku_index(products: list[dict]) -> dict[str, str]:
    """product id -> SKU, for every product with a usable, unambiguous SKU."""
    shared = duplicate_skus(products)
    return {p["id"]: sku for p in products if (sku := (p.get("sku") or "").strip()) and sku not in shared}

