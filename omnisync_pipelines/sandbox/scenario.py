"""A seeded retail world and its trading days: the same seed gives the same world, to the unit.

Only `random.Random(seed)` and a fixed start date are used, never the wall clock. Stock is tracked
while generating, so no store ever sells what it does not hold.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from omnisync_pipelines.sandbox.world import (
    Adjustment,
    OfflineWindow,
    OnlineOrder,
    Receiving,
    Sale,
    SaleLine,
    Shopper,
    Store,
    StoreReturn,
    TradingDay,
    Transfer,
    Variant,
    World,
)

START = datetime(2026, 11, 2, tzinfo=UTC)
STORES = (
    Store("berlin", "Berlin Mitte", "EUR", "DE", "Europe/Berlin", 2),
    Store("munich", "München Maxvorstadt", "EUR", "DE", "Europe/Berlin", 1),
    Store("hamburg", "Hamburg Altona", "EUR", "DE", "Europe/Berlin", 1),
    Store("london", "London Soho", "GBP", "GB", "Europe/London", 2),
)
PRODUCTS = ("Tee", "Hoodie", "Cap", "Jogger", "Socks", "Jacket", "Scarf", "Polo", "Shorts", "Beanie")
SIZES, COLOURS = ("S", "M", "L"), ("RED", "BLUE")
FIRST = ("Ann", "Ben", "Cara", "Dev", "Eva", "Finn", "Gia", "Hugo", "Ida", "Jon", "Kim", "Lea", "Max", "Nia", "Ole")
LAST = ("Lee", "Meyer", "Schulz", "Novak", "Weber", "Smith", "Khan", "Rossi", "Berg", "Vogel")


def ean13(body12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def build_world(seed: int, stores: int = 4, products: int = 8, customers: int = 30) -> World:
    rng = random.Random(seed)
    chosen_stores = list(STORES[:stores])
    variants = []
    for p_index, name in enumerate(PRODUCTS[:products]):
        base_eur = rng.choice((999, 1499, 1999, 2999, 4999, 7999))
        for size in SIZES:
            for colour in COLOURS:
                sku = f"{name.upper()}-{colour}-{size}"
                barcode = ean13(f"40{seed % 100:02d}{p_index:03d}{SIZES.index(size)}{COLOURS.index(colour)}{rng.randint(100, 999)}")
                prices = {"EUR": base_eur, "GBP": base_eur * 86 // 100 // 10 * 10 + 9}
                store_prices = {"munich": base_eur + 100} if rng.random() < 0.2 else {}
                variants.append(Variant(sku, name.lower(), name, size, colour, barcode, Decimal("0.19"), prices, store_prices))
    shoppers = []
    for i in range(customers):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}{i}@example.com".lower()
        at_pos, online = (True, True) if i % 3 == 0 else ((True, False) if i % 3 == 1 else (False, True))
        shoppers.append(Shopper(f"c{i:03d}", email, first, last, f"+4930{rng.randint(1000000, 9999999)}",
                                f"LOY-{i:04d}" if at_pos and rng.random() < 0.6 else None, at_pos, online))
    # a near-duplicate: the same person typed differently at the till
    twin = shoppers[0]
    shoppers.append(Shopper("c-dup", f"  {twin.email.upper()} ", twin.first_name, twin.last_name, twin.phone, None, True, False))
    stock = {(v.sku, s.key): rng.choice((0, 2, 4, 6, 8, 12)) for v in variants for s in chosen_stores}
    return World(seed, START, chosen_stores, variants, shoppers, stock)


class _DayBuilder:
    def __init__(self, world: World, seed: int, day: int):
        self.world, self.rng = world, random.Random(seed * 1000 + day)
        self.day = day
        self.clock = world.start + timedelta(days=day - 1, hours=9)
        self.on_hand = dict(world.stock)
        self.events: list = []
        self.sales: list[Sale] = []
        self.counter = 0

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"d{self.day}-{prefix}-{self.counter:04d}"

    def tick(self) -> datetime:
        self.clock += timedelta(minutes=self.rng.randint(2, 9))
        return self.clock

    def pick_lines(self, store: Store, count: int, discount_share: float = 0.0) -> tuple[SaleLine, ...]:
        available = [v for v in self.world.variants if self.on_hand[(v.sku, store.key)] > 0]
        lines = []
        for variant in self.rng.sample(available, min(count, len(available))):
            quantity = min(self.rng.choice((1, 1, 1, 2)), self.on_hand[(variant.sku, store.key)])
            unit = variant.price_at(store)
            discount = (unit * 10 // 100) if self.rng.random() < discount_share else 0
            self.on_hand[(variant.sku, store.key)] -= quantity
            lines.append(SaleLine(variant.sku, quantity, unit, discount))
        return tuple(lines)

    def sale(self, store: Store, tenders_kind: str, shopper: str | None, discount_share: float = 0.0, late=False) -> None:
        lines = self.pick_lines(store, self.rng.randint(1, 3), discount_share)
        if not lines:
            return
        total = sum((line.unit_gross - line.discount) * line.quantity for line in lines)
        if tenders_kind == "split" and total >= 300:
            gift = min(500, total // 3)
            cash = (total - gift) // 2
            tenders = (("cash", cash), ("card", total - gift - cash), ("gift_card", gift))
        else:
            tenders = ((tenders_kind if tenders_kind != "split" else "card", total),)
        sale = Sale(self.next_id("sale"), self.tick(), store.key, lines, tenders, shopper, late)
        self.sales.append(sale)
        self.events.append(sale)


def offline_window(b: _DayBuilder, store: str) -> OfflineWindow:
    """The store loses its network over the middle third of its sales (at least one, for any world
    size): those sales are made at the till but reach the POS back office late."""
    own = [s for s in b.sales if s.store == store]
    if not own:
        return OfflineWindow(store, b.clock, b.clock)
    first = len(own) // 3
    last = max(first + 1, 2 * len(own) // 3)  # the first sale after the outage, exclusive
    start = own[first].at - timedelta(minutes=1)
    end = own[last].at if last < len(own) else own[-1].at + timedelta(minutes=1)
    late = {s.event_id for s in own[first:last]}
    b.sales = [replace(s, posted_late=True) if s.event_id in late else s for s in b.sales]
    b.events = [replace(e, posted_late=True) if getattr(e, "event_id", None) in late else e for e in b.events]
    return OfflineWindow(store, start, end)


def trading_day(world: World, seed: int, day: int = 1, sales_per_store: int = 10) -> TradingDay:
    b = _DayBuilder(world, seed, day)
    pos_shoppers = [s.key for s in world.shoppers if s.at_pos and s.key != "c-dup"]
    online_shoppers = [s.key for s in world.shoppers if s.online]
    for round_ in range(sales_per_store):
        for store in world.stores:
            kind = ("cash", "card", "split", "card", "cash")[round_ % 5]
            shopper = b.rng.choice(pos_shoppers) if kind == "card" and b.rng.random() < 0.7 else None
            b.sale(store, kind, shopper, discount_share=0.3 if round_ % 4 == 0 else 0.0)
    offline = offline_window(b, world.stores[-1].key)
    # returns of earlier sales of the day (not of late-posted ones: their receipt is not online yet)
    for sale in b.rng.sample([s for s in b.sales if not s.posted_late], 3):
        line = sale.lines[0]
        b.on_hand[(line.sku, sale.store)] += 1
        b.events.append(StoreReturn(b.next_id("return"), b.tick(), sale.store, ((line.sku, 1),),
                                    b.rng.choice(("size", "damaged", "changed_mind")), of_sale=sale.event_id))
    # online orders: click-and-collect and ship-from-store
    online = []
    for i in range(4):
        store = world.stores[i % len(world.stores)]
        variant = b.rng.choice(world.variants)
        if b.on_hand[(variant.sku, store.key)] <= 0:  # the storefront only offers what the store holds
            variant = next((v for v in world.variants if b.on_hand[(v.sku, store.key)] > 0), variant)
        b.on_hand[(variant.sku, store.key)] -= 1  # set aside for the shopper once omnisync assigns the order
        lines = (SaleLine(variant.sku, 1, variant.price_at(store)),)
        order = OnlineOrder(b.next_id("web"), b.tick(), f"WEB-{world.seed}-{day}-{i + 1:03d}", b.rng.choice(online_shoppers),
                            store.key, ("click_and_collect", "ship_from_store")[i % 2], lines)
        online.append(order)
        b.events.append(order)
    # an online purchase brought back to a store
    returned = online[0]
    b.on_hand[(returned.lines[0].sku, world.stores[0].key)] += 1
    b.events.append(StoreReturn(b.next_id("return"), b.tick(), world.stores[0].key, ((returned.lines[0].sku, 1),),
                                "size", of_online_order=returned.order_number))
    # back office: adjustments, a transfer, a delivery
    for store, delta, reason in ((world.stores[0], -1, "damage"), (world.stores[1], +2, "stock_found")):
        variant = b.rng.choice([v for v in world.variants if b.on_hand[(v.sku, store.key)] > 0])
        b.on_hand[(variant.sku, store.key)] += delta
        b.events.append(Adjustment(b.next_id("adjust"), b.tick(), store.key, variant.sku, delta, reason))
    source, target = world.stores[0], world.stores[-1 if len(world.stores) < 3 else 2]
    moving = [(v.sku, 1) for v in world.variants if b.on_hand[(v.sku, source.key)] > 1][:3]
    for sku, quantity in moving:
        b.on_hand[(sku, source.key)] -= quantity
        b.on_hand[(sku, target.key)] += quantity
    b.events.append(Transfer(b.next_id("transfer"), b.tick(), source.key, target.key, tuple(moving)))
    delivery = tuple((v.sku, 6) for v in world.variants[:4])
    for sku, quantity in delivery:
        b.on_hand[(sku, world.stores[1].key)] += quantity
    b.events.append(Receiving(b.next_id("receive"), b.tick(), world.stores[1].key, delivery))
    events = sorted(b.events, key=lambda e: e.at)
    return TradingDay(day, events, offline)
