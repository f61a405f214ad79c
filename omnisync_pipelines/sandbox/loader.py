"""Puts a world and its trading days into the emulators through their public APIs, as the
retailer's tills, back office and storefront would (plain httpx: independent of the connectors)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import httpx

from omnisync_pipelines.sandbox.loader_commercetools import CommercetoolsLoader
from omnisync_pipelines.sandbox.world import (
    Adjustment,
    OnlineOrder,
    Receiving,
    Sale,
    SaleLine,
    StoreReturn,
    TradingDay,
    Transfer,
    World,
)

TENDERS = (("cash", "Cash", "1"), ("card", "Credit Card", "3"), ("gift_card", "Gift Card", "9"),
           ("store_credit", "Store Credit", "11"))


@dataclass
class LoadedWorld:
    world: World
    location_map: list[dict]
    outlet_ids: dict[str, str] = field(default_factory=dict)
    register_ids: dict[str, list[str]] = field(default_factory=dict)
    payment_type_ids: dict[str, str] = field(default_factory=dict)
    product_ids: dict[str, str] = field(default_factory=dict)
    pos_customer_ids: dict[str, str] = field(default_factory=dict)
    channel_ids: dict[str, str] = field(default_factory=dict)
    sale_ids: dict[str, str] = field(default_factory=dict)  # event id -> X-Series sale id
    ct_credentials: dict = field(default_factory=dict)
    tax_id: str = ""
    user_id: str = ""
    till_token: str = ""


@dataclass
class PlayReport:
    posted: Counter
    expected_pos_stock: dict[tuple[str, str], int]

    def summary(self) -> str:
        return "played: " + ", ".join(f"{n} {kind}" for kind, n in sorted(self.posted.items()))


def _cents(minor: int) -> Decimal:
    return Decimal(minor).scaleb(-2)


def net_and_tax(gross_minor: int, rate: Decimal) -> tuple[Decimal, Decimal]:
    """Split a gross unit price into net and tax, both to the cent, adding up exactly."""
    gross = _cents(gross_minor)
    net = (gross / (1 + rate)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return net, gross - net


async def load_world(world: World, ct: httpx.AsyncClient, ct_credentials: dict, lsx: httpx.AsyncClient, lsx_emulator) -> LoadedWorld:
    loaded = LoadedWorld(world, [], ct_credentials=ct_credentials)
    loaded.channel_ids = await CommercetoolsLoader(ct, ct_credentials).load(world)
    emu = lsx_emulator
    loaded.tax_id = emu.seed_tax("VAT", 0.19)["id"]
    loaded.user_id = emu.seed_user("Till user")["id"]
    for method, name, type_id in TENDERS:
        loaded.payment_type_ids[method] = emu.seed_payment_type(name, type_id)["id"]
    for store in world.stores:
        outlet = emu.seed_outlet(store.name, store.currency, store.time_zone, default_tax_id=loaded.tax_id)
        loaded.outlet_ids[store.key] = outlet["id"]
        loaded.register_ids[store.key] = [emu.seed_register(outlet["id"], f"{store.name} {i + 1}")["id"] for i in range(store.registers)]
        loaded.location_map.append({
            "key": store.key, "country": store.country,
            "commercetools": {"supply_channel_key": store.channel_key, "store_key": store.key},
            "lightspeed_x": {"outlet_id": outlet["id"]},
        })
    loaded.till_token = emu.issue_user_token("tills")
    headers = {"Authorization": f"Bearer {loaded.till_token}"}
    for product_key in dict.fromkeys(v.product_key for v in world.variants):
        variants = [v for v in world.variants if v.product_key == product_key]
        body = {
            "common": {"name": variants[0].product_name, "handle": product_key, "tax_id": loaded.tax_id},
            "details": {"variants": [
                {"sku": v.sku, "price_excluding_tax": float(net_and_tax(v.prices["EUR"], v.tax_rate)[0]),
                 "product_codes": [{"type": "EAN", "code": v.barcode}],
                 "variant_definitions": [{"attribute_id": "size", "value": v.size}, {"attribute_id": "colour", "value": v.colour}],
                 "inventory": [{"outlet_id": loaded.outlet_ids[s.key], "current_amount": world.stock[(v.sku, s.key)]} for s in world.stores]}
                for v in variants
            ]},
        }
        ids = (await _ok(lsx.post("/api/2.1/products", json=body, headers=headers)))["data"]
        loaded.product_ids.update({v.sku: pid for v, pid in zip(variants, ids, strict=True)})
    for shopper in world.shoppers:
        if not shopper.at_pos:
            continue
        body = {"first_name": shopper.first_name, "last_name": shopper.last_name, "email": shopper.email,
                "phone": shopper.phone, "customer_code": shopper.loyalty_code or shopper.key.upper(),
                "enable_loyalty": shopper.loyalty_code is not None}
        loaded.pos_customer_ids[shopper.key] = (await _ok(lsx.post("/api/2.0/customers", json=body, headers=headers)))["data"]["id"]
    return loaded


async def play_day(day: TradingDay, loaded: LoadedWorld, ct: httpx.AsyncClient, lsx: httpx.AsyncClient, lsx_emulator) -> PlayReport:
    till = _Till(loaded, lsx, lsx_emulator)
    storefront = CommercetoolsLoader(ct, loaded.ct_credentials, loaded.channel_ids)
    posted: Counter = Counter()
    held: list[Sale] = []  # sales made while the store was offline, posted when it is back
    for event in day.events:
        if held and day.offline and event.at >= day.offline.end:
            for sale in held:
                await till.sale(sale)
                posted["offline_sale"] += 1
            held = []
        if isinstance(event, Sale) and event.posted_late:
            held.append(event)
            continue
        if isinstance(event, OnlineOrder):
            await storefront.online_order(event, loaded.world)
        else:
            await till.handle(event)
        posted[type(event).__name__] += 1
    for sale in held:
        await till.sale(sale)
        posted["offline_sale"] += 1
    return PlayReport(posted, expected_pos_stock(loaded.world, [day]))


def expected_pos_stock(world: World, days: list[TradingDay]) -> dict[tuple[str, str], int]:
    """What each store should hold after the days, from the events alone (not from any emulator)."""
    stock = dict(world.stock)
    for day in days:
        for event in day.events:
            if isinstance(event, Sale):
                for line in event.lines:
                    stock[(line.sku, event.store)] -= line.quantity
            elif isinstance(event, StoreReturn):
                for sku, quantity in event.lines:
                    stock[(sku, event.store)] += quantity
            elif isinstance(event, Adjustment):
                stock[(event.sku, event.store)] += event.delta
            elif isinstance(event, Transfer):
                for sku, quantity in event.lines:
                    stock[(sku, event.from_store)] -= quantity
                    stock[(sku, event.to_store)] += quantity
            elif isinstance(event, Receiving):
                for sku, quantity in event.lines:
                    stock[(sku, event.store)] += quantity
            elif isinstance(event, OnlineOrder):  # click-and-collect / ship-from-store: set aside at its store
                for line in event.lines:
                    stock[(line.sku, event.store)] -= line.quantity
    return stock


class _Till:
    def __init__(self, loaded: LoadedWorld, lsx: httpx.AsyncClient, emulator):
        self.loaded, self.lsx, self.emulator = loaded, lsx, emulator
        self.headers = {"Authorization": f"Bearer {loaded.till_token}"}

    async def handle(self, event) -> None:
        handler = {Sale: self.sale, StoreReturn: self.store_return, Adjustment: self.adjustment,
                   Transfer: self.transfer, Receiving: self.receiving}[type(event)]
        await handler(event)

    def _line(self, line: SaleLine, sign: int = 1) -> dict:
        variant = self.loaded.world.variant(line.sku)
        net, tax = net_and_tax(line.unit_gross - line.discount, variant.tax_rate)
        discount = net_and_tax(line.discount, variant.tax_rate)[0] if line.discount else Decimal(0)
        return {"product_id": self.loaded.product_ids[line.sku], "quantity": sign * line.quantity, "price": float(net),
                "tax": float(tax), "discount": float(discount), "tax_id": self.loaded.tax_id}

    async def _post(self, body: dict) -> dict:
        return (await _ok(self.lsx.post("/api/register_sales", json=body, headers=self.headers)))["register_sale"]

    async def sale(self, sale: Sale) -> None:
        body = {
            "register_id": self.loaded.register_ids[sale.store][0], "user_id": self.loaded.user_id,
            "customer_id": self.loaded.pos_customer_ids.get(sale.shopper or ""), "sale_date": sale.at.isoformat(),
            "status": "CLOSED", "register_sale_products": [self._line(line) for line in sale.lines],
            "register_sale_payments": [
                {"retailer_payment_type_id": self.loaded.payment_type_ids[method], "amount": float(_cents(amount)),
                 "payment_date": sale.at.isoformat()} for method, amount in sale.tenders],
        }
        self.loaded.sale_ids[sale.event_id] = (await self._post(body))["id"]

    async def store_return(self, ret: StoreReturn) -> None:
        world = self.loaded.world
        lines = [SaleLine(sku, quantity, world.variant(sku).price_at(world.store(ret.store))) for sku, quantity in ret.lines]
        if ret.of_sale:
            sale_id = self.loaded.sale_ids[ret.of_sale]
            started = (await _ok(self.lsx.put(f"/api/2.0/sales/{sale_id}/actions/return", headers=self.headers)))["data"]
            sold = {item["product_id"]: item for item in started["line_items"]}
            products = []
            for sku, quantity in ret.lines:
                item = sold[self.loaded.product_ids[sku]]
                products.append({"product_id": item["product_id"], "quantity": -quantity, "price": item["price"],
                                 "tax": item["tax"], "discount": item["discount"], "tax_id": item.get("tax_id")})
            refund = sum(Decimal(str(p["price"])) + Decimal(str(p["tax"])) for p in products for _ in range(-p["quantity"]))
            body = {"id": started["id"], "register_id": started["register_id"], "status": "CLOSED",
                    "note": f"reason:{ret.reason}", "sale_date": ret.at.isoformat(), "register_sale_products": products}
        else:
            products = [self._line(line, sign=-1) for line in lines]
            refund = sum((_cents(line.unit_gross) * line.quantity for line in lines), Decimal(0))
            body = {"register_id": self.loaded.register_ids[ret.store][0], "user_id": self.loaded.user_id, "status": "CLOSED",
                    "note": f"order:{ret.of_online_order} reason:{ret.reason}", "sale_date": ret.at.isoformat(),
                    "register_sale_products": products}
        body["register_sale_payments"] = [{"retailer_payment_type_id": self.loaded.payment_type_ids["cash"],
                                           "amount": -float(refund), "payment_date": ret.at.isoformat()}]
        self.loaded.sale_ids[ret.event_id] = (await self._post(body))["id"]

    async def adjustment(self, event: Adjustment) -> None:
        self.emulator.adjust_inventory(self.loaded.product_ids[event.sku], self.loaded.outlet_ids[event.store], event.delta, event.reason)

    async def _consignment(self, body: dict, lines, statuses: tuple[str, ...]) -> None:
        consignment = (await _ok(self.lsx.post("/api/2.0/consignments", json=body, headers=self.headers)))["data"]
        for sku, quantity in lines:
            await _ok(self.lsx.post(f"/api/2.0/consignments/{consignment['id']}/products", headers=self.headers,
                                    json={"product_id": self.loaded.product_ids[sku], "count": quantity, "cost": 0}))
        for status in statuses:
            await _ok(self.lsx.put(f"/api/2.0/consignments/{consignment['id']}", json={"status": status}, headers=self.headers))

    async def transfer(self, event: Transfer) -> None:
        body = {"name": event.event_id, "type": "OUTLET", "outlet_id": self.loaded.outlet_ids[event.to_store],
                "source_outlet_id": self.loaded.outlet_ids[event.from_store]}
        await self._consignment(body, event.lines, ("SENT", "RECEIVED"))

    async def receiving(self, event: Receiving) -> None:
        body = {"name": event.event_id, "type": "SUPPLIER", "outlet_id": self.loaded.outlet_ids[event.store]}
        await self._consignment(body, event.lines, ("RECEIVED",))


async def _ok(request) -> dict:
    response = await request
    if response.status_code >= 400:
        raise RuntimeError(f"sandbox load failed: {response.request.method} {response.request.url.path} -> "
                           f"{response.status_code} {response.text[:300]}")
    return response.json()
