"""R-Series in the sandbox: the emulator; the world loaded as the retailer's back office would set the
account up through the V3 API (a tax-inclusive VAT TaxCategory, a Shop per store with its Registers, a
PriceLevel per store with prices of its own, one ItemMatrix per product and one Item per variant with its
customSku, ean, Default and store prices and qoh per shop, customers with their "External ID" / "Loyalty
ID" custom fields); its trading days played at the tills (tills.py); the demo's configuration and
environment; the probe tests read its state through (probe.py).

What the API cannot create is seeded (Registers, PriceLevels; an Employee and PaymentTypes the account
lacks). One account holds stores in EUR and GBP: as in the X-Series loader, the Default price is the gross
EUR price, and a GBP store's till charges the world's GBP price on each sale line."""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path

import httpx

from omnisync_pipelines.sandbox import pos
from omnisync_pipelines.sandbox.emulators.lightspeed_r import tills
from omnisync_pipelines.sandbox.emulators.lightspeed_r.emulator import LightspeedREmulator
from omnisync_pipelines.sandbox.emulators.lightspeed_r.probe import RSeriesProbe
from omnisync_pipelines.sandbox.emulators.lightspeed_r.ratelimit import LeakyBucket
from omnisync_pipelines.sandbox.emulators.lightspeed_r.tills import (
    ACCOUNT_CURRENCY,
    COLOR_SIZE,
    EXTERNAL_ID,
    LOYALTY_ID,
    SYSTEM,
    TENDERS,
    Api,
    customer_body,
    item_description,
    many,
    money,
    tills_own_budget,
)
from omnisync_pipelines.sandbox.world import Store, World


async def load(world: World, stores: list[Store], client: httpx.AsyncClient, emulator, system: str = SYSTEM) -> pos.LoadedPos:
    loaded = pos.LoadedPos(system, [s.key for s in stores])
    ids = loaded.ids
    ids.update(shop_ids={}, register_ids={}, price_level_ids={}, item_ids={}, matrix_ids={}, customer_ids={})
    with tills_own_budget(emulator):
        api = Api(client, emulator)
        rate = Counter(v.tax_rate for v in world.variants).most_common(1)[0][0] if world.variants else 0
        ids["tax_category_id"] = await _vat(api, float(rate))
        employees = await api.all("Employee")
        ids["employee_id"] = int(employees[0]["employeeID"]) if employees else emulator.seed_employee("Till", "Staff")["employeeID"]
        kinds = {row["name"]: int(row["paymentTypeID"]) for row in await api.all("PaymentType")}
        ids["payment_type_ids"] = {method: kinds.get(name) or emulator.seed_payment_type(name, kind)["paymentTypeID"]
                                   for method, name, kind in TENDERS}
        await _shops(api, emulator, world, stores, loaded)
        await _catalog(api, world, stores, ids)
        await _customers(api, world, ids)
    subscribe_installed_registers(emulator)
    return loaded


def subscribed_registers(emulator: LightspeedREmulator) -> int:
    """The subscription's register count the emulator's bucket was sized for (90 + 10 per extra register):
    what the connector paces itself by, the tills installed included (see below)."""
    return (emulator.bucket.size - 90) // 10 + 1


# The sandbox chain's subscription: a licence for 40 registers (bucket 480, drip 20.5 units/s), so a
# trading day syncs in seconds; the client's pacing at a one-register drip is the connector tests' job.
SUBSCRIBED_REGISTERS = 40


