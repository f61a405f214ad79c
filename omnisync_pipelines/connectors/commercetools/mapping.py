"""Pure mapping of commercetools JSON into canonical records.

A raw record that cannot be mapped becomes a `Rejection` naming the field and the reason; one bad
record never stops a read. Money stays in integer minor units (`centAmount`).
Orders and returns are in `order_mapping.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
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
from omnisync_pipelines.connectors.commercetools.settings import SYSTEM
from omnisync_pipelines.rest.redact import redact_body

T = TypeVar("T")
BARCODE_ATTRIBUTES = ("gtin", "ean", "barcode")


class Invalid(Exception):
    """Raised inside a mapper; the record becomes a Rejection with this field and reason."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def reject(entity: str, raw: Any, field: str, reason: str) -> Rejection:
    # an order is named by its number, as operators and the fulfilment flow know it; the rest by id
    ref = raw.get("orderNumber") or raw.get("id") or raw.get("key") or "?" if isinstance(raw, dict) else "?"
    return Rejection(SYSTEM, entity, str(ref), field, reason, redact_body(raw, max_chars=20_000) or "")


def guarded(entity: str, raw: Any, build: Callable[[], T]) -> T | Rejection:
    try:
        if not isinstance(raw, dict):
            raise Invalid("$", f"expected a JSON object, got {type(raw).__name__}")
        return build()
    except Invalid as exc:
        return reject(entity, raw, exc.field, exc.reason)


# field readers -------------------------------------------------------------------------------


def require(raw: dict, field: str, kind: type | tuple[type, ...] = str, path: str | None = None) -> Any:
    value = raw.get(field)
    name = path or field
    if value is None or value == "":
        raise Invalid(name, "missing")
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise Invalid(name, f"expected {getattr(kind, '__name__', kind)}, got {type(value).__name__} {value!r}")
    return value


