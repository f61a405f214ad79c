"""R-Series records -> canonical records: shops, items, prices, item shops (stock), inventory log
(movements), customers. Pure functions: each `map_*` returns the canonical record(s), or a `Rejection`
naming the field; it never raises for a bad record. Sales and refunds are in `sales_mapping.py`.

Conventions (docs/lightspeed_r.md): SKU = `customSku`, barcode = `ean` (else `upc`), the `Default`
price level (useTypeID 1) is the base gross price and a store's own price is the level its Shop names
in `priceLevelID`; available = qoh - onLayaway - onTransferOut; the customer keys are the "External ID" and "Loyalty
ID" custom fields.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from omnisync_pipelines.canonical.models import (
    CatalogItem,
    Customer,
    Location,
    MovementKind,
    Price,
    Rejection,
    StockLevel,
    StockMovement,
    normalise_email,
)
from omnisync_pipelines.canonical.money import currency_digits
from omnisync_pipelines.connectors import rejections
from omnisync_pipelines.connectors.lightspeed_r import shapes
from omnisync_pipelines.connectors.lightspeed_r.settings import SYSTEM
from omnisync_pipelines.connectors.rejections import MappingError, split  # noqa: F401 (the connector's names)
from omnisync_pipelines.rest.redact import redact_body

R = TypeVar("R")
DEFAULT_LEVEL = 1  # useTypeID of the `Default` price level
EXTERNAL_ID_FIELD, LOYALTY_ID_FIELD = "External ID", "Loyalty ID"  # Customer custom fields
TEXT_LIMIT = 255  # descriptions, names: longer is a broken record, not a name
PK = {"catalog": "itemID", "prices": "itemID", "stock": "itemShopID", "stock_movements": "inventoryLogID",
      "customers": "customerID", "orders": "saleID", "returns": "saleID", "locations": "shopID"}


# values -----------------------------------------------------------------------------------------
def number(raw: dict, field: str, *, required: bool = True) -> Decimal | None:
    try:
        value = shapes.decimal(raw.get(field))
    except ValueError as exc:
        raise MappingError(field, f"{field}: {exc}") from None
    if value is None and required:
        raise MappingError(field, f"{field}: missing")
    return value


def free_text(raw: dict, field: str, record: str, limit: int = TEXT_LIMIT) -> str:
    """A free-text field: text of at most `limit` characters (`""` when missing), else the record is rejected."""
    value = raw.get(field)
    if isinstance(value, dict | list):
        raise MappingError(field, f"{record}: {field} is a {type(value).__name__}, not text")
    text = shapes.text(value)
    if len(text) > limit:
        raise MappingError(field, f"{record}: {field} is {len(text)} characters long (at most {limit})")
    return text


def whole(raw: dict, field: str) -> int:
    value = number(raw, field)
    if value != value.to_integral_value():
        raise MappingError(field, f"{field}: {raw.get(field)} is not a whole number of units")
    return int(value)


def minor_units(amount: Decimal, currency: str, field: str) -> int:
    """An amount the customer sees as integer minor units; more decimals than the currency has is an error."""
    scaled = amount.scaleb(currency_digits(currency))
    if scaled != scaled.to_integral_value():
        raise MappingError(field, f"{field}: {amount} has more decimals than {currency} allows")
    return int(scaled)


def round_minor(amount: Decimal, currency: str) -> int:
    return int(amount.scaleb(currency_digits(currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def timestamp(value: Any, field: str = "timeStamp") -> datetime | None:
    text = shapes.text(value).strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MappingError(field, f"{field}: {text[:80]!r} is not an ISO 8601 time") from exc
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def version_of(value: Any) -> int:
    """A record's version from its second-precision `timeStamp` (R-Series keeps no record versions)."""
    moment = timestamp(value)
    return int(moment.timestamp()) if moment else 0


