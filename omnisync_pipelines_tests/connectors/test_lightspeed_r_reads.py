"""The R-Series connector reads a shop's day from the emulator over HTTP into canonical records:
its catalog and store prices, counts with layaway reservations, the inventory log, till sales, a
refund of one of them, and the loyalty members at the till, in full and as deltas."""

from __future__ import annotations

import asyncio

import httpx

from omnisync_pipelines.connectors.lightspeed_r.client import build_client
from omnisync_pipelines.connectors.lightspeed_r.connector import LightspeedRConnector
from omnisync_pipelines.connectors.lightspeed_r.settings import LightspeedRSettings
from omnisync_pipelines.sandbox.emulators.lightspeed_r import LightspeedREmulator


class Clock:
    def __init__(self):
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now


def berlin_shop():
    """A Berlin shop trading in EUR with VAT included in its prices and a "Berlin" price level."""
    clock = Clock()
    emu = LightspeedREmulator(seed=7, clock=clock, burst_limit=None)
    vat = emu.seed_tax_category("MwSt", 0.19, inclusive=True)
    level = emu.seed_price_level("Berlin")
    shop = emu.seed_shop("Berlin Mitte", "Europe/Berlin", vat["taxCategoryID"], price_level_id=level["priceLevelID"])
    register = emu.seed_register(shop["shopID"], "Kasse 1")
    emu.seed_custom_field("External ID")
    emu.seed_custom_field("Loyalty ID")
    world = {"emu": emu, "clock": clock, "shop": shop, "register": register, "level": level}
    world["tee"] = emu.seed_item("Linen Tee Blue M", "TEE-BLU-M", 29.90, qoh={shop["shopID"]: 10},
                                 store_prices={level["priceLevelID"]: 27.90}, ean="4006381333931")
    world["cap"] = emu.seed_item("Canvas Cap", "CAP-1", 15.00, qoh={shop["shopID"]: 4})
    world["ann"] = emu.seed_customer("Ann", "Lee", " Ann.Lee@Example.com ", "+49 30 1234",
                                     custom={"External ID": "L-778", "Loyalty ID": "L-778"})
    return world


def connect(world) -> LightspeedRConnector:
    emu = world["emu"]
    settings = LightspeedRSettings(account_id=str(emu.account_id), base_url="http://r.test", client_id="sandbox-client",
                                   client_secret="sandbox-secret", refresh_token=emu.issue_tokens()["refresh_token"])
    client = build_client(settings, transport=httpx.ASGITransport(app=emu.app))
    shop_id = str(world["shop"]["shopID"])
    return LightspeedRConnector(client, {shop_id: "berlin"}, currency_of_location={shop_id: "EUR"})


async def sell(connector, world, lines, payments, **extra) -> dict:
    emu = world["emu"]
    return await connector.client.create("Sale", {
        "completed": True, "shopID": world["shop"]["shopID"], "registerID": world["register"]["registerID"],
        "employeeID": emu.employee["employeeID"], **extra,
        "SaleLines": {"SaleLine": [{"itemID": i, "unitQuantity": q, "unitPrice": p, "tax": True} for i, q, p in lines]},
        "SalePayments": {"SalePayment": [{"paymentTypeID": t, "amount": a} for t, a in payments]}})


def run(scenario):
    return asyncio.run(scenario())


def test_catalog_and_store_prices_of_the_berlin_shop():
    world = berlin_shop()

    async def scenario():
        connector = connect(world)
        catalog = await connector.read("catalog")
        prices = await connector.read("prices")
        await connector.aclose()
        return catalog, prices

    catalog, prices = run(scenario)
    tee = next(i for i in catalog.tables["catalog"] if i.sku == "TEE-BLU-M")
    assert (tee.name, tee.barcode, tee.active) == ("Linen Tee Blue M", "4006381333931", True)
    assert {(p.sku, p.location_key, p.amount, p.currency) for p in prices.tables["prices"]} == {
        ("TEE-BLU-M", None, 2990, "EUR"), ("TEE-BLU-M", "berlin", 2790, "EUR"), ("CAP-1", None, 1500, "EUR")}
    assert catalog.cursor and not catalog.rejected


def test_an_archived_item_comes_back_inactive_in_the_next_delta():
    world = berlin_shop()

    async def scenario():
        connector = connect(world)
        first = await connector.read("catalog")
        world["clock"].now += 60
        await connector.client.archive("Item", world["cap"]["itemID"])
        delta = await connector.read("catalog", since=first.cursor)
        await connector.aclose()
        return first, delta

    first, delta = run(scenario)
    # the cursor's own second is read again (second precision), so the tee seen then may come back unchanged
    assert ("CAP-1", False) in [(i.sku, i.active) for i in delta.tables["catalog"]]
    assert ("CAP-1", True) in [(i.sku, i.active) for i in first.tables["catalog"]]
    assert delta.cursor > first.cursor


