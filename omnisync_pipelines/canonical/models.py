"""Canonical records, one frozen dataclass per entity.

Connectors map raw API records into these; the engine and the snapshots only ever see these.
Money is integer minor units with a currency, quantities are integers, times are timezone-aware UTC.
Each dataclass's field names are the column names of its snapshot table and pandera schema.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from enum import StrEnum


class MovementKind(StrEnum):
    SALE = "sale"
    RETURN = "return"
    ADJUSTMENT = "adjustment"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    RECEIVING = "receiving"
    LEVEL_CHANGE = "level_change"  # a change of the POS count not attributed to a known document


class PaymentMethod(StrEnum):
    CASH = "cash"
    CARD = "card"
    GIFT_CARD = "gift_card"
    STORE_CREDIT = "store_credit"
    OTHER = "other"


class OrderChannel(StrEnum):
    STORE = "store"
    ONLINE = "online"


class Fulfilment(StrEnum):
    IN_STORE = "in_store"  # carried out of the shop by the customer
    SHIP = "ship"  # shipped from a warehouse
    CLICK_AND_COLLECT = "click_and_collect"
    SHIP_FROM_STORE = "ship_from_store"


@dataclass(frozen=True, slots=True)
class Record:
    def to_row(self) -> dict:
        return asdict(self)

    @classmethod
    def columns(cls) -> list[str]:
        return [f.name for f in fields(cls)]


@dataclass(frozen=True, slots=True)
class Location(Record):
    system: str
    location_key: str | None  # canonical key from the configured location map; None when unmapped
    system_id: str
    name: str
    currency: str | None = None
    country: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class CatalogItem(Record):
    system: str
    sku: str
    product_key: str | None
    name: str
    system_id: str
    attributes: str = "{}"  # JSON object, sorted keys
    barcode: str | None = None
    tax_category: str | None = None
    active: bool = True
    updated_at: datetime | None = None
    supply_price: int | None = None  # unit cost from the supplier, minor units of the retailer's currency


@dataclass(frozen=True, slots=True)
class Price(Record):
    system: str
    sku: str
    currency: str
    amount: int  # minor units
    system_id: str
    country: str | None = None
    location_key: str | None = None  # channel (commercetools) or outlet price book (POS)
    customer_group: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class StockLevel(Record):
    system: str
    sku: str
    location_key: str
    on_hand: int
    reserved: int
    available: int
    system_id: str  # inventory entry / inventory record id
    system_version: int
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StockMovement(Record):
    movement_id: str  # stable across reads of the same source record
    system: str
    sku: str
    location_key: str
    quantity: int  # signed: sale -n, return +n
    kind: str  # MovementKind
    source_ref: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Order(Record):
    system: str
    order_id: str
    order_number: str
    channel: str  # OrderChannel
    currency: str
    total_gross: int
    total_tax: int
    total_discount: int
    status: str
    created_at: datetime
    location_key: str | None = None
    customer_ref: str | None = None  # the system's customer id, None for a guest
    customer_email: str | None = None
    fulfilment: str | None = None  # Fulfilment
    updated_at: datetime | None = None
    shipping_method_name: str | None = None  # as shown to the shopper; None when nothing is shipped
    shipping_method_key: str | None = None  # the system's shipping method key; None for a custom method
    shipping_price: int = 0  # gross, minor units, after shipping discounts
    shipping_tax: int = 0  # minor units, included in shipping_price
    # minor units, signed: total_gross minus the lines at the POS's unit prices (each rounded to the
    # minor unit) x quantity; not 0 when the POS keeps unit prices finer than the currency (an uneven
    # discount) and the total had to be rounded to what the till took (money.fit_to_total)
    rounding: int = 0
    # the POS's id of the sale this order was imported from (commercetools `custom.fields.posSaleId`):
    # how reconciliation pairs a store order with its sale whatever its orderNumber; None for a POS's
    # own sales and for web orders
    pos_sale_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrderLine(Record):
    system: str
    order_id: str
    line_id: str
    sku: str
    quantity: int
    unit_price: int  # gross, minor units, before discount
    discount: int  # total discount on the line, minor units
    tax: int
    total: int  # gross after discount


@dataclass(frozen=True, slots=True)
class Payment(Record):
    system: str
    order_id: str
    payment_id: str
    method: str  # PaymentMethod
    amount: int  # minor units; negative for a refund tender
    currency: str
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Return(Record):
    system: str
    return_id: str
    currency: str
    refund_total: int
    created_at: datetime
    original_order_ref: str | None = None  # the original order's id or number in its own system
    location_key: str | None = None
    reason_code: str | None = None


@dataclass(frozen=True, slots=True)
class ReturnLine(Record):
    system: str
    return_id: str
    line_id: str
    sku: str
    quantity: int  # positive: units coming back
    refund_amount: int
    original_line_ref: str | None = None
    restock: bool = True


@dataclass(frozen=True, slots=True)
class Customer(Record):
    system: str
    customer_id: str
    email: str | None  # normalised: stripped, lower-case
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    external_id: str | None = None
    loyalty_id: str | None = None
    consent_marketing: bool | None = None
    updated_at: datetime | None = None


def normalise_email(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    return value or None


@dataclass(frozen=True, slots=True)
class Rejection(Record):
    """A source record that could not be mapped or applied: which record, which field, why."""

    system: str
    entity: str
    record_ref: str
    field: str
    reason: str
    payload: str  # the raw record as JSON, redacted