def rejection(entity: str, raw: dict, exc: MappingError, ref: str | None = None) -> Rejection:
    record_ref = ref or shapes.text(raw.get(PK.get(entity, ""))) or "?"
    payload = redact_body(raw, 4000) or json.dumps({"ref": record_ref})
    return Rejection(SYSTEM, entity, record_ref, exc.field, exc.reason, payload)


def rejecting(entity: str, fn: Callable[..., R], raw: dict, *args, **kwargs) -> R | Rejection:
    return rejections.rejecting(entity, fn, raw, *args, reject=rejection, **kwargs)


# shops ------------------------------------------------------------------------------------------
def map_shop(shop: dict, location_map: dict[str, str], currency_of: dict[str, str]) -> Location:
    """An unmapped shop is still listed (location_key None) so operators can see what to map."""
    shop_id = shapes.text(shop.get("shopID"))
    return Location(SYSTEM, location_map.get(shop_id), shop_id, shapes.text(shop.get("name")) or shop_id,
                    currency_of.get(shop_id), None, not shapes.flag(shop.get("archived")))


# items ------------------------------------------------------------------------------------------
def item_sku(item: dict) -> str:
    sku = shapes.text(item.get("customSku")).strip()
    if not sku:
        raise MappingError("customSku", f"item {item.get('itemID')} ({shapes.text(item.get('description'))[:80]!r}) has no customSku")
    return sku


def duplicate_skus(items: list[dict]) -> set[str]:
    counts = Counter(shapes.text(i.get("customSku")).strip() for i in items if not shapes.flag(i.get("archived")))
    return {sku for sku, n in counts.items() if sku and n > 1}


def sku_index(items: list[dict]) -> dict[str, str]:
    """itemID -> SKU, for every item with a usable, unambiguous SKU."""
    shared = duplicate_skus(items)
    return {shapes.text(i.get("itemID")): sku for i in items
            if (sku := shapes.text(i.get("customSku")).strip()) and sku not in shared}


def _catalog_item(item: dict, currency: str | None) -> CatalogItem:
    barcode = shapes.text(item.get("ean")).strip() or shapes.text(item.get("upc")).strip() or None
    matrix = shapes.ident(item.get("itemMatrixID"))
    cost = number(item, "defaultCost", required=False)
    supply = minor_units(cost, currency, "defaultCost") if cost and currency else None
    description = free_text(item, "description", f"item {item.get('itemID')}")
    return CatalogItem(SYSTEM, item_sku(item), f"matrix:{matrix}" if matrix else None,
                       description, shapes.text(item["itemID"]), variant_values(description, matrix), barcode,
                       shapes.ident(item.get("taxClassID")), not shapes.flag(item.get("archived")),
                       timestamp(item.get("timeStamp")), supply)


def variant_values(description: str, matrix: str | None) -> str:
    """A matrix item's variant values, as its description shows them after the product name
    ("Tee / RED / S"): a JSON list, for R-Series keeps the values and not the attributes' names
    (the catalog plan compares them with the wanted values in the order of their names)."""
    if not matrix or " / " not in description:
        return "{}"
    return json.dumps(description.split(" / ")[1:])


def map_item(item: dict, currency: str | None = None) -> CatalogItem | Rejection:
    """One catalog row per Item; variants of one product share `product_key` = its ItemMatrix."""
    return rejecting("catalog", _catalog_item, item, currency)


def item_prices(item: dict) -> dict[int, Decimal]:
    """useTypeID -> amount of the item's ItemPrices."""
    found = {}
    for price in shapes.many(item.get("Prices"), "ItemPrice"):
        level = shapes.integer(price.get("useTypeID"))
        if level:
            found[level] = number(price, "amount")
    return found


