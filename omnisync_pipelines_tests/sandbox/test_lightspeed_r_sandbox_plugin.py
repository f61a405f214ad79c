"""The R-Series sandbox plugin end to end against its emulator over ASGI: a small chain (Berlin, Munich,
Hamburg in EUR, London in GBP) loaded through the V3 API as its back office would, a trading day rung up
at its tills, and what the shops hold afterwards read through the probe and the API."""

import asyncio
from collections import Counter

import httpx
import pytest

from omnisync_pipelines.sandbox import pos
from omnisync_pipelines.sandbox.emulators.lightspeed_r.plugin import PLUGIN, SUBSCRIBED_REGISTERS
from omnisync_pipelines.sandbox.loader import expected_pos_stock
from omnisync_pipelines.sandbox.scenario import build_world, trading_day
from omnisync_pipelines.sandbox.world import OnlineOrder, Sale, SaleLine, StoreReturn, TradingDay

SEED = 7
BASE = "http://lsr.test"


def http(emulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator.app), base_url=BASE, timeout=30)


class Chain:
    """The emulator with the world loaded, and the day played at its tills (offline sales posted last)."""

    def __init__(self):
        self.world = build_world(SEED, stores=4, products=3, customers=9)
        self.day = trading_day(self.world, SEED, sales_per_store=5)
        self.emulator = PLUGIN.emulator(SEED)
        self.loaded = self.run(self._load())
        self.bucket_after_load = self.emulator.bucket.current()
        till_events = [e for e in self.day.events if not isinstance(e, OnlineOrder)]  # storefront orders: not tills
        on_time = [e for e in till_events if not (isinstance(e, Sale) and e.posted_late)]
        self.late = [e for e in till_events if isinstance(e, Sale) and e.posted_late]
        self.posted = self.play(on_time + self.late)
        self.bucket_after_day = self.emulator.bucket.current()
        self.probe = PLUGIN.probe(self.emulator, self.loaded)

    def run(self, coroutine):
        return asyncio.run(coroutine)

    async def _load(self):
        async with http(self.emulator) as client:
            return await PLUGIN.load(self.world, list(self.world.stores), client, self.emulator)

    def play(self, events) -> Counter:
        async def go():
            async with http(self.emulator) as client:
                return await PLUGIN.play(events, self.loaded, self.world, client, self.emulator)

        return self.run(go())

    def get(self, path: str, **params) -> dict:
        async def go():
            async with http(self.emulator) as client:
                token = self.emulator.issue_tokens()["access_token"]
                response = await client.get(f"/API/V3/Account/{self.emulator.account_id}/{path}.json", params=params,
                                            headers={"Authorization": f"Bearer {token}"})
                response.raise_for_status()
                return response.json()

        return self.run(go())

    def sale(self, event_id: str) -> dict:
        sale_id = self.loaded.sale_ids[event_id]
        return self.get(f"Sale/{sale_id}", load_relations='["SaleLines", "SalePayments"]')["Sale"]


def listed(block, child: str) -> list[dict]:
    found = (block or {}).get(child, []) if isinstance(block, dict) else []
    return found if isinstance(found, list) else [found]


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain()


def test_each_store_is_a_shop_with_its_tills_and_its_currency(chain):
    shops = {s["shopID"]: s for s in listed(chain.get("Shop"), "Shop")}
    assert len(shops) == len(chain.world.stores)  # the account's own first shop became Berlin
    registers = listed(chain.get("Register"), "Register")
    for store in chain.world.stores:
        block = chain.loaded.location_blocks[store.key]
        assert block["currency"] == store.currency
        shop = shops[block["shop_id"]]
        assert shop["name"] == store.name and shop["timeZone"] == store.time_zone
        assert sum(r["shopID"] == block["shop_id"] for r in registers) == store.registers
    tax = chain.get(f"TaxCategory/{chain.loaded.ids['tax_category_id']}")["TaxCategory"]
    assert tax["isTaxInclusive"] == "true" and float(tax["tax1Rate"]) == 0.19


def test_the_catalog_is_one_matrix_per_product_with_barcodes_and_munichs_own_prices(chain):
    products = {p["sku"]: p for p in chain.probe.products()}
    assert set(products) == {v.sku for v in chain.world.variants}
    for v in chain.world.variants:
        item = products[v.sku]
        assert item["barcodes"] == [v.barcode] and item["name"] == v.product_name
        assert item["variant_name"] == f"{v.product_name} / {v.colour} / {v.size}"
        assert item["price"] == v.prices["EUR"] / 100  # the account's Default level is in EUR
        assert item["store_prices"] == {store: [amount / 100] for store, amount in v.store_prices.items()}
    families = {(v.product_key, products[v.sku]["family"]) for v in chain.world.variants}
    assert len(families) == len({v.product_key for v in chain.world.variants}) == len({f for _, f in families})
    assert any(v.store_prices for v in chain.world.variants), "the seed should give Munich some prices of its own"