def test_a_till_sale_is_an_order_and_moves_stock_and_the_count():
    world = berlin_shop()
    emu = world["emu"]

    async def scenario():
        connector = connect(world)
        counts = await connector.read("stock")
        log = await connector.read("stock_movements")
        world["clock"].now += 60
        sale = await sell(connector, world, [(world["tee"]["itemID"], 2, 27.90)], [(emu.card["paymentTypeID"], 55.80)],
                          customerID=world["ann"]["customerID"])
        orders = await connector.read("orders")
        moved = await connector.read("stock_movements", since=log.cursor)
        recount = await connector.read("stock", since=counts.cursor)
        await connector.aclose()
        return sale, orders, moved, recount

    sale, orders, moved, recount = run(scenario)
    [order] = orders.tables["orders"]
    assert (order.order_id, order.total_gross, order.currency, order.location_key) == (str(sale["saleID"]), 5580, "EUR", "berlin")
    assert order.customer_email == "ann.lee@example.com" and order.customer_ref == str(world["ann"]["customerID"])
    [line] = orders.tables["order_lines"]
    assert (line.sku, line.quantity, line.unit_price, line.total, line.discount) == ("TEE-BLU-M", 2, 2790, 5580, 0)
    assert line.tax == 891  # 19 % VAT carved out of 55.80
    assert [(p.method, p.amount) for p in orders.tables["order_payments"]] == [("card", 5580)]
    assert [(m.sku, m.quantity, m.kind, m.source_ref) for m in moved.tables["stock_movements"]] == [
        ("TEE-BLU-M", -2, "sale", f"sale:{sale['saleID']}")]
    tee_count = next(s for s in recount.tables["stock"] if s.sku == "TEE-BLU-M")
    assert (tee_count.on_hand, tee_count.available) == (8, 8)


def test_a_refund_at_the_till_is_a_return_of_the_original_sale_with_its_reason():
    world = berlin_shop()
    emu = world["emu"]

    async def scenario():
        connector = connect(world)
        sale = await sell(connector, world, [(world["tee"]["itemID"], 2, 27.90)], [(emu.cash["paymentTypeID"], 55.80)])
        lines = await connector.client.rows("SaleLine", params={"saleID": sale["saleID"]})
        world["clock"].now += 3600
        refund = await connector.client.call("POST", f"Sale/{sale['saleID']}/refund", json={
            "employeeID": emu.employee["employeeID"], "registerID": world["register"]["registerID"],
            "shopID": world["shop"]["shopID"],
            "SaleLines": {"SaleLine": [{"parentSaleLineID": lines[0]["saleLineID"], "unitQuantity": -1,
                                        "Note": {"note": "too-small"}}]},
            "SalePayments": {"SalePayment": {"paymentTypeID": emu.cash["paymentTypeID"], "amount": -27.90}}})
        returns = await connector.read("returns")
        orders = await connector.read("orders")
        await connector.aclose()
        return sale, refund, returns, orders

    sale, refund, returns, orders = run(scenario)
    [ret] = returns.tables["returns"]
    assert (ret.original_order_ref, ret.refund_total, ret.reason_code, ret.location_key) == (
        sale["saleID"], 2790, "too-small", "berlin")
    assert [(r.sku, r.quantity, r.refund_amount) for r in returns.tables["return_lines"]] == [("TEE-BLU-M", 1, 2790)]
    assert [o.order_id for o in orders.tables["orders"]] == [sale["saleID"]]  # the refund is no order


def test_an_offline_sale_posted_late_is_still_read_by_the_next_delta():
    world = berlin_shop()
    emu = world["emu"]

    async def scenario():
        connector = connect(world)
        first = await connector.read("orders")
        world["clock"].now += 7200
        offline = await sell(connector, world, [(world["cap"]["itemID"], 1, 15.00)], [(emu.cash["paymentTypeID"], 15.00)],
                             completeTime="2026-05-28T19:00:00+00:00")
        delta = await connector.read("orders", since=first.cursor)
        await connector.aclose()
        return offline, delta

    offline, delta = run(scenario)
    [order] = delta.tables["orders"]
    assert order.order_id == offline["saleID"]
    assert order.created_at.isoformat() == "2026-05-28T19:00:00+00:00"


def test_loyalty_members_keep_their_keys_from_the_custom_fields():
    world = berlin_shop()

    async def scenario():
        connector = connect(world)
        result = await connector.read("customers")
        await connector.aclose()
        return result

    [ann] = run(scenario).tables["customers"]
    assert (ann.email, ann.phone, ann.external_id, ann.loyalty_id) == ("ann.lee@example.com", "+49 30 1234", "L-778", "L-778")


def test_a_shop_left_out_of_the_map_is_listed_without_a_location_key():
    world = berlin_shop()

    async def scenario():
        connector = connect(world)
        result = await connector.read("locations")
        await connector.aclose()
        return result

    shops = {loc.name: loc.location_key for loc in run(scenario).tables["locations"]}
    assert shops == {"Main Store": None, "Berlin Mitte": "berlin"}