def _prices(item: dict, currencies: list[str], shop_levels: dict[str, tuple[str, int, str]]) -> list[Price]:
    """`currencies`: the account's currency, which the Default level is in (a shop trading in another
    one sells at the level its shop names)."""
    sku, item_id = item_sku(item), shapes.text(item["itemID"])
    amounts = item_prices(item)
    if DEFAULT_LEVEL not in amounts:
        raise MappingError("Prices", f"item {item_id}: no Default price")
    found = [Price(SYSTEM, sku, c, minor_units(amounts[DEFAULT_LEVEL], c, "Prices.amount"), f"{item_id}:{c}")
             for c in currencies]
    for shop_id, (location_key, level, currency) in sorted(shop_levels.items()):
        if level != DEFAULT_LEVEL and amounts.get(level):  # an empty level sells at the Default price
            found.append(Price(SYSTEM, sku, currency, minor_units(amounts[level], currency, "Prices.amount"),
                               f"{item_id}:level{level}:shop{shop_id}", location_key=location_key))
    return found


def map_item_prices(item: dict, currencies: list[str], shop_levels: dict[str, tuple[str, int, str]],
                    ) -> list[Price] | Rejection:
    """The Default price in each currency the mapped shops trade in, and a store price for each mapped
    shop whose price level (`shop_levels`: shopID -> (location key, priceLevelID, currency)) sets one."""
    return rejecting("prices", _prices, item, currencies, shop_levels)


# stock ------------------------------------------------------------------------------------------
def _stock_level(row: dict, sku_of: dict[str, str], location_map: dict[str, str]) -> StockLevel:
    item_id, shop_id = shapes.text(row.get("itemID")), shapes.text(row.get("shopID"))
    if item_id not in sku_of:
        raise MappingError("itemID", f"item shop {row.get('itemShopID')}: item {item_id} unknown, without SKU or sharing its SKU")
    if shop_id not in location_map:
        raise MappingError("shopID", f"item shop {row.get('itemShopID')}: shop {shop_id} is not in the location map")
    # the count omnisync mirrors leaves out units on layaway: a layaway is how an online order's goods
    # are set aside at a shop, and those units are the order's, as X-Series' store sale takes them off
    # and units sent on a transfer: they stay in the sender's qoh until the receiving shop completes it
    # in the UI (inventory-transfer-transferitems.md), but they have left the shop
    reserved = whole(row, "onLayaway") if shapes.text(row.get("onLayaway")) else 0
    in_transit = whole(row, "onTransferOut") if shapes.text(row.get("onTransferOut")) else 0
    on_hand = whole(row, "qoh") - reserved - in_transit
    return StockLevel(SYSTEM, sku_of[item_id], location_map[shop_id], on_hand, reserved, on_hand,
                      shapes.text(row.get("itemShopID")), version_of(row.get("timeStamp")), timestamp(row.get("timeStamp")))


def map_item_shop(row: dict, *, sku_of: dict[str, str], location_map: dict[str, str]) -> StockLevel | Rejection:
    return rejecting("stock", _stock_level, row, sku_of, location_map)


MOVEMENT_KINDS = (  # InventoryLog reason (lower case) contains -> kind; first match wins
    ("voidrefund", MovementKind.SALE), ("refund", MovementKind.RETURN), ("putback", MovementKind.RETURN),
    ("addfortransfer", MovementKind.TRANSFER_IN), ("fromtransfer", MovementKind.TRANSFER_IN),
    ("removefortransfer", MovementKind.TRANSFER_OUT), ("transaction", MovementKind.SALE),
    ("layaway", MovementKind.SALE), ("forsale", MovementKind.SALE), ("count", MovementKind.ADJUSTMENT),
    ("manual", MovementKind.ADJUSTMENT), ("receiv", MovementKind.RECEIVING),
)  # no "order" word: it matched RemoveForWorkorder/RemoveForSpecialOrder; a purchase order's check-in is a
#   GenericReason row with its orderID, which movement_kind reads first
REFERENCES = (("saleID", "sale"), ("transferID", "transfer"), ("orderID", "order"), ("inventoryCountID", "count"),
              ("vendorReturnID", "vendor_return"))


