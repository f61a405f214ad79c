"""The sandbox's retail world and the events of its trading days (plain data, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class Store:
    key: str
    name: str
    currency: str
    country: str
    time_zone: str
    registers: int

    @property
    def channel_key(self) -> str:
        return f"store-{self.key}"


@dataclass(frozen=True)
class Variant:
    sku: str
    product_key: str
    product_name: str
    size: str
    colour: str
    barcode: str  # EAN-13
    tax_rate: Decimal
    prices: dict[str, int]  # currency -> gross minor units
    store_prices: dict[str, int] = field(default_factory=dict)  # store key -> gross minor units (own price)

    def price_at(self, store: Store) -> int:
        return self.store_prices.get(store.key, self.prices[store.currency])


@dataclass(frozen=True)
class Shopper:
    key: str
    email: str
    first_name: str
    last_name: str
    phone: str | None
    loyalty_code: str | None
    at_pos: bool  # known to the POS
    online: bool  # has a commercetools account


@dataclass
class World:
    seed: int
    start: datetime
    stores: list[Store]
    variants: list[Variant]
    shoppers: list[Shopper]
    stock: dict[tuple[str, str], int]  # (sku, store key) -> on hand at the start

    def store(self, key: str) -> Store:
        return next(s for s in self.stores if s.key == key)

    def variant(self, sku: str) -> Variant:
        return next(v for v in self.variants if v.sku == sku)


# events of a trading day ------------------------------------------------------------------------
@dataclass(frozen=True)
class SaleLine:
    sku: str
    quantity: int
    unit_gross: int  # minor units, before discount
    discount: int = 0  # minor units per unit


@dataclass(frozen=True)
class Sale:
    event_id: str
    at: datetime
    store: str
    lines: tuple[SaleLine, ...]
    tenders: tuple[tuple[str, int], ...]  # (cash|card|gift_card|store_credit, minor units)
    shopper: str | None = None
    posted_late: bool = False  # made while the store was offline

    @property
    def total(self) -> int:
        return sum((line.unit_gross - line.discount) * line.quantity for line in self.lines)


@dataclass(frozen=True)
class StoreReturn:
    event_id: str
    at: datetime
    store: str
    lines: tuple[tuple[str, int], ...]  # (sku, quantity)
    reason: str
    of_sale: str | None = None  # event id of an in-store sale
    of_online_order: str | None = None  # commercetools orderNumber


@dataclass(frozen=True)
class Adjustment:
    event_id: str
    at: datetime
    store: str
    sku: str
    delta: int
    reason: str


@dataclass(frozen=True)
class Transfer:
    event_id: str
    at: datetime
    from_store: str
    to_store: str
    lines: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Receiving:
    event_id: str
    at: datetime
    store: str
    lines: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class OnlineOrder:
    event_id: str
    at: datetime
    order_number: str
    shopper: str
    store: str  # the store that collects or ships it
    fulfilment: str  # click_and_collect | ship_from_store
    lines: tuple[SaleLine, ...]


@dataclass(frozen=True)
class OfflineWindow:
    store: str
    start: datetime
    end: datetime


@dataclass
class TradingDay:
    day: int
    events: list  # time-ordered
    offline: OfflineWindow | None = None

    def of_kind(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]