def test_the_counts_of_a_shop_whose_store_trades_on_its_old_tills_yet_are_left_out_not_rejected():
    """Hamburg's R-Series tills are installed, the store still trades on its old POS: its counts and
    movements here are not the deployment's yet (and an unknown shop's still are rejections)."""
    world = berlin_shop()
    emu = world["emu"]
    hamburg = emu.seed_shop("Hamburg Altona", "Europe/Berlin", world["shop"]["taxCategoryID"])
    emu.store.set_qoh(world["tee"]["itemID"], hamburg["shopID"], 6, "manualAdjustQOH")

    async def scenario(elsewhere: set[str]):
        connector = connect(world)
        connector.counted_elsewhere = elsewhere
        reads = [await connector.read(entity) for entity in ("stock", "stock_movements")]
        await connector.aclose()
        return reads

    hamburg_id = str(hamburg["shopID"])
    stock, movements = run(lambda: scenario({hamburg_id, str(emu.shop["shopID"])}))
    assert {level.location_key for level in stock.tables["stock"]} == {"berlin"}
    assert not stock.rejected and not movements.rejected
    unmapped, _ = run(lambda: scenario(set()))
    assert any(r.field == "shopID" and hamburg_id in r.reason for r in unmapped.rejected)


def test_units_sent_on_a_transfer_leave_the_count_at_once_and_its_receipt_moves_nothing_more():
    """A transfer stays in the sender's qoh until the other shop completes it in the UI, but the units have
    left: the count omnisync mirrors drops when they are sent (`onTransferOut`), not a day later."""
    world = berlin_shop()
    emu, tee = world["emu"], world["tee"]["itemID"]
    hamburg = emu.seed_shop("Hamburg", "Europe/Berlin", world["shop"]["taxCategoryID"])

    async def scenario():
        connector = connect(world)
        counts = await connector.read("stock")
        world["clock"].now += 60
        sent = await connector.client.call("POST", "Inventory/Transfer", json={
            "sendingShopID": world["shop"]["shopID"], "receivingShopID": hamburg["shopID"]})
        transfer_id = int(sent["Transfer"]["transferID"])
        await connector.client.call("POST", f"Inventory/Transfer/{transfer_id}/AddItems",
                                    json={"TransferItems": [{"itemID": tee, "toSend": 3}]})
        await connector.client.call("POST", f"Inventory/Transfer/{transfer_id}/Send", json={})
        in_transit = await connector.read("stock", since=counts.cursor)
        world["clock"].now += 60
        emu.receive_transfer(transfer_id)
        received = await connector.read("stock", since=in_transit.cursor)
        await connector.aclose()
        return in_transit, received

    in_transit, received = run(scenario)
    assert [(s.sku, s.on_hand) for s in in_transit.tables["stock"]] == [("TEE-BLU-M", 7)]
    assert [(s.sku, s.on_hand) for s in received.tables["stock"]] == [("TEE-BLU-M", 7)]


def test_a_delta_costs_what_changed_not_the_catalog():
    """Each Dagster step opens its own connector, with no SKU index in memory. A delta after one till sale
    in a shop of 250 items asks for the sold item (and any item sharing its SKU), not for every Item page:
    at 100,000 SKUs the index alone would be 1,000 requests of the account's drip every few minutes."""
    world = berlin_shop()
    emu = world["emu"]
    for n in range(248):
        world["clock"].now += 1  # a catalog built over time, not in one second
        emu.seed_item(f"Sock {n}", f"SOCK-{n:03d}", 5.0, qoh={world["shop"]["shopID"]: 3})
    calls: list[dict] = []

    async def scenario():
        first = connect(world)
        counts, log, sales = await first.read("stock"), await first.read("stock_movements"), await first.read("orders")
        await first.aclose()
        world["clock"].now += 60
        till = connect(world)
        await sell(till, world, [(world["tee"]["itemID"], 1, 27.90)], [(emu.card["paymentTypeID"], 27.90)])
        await till.aclose()
        shop_id = str(world["shop"]["shopID"])
        settings = LightspeedRSettings(account_id=str(emu.account_id), base_url="http://r.test", client_id="sandbox-client",
                                       client_secret="sandbox-secret", refresh_token=emu.issue_tokens()["refresh_token"])
        client = build_client(settings, transport=httpx.ASGITransport(app=emu.app), call_log=calls.append)
        delta = LightspeedRConnector(client, {shop_id: "berlin"}, currency_of_location={shop_id: "EUR"})
        read = [await delta.read("stock", since=counts.cursor), await delta.read("stock_movements", since=log.cursor),
                await delta.read("orders", since=sales.cursor)]
        await delta.aclose()
        return read

    stock, moved, orders = run(scenario)
    assert ("TEE-BLU-M", 9) in [(s.sku, s.on_hand) for s in stock.tables["stock"]]
    assert [(m.sku, m.quantity) for m in moved.tables["stock_movements"]] == [("TEE-BLU-M", -1)]
    assert [line.sku for line in orders.tables["order_lines"]] == ["TEE-BLU-M"]
    item_reads = [c for c in calls if c["method"] == "GET" and "/Item.json" in c["path"]]
    assert len(item_reads) == 6  # per read: the sold item by id, then the live items sharing its SKU
    assert all("IN" in c["path"] for c in item_reads)