def movement_kind(log: dict) -> MovementKind:
    reason = shapes.text(log.get("reason")).lower()
    if shapes.ident(log.get("orderID")):
        return MovementKind.RECEIVING
    return next((kind for word, kind in MOVEMENT_KINDS if word in reason), MovementKind.LEVEL_CHANGE)


def _movement(log: dict, sku_of: dict[str, str], location_map: dict[str, str]) -> StockMovement:
    item_id, shop_id = shapes.text(log.get("itemID")), shapes.text(log.get("shopID"))
    if item_id not in sku_of:
        raise MappingError("itemID", f"inventory log {log.get('inventoryLogID')}: item {item_id} unknown or without SKU")
    if shop_id not in location_map:
        raise MappingError("shopID", f"inventory log {log.get('inventoryLogID')}: shop {shop_id} is not in the location map")
    occurred = timestamp(log.get("createTime"), "createTime")
    if occurred is None:
        raise MappingError("createTime", f"inventory log {log.get('inventoryLogID')}: no createTime")
    log_id = shapes.text(log.get("inventoryLogID"))
    source = next((f"{name}:{ref}" for field, name in REFERENCES if (ref := shapes.ident(log.get(field)))),
                  f"log:{log_id}")
    return StockMovement(f"{SYSTEM}:log:{log_id}", SYSTEM, sku_of[item_id], location_map[shop_id],
                         whole(log, "qohChange"), movement_kind(log).value, source, occurred)


def map_inventory_log(log: dict, *, sku_of: dict[str, str], location_map: dict[str, str]) -> StockMovement | Rejection:
    return rejecting("stock_movements", _movement, log, sku_of, location_map)


# customers --------------------------------------------------------------------------------------
def custom_fields(customer: dict) -> dict[str, str]:
    """Custom field name -> value (CustomFieldValues relation)."""
    return {shapes.text(v.get("name")): shapes.text(v.get("value")).strip()
            for v in shapes.many(customer.get("CustomFieldValues"), "CustomFieldValue")
            if not shapes.flag(v.get("deleted"))}


def primary_email(contact: Any) -> str | None:
    emails = shapes.many(contact.get("Emails"), "ContactEmail") if isinstance(contact, dict) else []
    chosen = next((e for e in emails if shapes.text(e.get("useType")) == "Primary"), emails[0] if emails else None)
    return shapes.text(chosen.get("address")) if chosen else None


def first_phone(contact: Any) -> str | None:
    phones = shapes.many(contact.get("Phones"), "ContactPhone") if isinstance(contact, dict) else []
    return next((number for p in phones if (number := shapes.text(p.get("number")).strip())), None)


def _customer(raw: dict) -> Customer:
    contact = raw.get("Contact")
    address = primary_email(contact)
    email = normalise_email(address)
    if email is not None and (email.count("@") != 1 or "." not in email.split("@")[1]
                              or any(unicodedata.category(ch)[0] in "CZ" for ch in email)):
        raise MappingError("Contact.Emails", f"customer {raw.get('customerID')}: {address!r} is not an email address")
    fields = custom_fields(raw)
    consent = None
    if isinstance(contact, dict) and shapes.text(contact.get("noEmail")):
        consent = not shapes.flag(contact.get("noEmail"))
    record = f"customer {raw.get('customerID')}"
    first, last = free_text(raw, "firstName", record), free_text(raw, "lastName", record)
    return Customer(SYSTEM, shapes.text(raw["customerID"]), email, first or None, last or None, first_phone(contact),
                    fields.get(EXTERNAL_ID_FIELD) or None, fields.get(LOYALTY_ID_FIELD) or None, consent,
                    timestamp(raw.get("timeStamp")))


def map_customer(raw: dict) -> Customer | Rejection:
    """external_id <- the "External ID" custom field, loyalty_id <- "Loyalty ID", email <- the Primary
    ContactEmail, phone <- the first ContactPhone, marketing consent <- not Contact.noEmail."""
    return rejecting("customers", _customer, raw)