def subscribe_installed_registers(emulator) -> None:
    """The account's subscription covers every register installed, and at least the chain's licence:
    the API client's bucket grows with them (rate-limiting.md: +10 size and +0.5 drip per register beyond
    the first), never shrinks; the burst limiter is "a fraction of the allowed bucket size" (the docs'
    sample: 20 for 90)."""
    registers = max(SUBSCRIBED_REGISTERS, len(emulator.store.tables["Register"]))
    if registers > subscribed_registers(emulator):
        burst = emulator.bucket.burst_limit and max(1, (90 + 10 * (registers - 1)) * 20 // 90)
        emulator.bucket = LeakyBucket(emulator.clock, registers, burst)


async def _vat(api: Api, rate: float) -> int:
    body = {"isTaxInclusive": True, "tax1Name": "VAT", "tax1Rate": rate, "tax2Name": "", "tax2Rate": 0}
    return int((await api.one("POST", "TaxCategory", body))["taxCategoryID"])


async def _shops(api: Api, emulator, world: World, stores: list[Store], loaded: pos.LoadedPos) -> None:
    """A new account comes with one shop: the first store takes it over (no shop is left outside the
    location map); the others are created."""
    ids = loaded.ids
    levels = {row["name"]: int(row["priceLevelID"]) for row in await api.all("PriceLevel")}
    names = {s.name for s in world.stores}
    spare = [int(row["shopID"]) for row in await api.all("Shop") if row["name"] not in names][:1]
    for store in stores:
        body = {"name": store.name, "timeZone": store.time_zone, "taxCategoryID": ids["tax_category_id"]}
        if store.currency != ACCOUNT_CURRENCY or any(store.key in v.store_prices for v in world.variants):
            # the store sells in another currency, or some items at its own price: a price level of its own
            name = f"{store.name} prices"
            level_id = levels.get(name) or int(emulator.seed_price_level(name)["priceLevelID"])
            ids["price_level_ids"][store.key] = body["priceLevelID"] = level_id
        shop = await (api.one("PUT", f"Shop/{spare.pop()}", body) if spare else api.one("POST", "Shop", body))
        shop_id = ids["shop_ids"][store.key] = int(shop["shopID"])
        registers = [int(r["registerID"]) for r in await api.all("Register", shopID=str(shop_id))]
        while len(registers) < store.registers:  # tills are installed, not created through the API
            registers.append(int(emulator.seed_register(shop_id, f"{store.name} {len(registers) + 1}")["registerID"]))
        ids["register_ids"][store.key] = registers
        loaded.location_blocks[store.key] = {"shop_id": str(shop_id), "currency": store.currency}


async def _catalog(api: Api, world: World, stores: list[Store], ids: dict) -> None:
    for product_key in dict.fromkeys(v.product_key for v in world.variants):
        variants = [v for v in world.variants if v.product_key == product_key]
        matrix = await api.one("POST", "ItemMatrix", {"description": variants[0].product_name,
                                                      "itemAttributeSetID": COLOR_SIZE})
        ids["matrix_ids"][product_key] = int(matrix["itemMatrixID"])
        for v in variants:
            prices = [{"useTypeID": 1, "amount": money(v.prices["EUR"])}]
            prices += [{"useTypeID": level, "amount": money(v.price_at(world.store(store)))}
                       for store, level in ids["price_level_ids"].items()
                       if store in v.store_prices or world.store(store).currency != ACCOUNT_CURRENCY]
            body = {"description": item_description(v.product_name, v.colour, v.size), "customSku": v.sku,
                    "ean": v.barcode, "tax": True, "itemMatrixID": matrix["itemMatrixID"],
                    "ItemAttributes": {"itemAttributeSetID": COLOR_SIZE, "attribute1": v.colour, "attribute2": v.size},
                    "Prices": many("ItemPrice", prices),
                    "ItemShops": many("ItemShop", [{"shopID": ids["shop_ids"][s.key], "qoh": world.stock[(v.sku, s.key)]}
                                                   for s in stores])}
            ids["item_ids"][v.sku] = int((await api.one("POST", "Item", body))["itemID"])


async def _customers(api: Api, world: World, ids: dict) -> None:
    fields = {row["name"]: int(row["customFieldID"]) for row in await api.all("Customer/CustomField")}
    for name in (EXTERNAL_ID, LOYALTY_ID):
        if name not in fields:
            fields[name] = int((await api.one("POST", "Customer/CustomField", {"type": "string", "name": name})
                                )["customFieldID"])
    ids["custom_field_ids"] = fields
    for shopper in world.shoppers:
        if shopper.at_pos:
            body = customer_body(fields, first_name=shopper.first_name, last_name=shopper.last_name,
                                 email=shopper.email, phone=shopper.phone, loyalty_id=shopper.loyalty_code,
                                 external_id=shopper.loyalty_code or shopper.key.upper())
            ids["customer_ids"][shopper.key] = int((await api.one("POST", "Customer", body))["customerID"])



def token_file(emulator: LightspeedREmulator) -> Path:
    """Where the sandbox's deployment keeps the rotated refresh tokens: a file of its own per emulator
    (each is an account of its own; test modules and demos run side by side)."""
    return Path(tempfile.gettempdir()) / "omnisync-sandbox" / f"lightspeed_r-{os.getpid()}-{id(emulator)}.tokens"

class RSeriesSandbox(pos.SandboxPos):
    system = tills.SYSTEM

    def emulator(self, seed: int, secret: str | None = None) -> LightspeedREmulator:
        return LightspeedREmulator(seed=seed, **({"client_secret": secret} if secret else {}))

    async def load(self, world: World, stores: list[Store], client: httpx.AsyncClient, emulator) -> pos.LoadedPos:
        return await load(world, stores, client, emulator, self.system)

    async def play(self, events: list, loaded: pos.LoadedPos, world: World, client: httpx.AsyncClient,
                   emulator) -> Counter:
        return await tills.Till(loaded, world, client, emulator).play(events)

    def system_block(self, base_url: str, emulator: LightspeedREmulator) -> dict:
        return {"base_url": base_url, "account_id": str(emulator.account_id),
                "currency": ACCOUNT_CURRENCY, "registers": subscribed_registers(emulator)}

    def environment(self, base_url: str, emulator: LightspeedREmulator) -> dict[str, str]:
        credentials = emulator.credentials(base_url)
        return {"OMNISYNC_LSR_CLIENT_ID": credentials["client_id"],
                "OMNISYNC_LSR_CLIENT_SECRET": credentials["client_secret"],
                "OMNISYNC_LSR_REFRESH_TOKEN": credentials["refresh_token"],
                "OMNISYNC_LSR_TOKEN_FILE": str(token_file(emulator))}

    def probe(self, emulator: LightspeedREmulator, loaded: pos.LoadedPos) -> RSeriesProbe:
        return RSeriesProbe(emulator, loaded)

    def bench(self):
        from omnisync_pipelines.sandbox.emulators.lightspeed_r.bench_hooks import LightspeedRBenchHooks

        return LightspeedRBenchHooks()


PLUGIN = RSeriesSandbox()