def timestamp(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(field, f"expected an ISO timestamp, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(field, f"not an ISO timestamp: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """commercetools' own format: UTC with milliseconds and a Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def cents(money: Any, field: str) -> tuple[str, int]:
    """(currencyCode, centAmount) of a TypedMoney."""
    if not isinstance(money, dict):
        raise Invalid(field, "missing money value")
    currency = money.get("currencyCode")
    amount = money.get("centAmount")
    if not isinstance(currency, str) or len(currency) != 3:
        raise Invalid(f"{field}.currencyCode", f"not a currency code: {currency!r}")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise Invalid(f"{field}.centAmount", f"expected integer minor units, got {amount!r}")
    return currency, amount


def localized(value: Any, locale: str = "en") -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value:
        if locale in value:
            return value[locale]
        base = locale.split("-")[0]
        for key in sorted(value):
            if key.split("-")[0] == base:
                return value[key]
        return value[sorted(value)[0]]
    return None


def ref_id(value: Any) -> str | None:
    return value.get("id") if isinstance(value, dict) else None


def custom_fields(raw: dict) -> dict:
    return ((raw.get("custom") or {}).get("fields")) or {}


# channels and stock --------------------------------------------------------------------------


def map_channel(raw: dict, key_locations: dict[str, str], locale: str = "en") -> Location | Rejection:
    def build() -> Location:
        key = raw.get("key")
        return Location(
            system=SYSTEM,
            location_key=key_locations.get(key) if key else None,
            system_id=require(raw, "id"),
            name=localized(raw.get("name"), locale) or key or raw["id"],
            country=(raw.get("address") or {}).get("country"),
        )

    return guarded("locations", raw, build)


def map_inventory_entry(raw: dict, channel_locations: dict[str, str]) -> StockLevel | Rejection:
    """`channel_locations`: supply channel id -> canonical location key."""

    def build() -> StockLevel:
        sku = require(raw, "sku")
        channel_id = ref_id(raw.get("supplyChannel"))
        if channel_id is None:
            raise Invalid("supplyChannel", "no supply channel: project-wide default stock is not a location")
        location_key = channel_locations.get(channel_id)
        if location_key is None:
            raise Invalid("supplyChannel", f"channel {channel_id} is not in the location map")
        on_hand = require(raw, "quantityOnStock", int)
        available = raw.get("availableQuantity", on_hand)
        if not isinstance(available, int):
            raise Invalid("availableQuantity", f"expected an integer, got {available!r}")
        return StockLevel(
            system=SYSTEM,
            sku=sku,
            location_key=location_key,
            on_hand=on_hand,
            reserved=max(0, on_hand - available),
            available=available,
            system_id=require(raw, "id"),
            system_version=require(raw, "version", int),
            updated_at=timestamp(raw.get("lastModifiedAt"), "lastModifiedAt"),
        )

    return guarded("stock", raw, build)


# catalog and prices --------------------------------------------------------------------------


def variants_of(projection: dict) -> list[dict]:
    master = projection.get("masterVariant")
    return ([master] if isinstance(master, dict) else []) + [v for v in projection.get("variants") or [] if v]


def _attributes(variant: dict) -> dict[str, Any]:
    return {a["name"]: a.get("value") for a in variant.get("attributes") or [] if isinstance(a, dict) and "name" in a}


def _barcode(attributes: dict[str, Any]) -> str | None:
    by_name = {name.lower(): value for name, value in attributes.items()}
    for name in BARCODE_ATTRIBUTES:
        value = by_name.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def map_product_projection(raw: dict, locale: str = "en") -> tuple[list[CatalogItem], list[Rejection]]:
    """One CatalogItem per variant with a SKU; a variant without one is a Rejection."""
    items: list[CatalogItem] = []
    rejected: list[Rejection] = []
    header = guarded("catalog", raw, lambda: (
        require(raw, "id"),
        localized(raw.get("name"), locale) or "",
        timestamp(raw.get("lastModifiedAt"), "lastModifiedAt"),
    ))
    if isinstance(header, Rejection):
        return [], [header]
    product_id, name, updated_at = header
    tax = raw.get("taxCategory") or {}
    tax_category = (tax.get("obj") or {}).get("key") or tax.get("id")
    for index, variant in enumerate(variants_of(raw)):
        sku = variant.get("sku")
        if not isinstance(sku, str) or not sku.strip():
            rejected.append(reject("catalog", raw, f"variants[{index}].sku", f"variant {variant.get('id')} has no SKU"))
            continue
        attributes = _attributes(variant)
        items.append(
            CatalogItem(
                system=SYSTEM,
                sku=sku,
                product_key=raw.get("key"),
                name=name,
                system_id=f"{product_id}/{variant.get('id')}",
                attributes=json.dumps(attributes, sort_keys=True, ensure_ascii=False, default=str),
                barcode=_barcode(attributes),
                tax_category=tax_category,
                active=bool(raw.get("published", True)),
                updated_at=updated_at,
            )
        )
    return items, rejected


def map_price(raw: dict, sku: str, channel_locations: dict[str, str]) -> Price:
    currency, amount = cents(raw.get("value"), "value")
    if amount < 0:
        raise Invalid("value.centAmount", f"negative price {amount}")
    location_key = None
    channel_id = ref_id(raw.get("channel"))
    if channel_id is not None:
        location_key = channel_locations.get(channel_id)
        if location_key is None:
            raise Invalid("channel", f"price channel {channel_id} is not in the location map")
    return Price(
        system=SYSTEM,
        sku=sku,
        currency=currency,
        amount=amount,
        system_id=require(raw, "id"),
        country=raw.get("country"),
        location_key=location_key,
        customer_group=ref_id(raw.get("customerGroup")),
        valid_from=timestamp(raw.get("validFrom"), "validFrom"),
        valid_until=timestamp(raw.get("validUntil"), "validUntil"),
    )


def map_product_prices(raw: dict, channel_locations: dict[str, str]) -> tuple[list[Price], list[Rejection]]:
    prices: list[Price] = []
    rejected: list[Rejection] = []
    for v_index, variant in enumerate(variants_of(raw)):
        sku = variant.get("sku")
        for p_index, price in enumerate(variant.get("prices") or []):
            where = f"variants[{v_index}].prices[{p_index}]"
            if not isinstance(sku, str) or not sku:
                rejected.append(reject("prices", raw, f"variants[{v_index}].sku", "price on a variant without a SKU"))
                break
            try:
                prices.append(map_price(price, sku, channel_locations))
            except Invalid as exc:
                rejected.append(reject("prices", raw, f"{where}.{exc.field}", exc.reason))
    return prices, rejected


# customers -----------------------------------------------------------------------------------


def _phone(raw: dict) -> str | None:
    phone = custom_fields(raw).get("phone")
    if phone:
        return str(phone)
    for address in raw.get("addresses") or []:
        for field in ("mobile", "phone"):
            if isinstance(address, dict) and address.get(field):
                return str(address[field])
    return None


def map_customer(raw: dict) -> Customer | Rejection:
    def build() -> Customer:
        fields = custom_fields(raw)
        email = raw.get("email")
        if email is not None and (not isinstance(email, str) or "@" not in email):
            raise Invalid("email", "not an email address")
        consent = fields.get("consentMarketing")
        return Customer(
            system=SYSTEM,
            customer_id=require(raw, "id"),
            email=normalise_email(email),
            first_name=raw.get("firstName"),
            last_name=raw.get("lastName"),
            phone=_phone(raw),
            external_id=raw.get("externalId"),
            loyalty_id=fields.get("loyaltyId"),
            consent_marketing=consent if isinstance(consent, bool) else None,
            updated_at=timestamp(raw.get("lastModifiedAt"), "lastModifiedAt"),
        )

    return guarded("customers", raw, build)