def test_shoppers_known_at_the_till_are_customers_with_their_ids(chain):
    at_pos = [s for s in chain.world.shoppers if s.at_pos]
    assert len(chain.probe.customers()) == len(at_pos)
    for shopper in at_pos:
        [customer] = chain.probe.customers(id=str(chain.loaded.ids["customer_ids"][shopper.key]))
        assert customer["email"] == shopper.email and customer["phone"] == shopper.phone
        assert customer["external_id"] == (shopper.loyalty_code or shopper.key.upper())
        assert customer["loyalty_id"] == shopper.loyalty_code


def test_after_the_day_every_shelf_holds_what_the_events_say(chain):
    till_day = TradingDay(chain.day.day, [e for e in chain.day.events if not isinstance(e, OnlineOrder)])
    expected = expected_pos_stock(chain.world, [till_day])
    assert {key: chain.probe.count(*key) for key in expected} == expected
    moved = [k for k, n in expected.items() if n != chain.world.stock[k]]
    assert len(moved) > 10  # the day really moved stock
    played = sum(chain.posted.values())
    assert played == len(till_day.events) and chain.posted["Sale"] == len(till_day.of_kind(Sale))


def test_the_tills_do_not_spend_omnisyncs_request_budget(chain):
    assert chain.bucket_after_load == 0 and chain.bucket_after_day == 0
    # six tills in the four shops: the subscription's bucket holds 10 drips more for each beyond the first
    subscribed = max(SUBSCRIBED_REGISTERS, sum(s.registers for s in chain.world.stores))
    assert chain.emulator.bucket.size == 90 + 10 * (subscribed - 1)


def test_a_split_tender_sale_is_paid_by_cash_card_and_gift_card(chain):
    split = next(s for s in chain.day.of_kind(Sale) if len(s.tenders) == 3)
    sale = chain.sale(split.event_id)
    paid = Counter()
    for payment in listed(sale["SalePayments"], "SalePayment"):
        paid[int(payment["paymentTypeID"])] += round(float(payment["amount"]) * 100)
    tenders = chain.loaded.ids["payment_type_ids"]
    assert paid == Counter({tenders[method]: amount for method, amount in split.tenders})
    assert sale["completed"] == "true" and round(float(sale["calcTotal"]) * 100) == split.total


def test_a_sale_rung_up_offline_keeps_the_time_it_was_made(chain):
    assert chain.late, "the day should have an offline window with sales in it"
    for late in chain.late:
        sale = chain.sale(late.event_id)
        assert sale["completeTime"][:19] == late.at.isoformat()[:19]


def test_a_return_of_a_till_sale_refunds_its_line_with_the_reason(chain):
    ret = next(r for r in chain.day.of_kind(StoreReturn) if r.of_sale)
    refund = chain.sale(ret.event_id)
    [line] = listed(refund["SaleLines"], "SaleLine")
    assert int(line["unitQuantity"]) == -ret.lines[0][1] and line["parentSaleLineID"] != "0"
    assert chain.probe.sale(chain.loaded.sale_ids[ret.event_id])["return_for"] == chain.loaded.sale_ids[ret.of_sale]
    note = chain.get(f"Sale/{refund['saleID']}", load_relations='["SaleLines", "SaleLines.Note"]')["Sale"]
    assert listed(note["SaleLines"], "SaleLine")[0]["Note"]["note"] == ret.reason


def test_an_online_order_returned_at_a_till_names_the_order(chain):
    ret = next(r for r in chain.day.of_kind(StoreReturn) if r.of_online_order)
    refund = chain.sale(ret.event_id)
    assert refund["referenceNumber"] == ret.of_online_order and refund["referenceNumberSource"] == "commercetools"
    assert chain.probe.sale(chain.loaded.sale_ids[ret.event_id])["return_for"] is None
    assert float(refund["calcTotal"]) < 0


def test_staff_count_and_register_customers_behind_the_api(chain):
    sku, store = chain.world.variants[0].sku, "hamburg"
    chain.probe.set_count(sku, store, 9)
    chain.probe.adjust_count(sku, store, -2)
    assert chain.probe.count(sku, store) == 7
    new_id = chain.probe.add_customer(first_name="Tilly", last_name="Store", email="tilly@example.com",
                                      phone="+49 30 5550001", loyalty_id="LOY-7777", external_id="LOY-7777")
    chain.probe.edit_customer(new_id, loyalty_id="LOY-8888", first_name="Tilda")
    [tilly] = chain.probe.customers(id=new_id)
    assert (tilly["first_name"], tilly["loyalty_id"], tilly["email"]) == ("Tilda", "LOY-8888", "tilly@example.com")


