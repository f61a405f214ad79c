"""The X-Series side of the sandbox world, as the retailer's back office and tills would make it:
outlets, registers, payment types and tax seeded (the 2.0 API cannot create those), products and
customers through the 2.x API, then register sales, returns, consignments and count adjustments."""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import httpx

from omnisync_pipelines.sandbox.pos import LoadedPos
from omnisync_pipelines.sandbox.world import (
    Adjustment,
    Receiving,
    Sale,
    SaleLine,
    Store,
    StoreReturn,
    Transfer,
    World,
)

SYSTEM = "lightspeed_x"
TENDERS = (("cash", "Cash", "1"), ("card", "Credit Card", "3"), ("gift_card", "Gift Card", "9"),
           ("store_credit", "Store Credit", "11"))


def _cents(minor: int) -> Decimal:
    return Decimal(minor).scaleb(-2)


def net_and_tax(gross_minor: int, rate: Decimal) -> tuple[Decimal, Decimal]:
    """Split a gross unit price into net and tax, both to the cent, adding up exactly."""
    gross = _cents(gross_minor)
    net = (gross / (1 + rate)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return net, gross - net


async def load(world: World, stores: list[Store], client: httpx.AsyncClient, emulator, system: str = SYSTEM) -> LoadedPos:
    loaded = LoadedPos(system, [s.key for s in stores])
    ids = loaded.ids
    ids.update(outlet_ids={}, register_ids={}, payment_type_ids={}, product_ids={}, pos_customer_ids={})
    ids["tax_id"] = emulator.seed_tax("VAT", 0.19)["id"]
    ids["user_id"] = emulator.seed_user("Till user")["id"]
    for method, name, type_id in TENDERS:
        ids["payment_type_ids"][method] = emulator.seed_payment_type(name, type_id)["id"]
    for store in stores:
        outlet = emulator.seed_outlet(store.name, store.currency, store.time_zone, default_tax_id=ids["tax_id"])
        ids["outlet_ids"][store.key] = outlet["id"]
        ids["register_ids"][store.key] = [emulator.seed_register(outlet["id"], f"{store.name} {i + 1}")["id"]
                                          for i in range(store.registers)]
        loaded.location_blocks[store.key] = {"outlet_id": outlet["id"]}
    ids["till_token"] = emulator.issue_user_token("tills")
    headers = {"Authorization": f"Bearer {ids['till_token']}"}
    for product_key in dict.fromkeys(v.product_key for v in world.variants):
        variants = [v for v in world.variants if v.product_key == product_key]
        body = {
            "common": {"name": variants[0].product_name, "handle": product_key, "tax_id": ids["tax_id"]},
            "details": {"variants": [
                {"sku": v.sku, "price_excluding_tax": float(net_and_tax(v.prices["EUR"], v.tax_rate)[0]),
                 "product_codes": [{"type": "EAN", "code": v.barcode}],
                 "variant_definitions": [{"attribute_id": "size", "value": v.size}, {"attribute_id": "colour", "value": v.colour}],
                 "inventory": [{"outlet_id": ids["outlet_ids"][s.key], "current_amount": world.stock[(v.sku, s.key)]}
                               for s in stores]}
                for v in variants
            ]},
        }
        created = (await _ok(client.post("/api/2.1/products", json=body, headers=headers)))["data"]
        ids["product_ids"].update({v.sku: pid for v, pid in zip(variants, created, strict=True)})
    for shopper in world.shoppers:
        if not shopper.at_pos:
            continue
        body = {"first_name": shopper.first_name, "last_name": shopper.last_name, "email": shopper.email,
                "phone": shopper.phone, "customer_code": shopper.loyalty_code or shopper.key.upper(),
                "enable_loyalty": shopper.loyalty_code is not None}
        customer = await _ok(client.post("/api/2.0/customers", json=body, headers=headers))
        ids["pos_customer_ids"][shopper.key] = customer["data"]["id"]
    return loaded


class Till:
    """The stores' registers and back office: each world event as the X-Series API receives it."""

    def __init__(self, loaded: LoadedPos, world: World, client: httpx.AsyncClient, emulator):
        self.loaded, self.world, self.client, self.emulator = loaded, world, client, emulator
        self.ids = loaded.ids
        self.headers = {"Authorization": f"Bearer {self.ids['till_token']}"}

    async def play(self, events: list) -> Counter:
        posted: Counter = Counter()
        for event in events:
            handler = {Sale: self.sale, StoreReturn: self.store_return, Adjustment: self.adjustment,
                       Transfer: self.transfer, Receiving: self.receiving}[type(event)]
            await handler(event)
            posted[type(event).__name__] += 1
        return posted

    def _line(self, line: SaleLine, sign: int = 1) -> dict:
        variant = self.world.variant(line.sku)
        net, tax = net_and_tax(line.unit_gross - line.discount, variant.tax_rate)
        discount = net_and_tax(line.discount, variant.tax_rate)[0] if line.discount else Decimal(0)
        return {"product_id": self.ids["product_ids"][line.sku], "quantity": sign * line.quantity, "price": float(net),
                "tax": float(tax), "discount": float(discount), "tax_id": self.ids["tax_id"]}

    async def _post(self, body: dict) -> dict:
        return (await _ok(self.client.post("/api/register_sales", json=body, headers=self.headers)))["register_sale"]

    async def sale(self, sale: Sale) -> None:
        body = {
            "register_id": self.ids["register_ids"][sale.store][0], "user_id": self.ids["user_id"],
            "customer_id": self.ids["pos_customer_ids"].get(sale.shopper or ""), "sale_date": sale.at.isoformat(),
            "status": "CLOSED", "register_sale_products": [self._line(line) for line in sale.lines],
            "register_sale_payments": [
                {"retailer_payment_type_id": self.ids["payment_type_ids"][method], "amount": float(_cents(amount)),
                 "payment_date": sale.at.isoformat()} for method, amount in sale.tenders],
        }
        self.loaded.sale_ids[sale.event_id] = (await self._post(body))["id"]

    async def store_return(self, ret: StoreReturn) -> None:
        lines = [SaleLine(sku, quantity, self.world.variant(sku).price_at(self.world.store(ret.store)))
                 for sku, quantity in ret.lines]
        if ret.of_sale:
            sale_id = self.loaded.sale_ids[ret.of_sale]
            started = (await _ok(self.client.put(f"/api/2.0/sales/{sale_id}/actions/return", headers=self.headers)))["data"]
            sold = {item["product_id"]: item for item in started["line_items"]}
            products = []
            for sku, quantity in ret.lines:
                item = sold[self.ids["product_ids"][sku]]
                products.append({"product_id": item["product_id"], "quantity": -quantity, "price": item["price"],
                                 "tax": item["tax"], "discount": item["discount"], "tax_id": item.get("tax_id")})
            exact = sum(Decimal(str(p["price"])) + Decimal(str(p["tax"])) for p in products for _ in range(-p["quantity"]))
            refund = exact.quantize(Decimal("0.01"), ROUND_HALF_UP)  # the till pays out whole cents
            body = {"id": started["id"], "register_id": started["register_id"], "status": "CLOSED",
                    "note": f"reason:{ret.reason}", "sale_date": ret.at.isoformat(), "register_sale_products": products}
        else:
            products = [self._line(line, sign=-1) for line in lines]
            refund = sum((_cents(line.unit_gross) * line.quantity for line in lines), Decimal(0))
            body = {"register_id": self.ids["register_ids"][ret.store][0], "user_id": self.ids["user_id"],
                    "status": "CLOSED", "note": f"order:{ret.of_online_order} reason:{ret.reason}",
                    "sale_date": ret.at.isoformat(), "register_sale_products": products}
        body["register_sale_payments"] = [{"retailer_payment_type_id": self.ids["payment_type_ids"]["cash"],
                                           "amount": -float(refund), "payment_date": ret.at.isoformat()}]
        self.loaded.sale_ids[ret.event_id] = (await self._post(body))["id"]

    async def adjustment(self, event: Adjustment) -> None:
        self.emulator.adjust_inventory(self.ids["product_ids"][event.sku], self.ids["outlet_ids"][event.store],
                                       event.delta, event.reason)

    async def _consignment(self, body: dict, lines, statuses: tuple[str, ...]) -> None:
        consignment = (await _ok(self.client.post("/api/2.0/consignments", json=body, headers=self.headers)))["data"]
        for sku, quantity in lines:
            await _ok(self.client.post(f"/api/2.0/consignments/{consignment['id']}/products", headers=self.headers,
                                       json={"product_id": self.ids["product_ids"][sku], "count": quantity, "cost": 0}))
        for status in statuses:
            await _ok(self.client.put(f"/api/2.0/consignments/{consignment['id']}", json={"status": status},
                                      headers=self.headers))

    async def transfer(self, event: Transfer) -> None:
        outlets = self.ids["outlet_ids"]
        if event.from_store in outlets and event.to_store in outlets:
            body = {"name": event.event_id, "type": "OUTLET", "outlet_id": outlets[event.to_store],
                    "source_outlet_id": outlets[event.from_store]}
            await self._consignment(body, event.lines, ("SENT", "RECEIVED"))
        elif event.to_store in outlets:  # sent by a store on another POS: received like a delivery
            body = {"name": event.event_id, "type": "SUPPLIER", "outlet_id": outlets[event.to_store]}
            await self._consignment(body, event.lines, ("RECEIVED",))
        else:  # to a store on another POS: the units are booked out by staff
            for sku, quantity in event.lines:
                self.emulator.adjust_inventory(self.ids["product_ids"][sku], outlets[event.from_store], -quantity,
                                               "TRANSFER")

    async def receiving(self, event: Receiving) -> None:
        body = {"name": event.event_id, "type": "SUPPLIER", "outlet_id": self.ids["outlet_ids"][event.store]}
        await self._consignment(body, event.lines, ("RECEIVED",))


async def _ok(request) -> dict:
    response = await request
    if response.status_code >= 400:
        raise RuntimeError(f"sandbox load failed: {response.request.method} {response.request.url.path} -> "
                           f"{response.status_code} {response.text[:300]}")
    return response.json()