def test_an_online_order_set_aside_at_a_store_is_collected_or_voided_at_the_till(chain):
    """omnisync's open Sale with a layaway line (the connector's job) and staff finishing it at the till."""
    store, ids = "berlin", chain.loaded.ids
    variant = next(v for v in chain.world.variants if chain.probe.count(v.sku, store) >= 2)
    before = chain.probe.count(variant.sku, store)

    shopper = next(iter(ids["customer_ids"].values()))

    async def set_aside(order_id: str) -> str:
        """An open Sale naming the order, and a layaway line reserving the unit, attached to it
        (reservations tutorial: a reservation is created on its own, then given the sale's id)."""
        async with http(chain.emulator) as client:
            headers = {"Authorization": f"Bearer {chain.emulator.issue_tokens()['access_token']}"}
            account = f"/API/V3/Account/{chain.emulator.account_id}"
            at = {"shopID": ids["shop_ids"][store], "employeeID": ids["employee_id"], "customerID": shopper}
            sale = await client.post(f"{account}/Sale.json", headers=headers, json={
                **at, "completed": False, "registerID": ids["register_ids"][store][0], "referenceNumber": order_id,
                "referenceNumberSource": "omnisync"})
            assert sale.status_code == 200, sale.text
            sale_id = sale.json()["Sale"]["saleID"]
            line = await client.post(f"{account}/SaleLine.json", headers=headers, json={
                **at, "itemID": ids["item_ids"][variant.sku], "unitQuantity": 1, "isLayaway": True,
                "requireFullReservation": True, "unitPrice": variant.prices["EUR"] / 100, "tax": True})
            assert line.status_code == 200, line.text
            attached = await client.put(f"{account}/SaleLine/{line.json()['SaleLine']['saleLineID']}.json",
                                        headers=headers, json={"saleID": sale_id})
            assert attached.status_code == 200, attached.text
            return sale_id

    collected, voided = chain.run(set_aside("order-1")), chain.run(set_aside("order-2"))
    assert chain.probe.sale(collected)["status"] == pos.WAITING_PICKUP
    assert chain.probe.count(variant.sku, store) == before - 2  # set aside: no longer the store's to sell
    shelf = chain.emulator.store.item_shop(ids["item_ids"][variant.sku], ids["shop_ids"][store])
    assert (shelf["qoh"], shelf["onLayaway"]) == (before, 2)  # still in the back room until collected
    assert chain.probe.sales(order_id="order-2")[0]["id"] == voided
    chain.probe.fulfil(collected, pos.PICKED_UP)
    chain.probe.fulfil(voided, pos.CANCELLED)
    assert chain.probe.sale(collected)["status"] == pos.PICKED_UP
    assert chain.probe.sale(voided)["status"] == pos.CANCELLED
    assert chain.probe.count(variant.sku, store) == before - 1


def test_the_demo_configuration_names_the_account_and_a_working_refresh_token(chain):
    block = PLUGIN.system_block(BASE, chain.emulator)
    registers = max(SUBSCRIBED_REGISTERS, sum(s.registers for s in chain.world.stores))
    assert block == {"base_url": BASE, "account_id": str(chain.emulator.account_id), "currency": "EUR",
                     "registers": registers}
    env = PLUGIN.environment(BASE, chain.emulator)

    async def refresh():
        async with http(chain.emulator) as client:
            return await client.post("/auth/oauth/token", data={
                "client_id": env["OMNISYNC_LSR_CLIENT_ID"], "client_secret": env["OMNISYNC_LSR_CLIENT_SECRET"],
                "grant_type": "refresh_token", "refresh_token": env["OMNISYNC_LSR_REFRESH_TOKEN"]})

    assert chain.run(refresh()).status_code == 200


def test_a_one_line_sale_at_london_charges_the_gbp_price(chain):
    variant = next(v for v in chain.world.variants if chain.probe.count(v.sku, "london") > 0)
    gbp = variant.prices["GBP"]
    sale = Sale("t-london-1", chain.world.start, "london", (SaleLine(variant.sku, 1, gbp),), (("card", gbp),))
    chain.play([sale])
    assert round(float(chain.sale(sale.event_id)["calcTotal"]) * 100) == gbp


def test_a_loyalty_id_keyed_in_at_the_till_reaches_the_customer(chain):
    shopper = next(s for s in chain.world.shoppers if s.at_pos and s.key != "c-dup")
    asyncio.run(_change_loyalty(chain, shopper.email, "LOY-NEW-1"))
    [customer] = chain.probe.customers(id=str(chain.loaded.ids["customer_ids"][shopper.key]))
    assert customer["loyalty_id"] == "LOY-NEW-1"


async def _change_loyalty(chain, email: str, code: str) -> None:
    async with http(chain.emulator) as client:
        await PLUGIN.bench().change_loyalty(client, chain.emulator, email, code)


def test_the_benchmark_seeds_an_account_at_scale_behind_the_api():
    emulator, hooks = PLUGIN.emulator(3), PLUGIN.bench()
    shops = hooks.seed_stock(emulator, ["A-1", "A-2", "A-3"], ["north", "south"], lambda s, n: s + 10 * n)
    assert sorted(shops.values()) == ["north", "south"] and len(emulator.store.tables["Shop"]) == 2
    assert len(emulator.store.tables["Register"]) == 2  # one till each
    shop_of = {key: int(shop) for shop, key in shops.items()}
    items = {row["customSku"]: row["itemID"] for row in emulator.store.tables["Item"].values()}
    assert [emulator.qoh(items[sku], shop_of["south"]) for sku in ("A-1", "A-2", "A-3")] == [10, 11, 12]
    budget = hooks.budget(emulator)
    assert budget.used == 0 and budget.limit == emulator.bucket.size and budget.window_s > 0
