"""`LightspeedXConnector.read` against the X-Series emulator (a black box, in process).

Contract: products, customers and sales written through the connector's own client come back as
canonical records; a sale's stock effect shows in inventory and as a sale movement; a return made
with `actions/return` reads as a Return referencing the original sale; transfers read as
transfer_out/transfer_in movements; bad rows (unmapped outlet, unknown tender) become Rejections;
a delta read from the returned cursor brings only what changed; the sales omnisync registers
itself are not read back as orders.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from omnisync_pipelines.canonical.models import CatalogItem, Customer, Order, OrderLine, Payment, Price
from omnisync_pipelines.connectors.base import ReadResult
from omnisync_pipelines.connectors.lightspeed_x import drafts
from omnisync_pipelines.connectors.lightspeed_x.client import build_client
from omnisync_pipelines.connectors.lightspeed_x.connector import LightspeedXConnector
from omnisync_pipelines.connectors.lightspeed_x.settings import LightspeedXSettings
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport

pytestmark = pytest.mark.anyio
BASE = "https://omnisync-sandbox.retail.lightspeed.app"
T = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)

# ---------------------------------------------------------------- fixtures


@pytest.fixture
async def shop():
    emu = LightspeedXEmulator(seed=23)
    berlin, hamburg, paris = (emu.seed_outlet(n) for n in ("Berlin", "Hamburg", "Paris"))
    register = emu.seed_register(berlin["id"], "R1")
    types = {name: emu.seed_payment_type(name, type_id)["id"]
             for name, type_id in (("Cash", "1"), ("Credit Card", "3"), ("Bitcoin", "99"))}
    tax = emu.seed_tax("VAT", 0.19)
    user = emu.seed_user("Till 1")
    settings = LightspeedXSettings(domain_prefix="omnisync-sandbox", base_url=BASE,
                                   personal_token=emu.credentials(BASE)["personal_token"], page_size=3)
    client = build_client(settings, transport=EmulatorTransport(emu.app))
    connector = LightspeedXConnector(client, {berlin["id"]: "berlin", hamburg["id"]: "hamburg"})
    ids = {}
    for sku, gross in (("TEE-S", 2000), ("TEE-M", 2000), ("MUG", 1190)):
        item = CatalogItem("commercetools", sku, None, sku.title(), "x", "{}", barcode="4006381333931" if sku == "MUG" else None)
        details = drafts.variant_details(item, Price("commercetools", sku, "EUR", gross, "x"), tax_rate=Decimal("0.19"))
        (ids[sku],) = await client.create_product({**drafts.product_common(item), "tax_id": tax["id"]}, [details])
    for sku in ids:
        await client.set_inventory(ids[sku], berlin["id"], 10)
    await client.set_inventory(ids["MUG"], paris["id"], 4)  # an outlet nobody mapped
    ann = await client.create_customer(drafts.customer_payload(
        Customer("commercetools", "ct-c1", "ann@example.com", "Ann", "Lee", external_id="ANN-42", consent_marketing=True)))
    yield {"emu": emu, "client": client, "connector": connector, "berlin": berlin, "hamburg": hamburg,
           "register": register, "types": types, "tax": tax, "user": user, "ids": ids, "ann": ann}
    await connector.aclose()


def till_sale(shop, lines, payments, **extra) -> dict:
    """What a till would post: (sku, qty, net, tax) lines and (payment type, amount) payments."""
    return {"register_id": shop["register"]["id"], "user_id": shop["user"]["id"], "status": "CLOSED",
            "sale_date": T.isoformat(), **extra,
            "register_sale_products": [{"product_id": shop["ids"][sku], "quantity": qty, "price": net, "tax": tax,
                                        "tax_id": shop["tax"]["id"], "discount": 0} for sku, qty, net, tax in lines],
            "register_sale_payments": [{"retailer_payment_type_id": shop["types"][name], "amount": amount,
                                        "payment_date": T.isoformat()} for name, amount in payments]}


def stock_of(result: ReadResult) -> dict[tuple[str, str], int]:
    return {(s.sku, s.location_key): s.on_hand for s in result.tables["stock"]}


# ---------------------------------------------------------------- tests


async def test_locations_catalog_prices_and_customers(shop):
    connector = shop["connector"]
    locations = (await connector.read("locations")).tables["locations"]
    assert sorted((loc.name, loc.location_key, loc.currency) for loc in locations) == [
        ("Berlin", "berlin", "EUR"), ("Hamburg", "hamburg", "EUR"), ("Paris", None, "EUR")]
    catalog = await connector.read("catalog")
    assert sorted(i.sku for i in catalog.tables["catalog"]) == ["MUG", "TEE-M", "TEE-S"]
    assert {i.sku: i.barcode for i in catalog.tables["catalog"]}["MUG"] == "4006381333931"
    assert catalog.raw_count == 3 and catalog.cursor is not None and not catalog.rejected
    prices = await connector.read("prices")
    assert sorted((p.sku, p.amount, p.currency) for p in prices.tables["prices"]) == [
        ("MUG", 1190, "EUR"), ("TEE-M", 2000, "EUR"), ("TEE-S", 2000, "EUR")]
    (ann,) = (await connector.read("customers")).tables["customers"]
    assert (ann.email, ann.external_id, ann.consent_marketing) == ("ann@example.com", "ANN-42", True)


async def test_stock_reads_levels_and_rejects_unmapped_outlets(shop):
    result = await shop["connector"].read("stock")
    assert stock_of(result) == {("TEE-S", "berlin"): 10, ("TEE-M", "berlin"): 10, ("MUG", "berlin"): 10}
    assert [(r.entity, r.field) for r in result.rejected] == [("stock", "outlet_id")]


async def test_a_sale_moves_stock_and_reads_as_an_order(shop):
    client, connector = shop["client"], shop["connector"]
    orders_before = await connector.read("orders")
    stock_before = await connector.read("stock")
    sold = await client.register_sale(till_sale(shop, [("TEE-S", 2, 16.80672, 3.19328), ("MUG", 1, 10.0, 1.9)],
                                                [("Cash", 20.0), ("Credit Card", 31.9)], customer_id=shop["ann"]["id"]))
    assert stock_of(await connector.read("stock"))[("TEE-S", "berlin")] == 8
    delta = await connector.read("stock", since=stock_before.cursor)
    assert stock_of(delta) == {("TEE-S", "berlin"): 8, ("MUG", "berlin"): 9}

    result = await connector.read("orders", since=orders_before.cursor)
    (order,) = result.tables["orders"]
    assert (order.order_id, order.channel, order.location_key, order.currency) == (sold["id"], "store", "berlin", "EUR")
    assert (order.total_gross, order.total_tax, order.status, order.customer_email) == (
        5190, 829, "CLOSED", "ann@example.com")
    assert order.order_number.startswith("LSX-")
    assert sorted((x.sku, x.quantity, x.unit_price, x.total) for x in result.tables["order_lines"]) == [
        ("MUG", 1, 1190, 1190), ("TEE-S", 2, 2000, 4000)]
    assert sorted((p.method, p.amount) for p in result.tables["order_payments"]) == [("card", 3190), ("cash", 2000)]
    assert (await connector.read("orders", since=result.cursor)).tables["orders"] == []

    moved = (await connector.read("stock_movements", since=orders_before.cursor)).tables["stock_movements"]
    assert sorted((m.sku, m.quantity, m.kind) for m in moved) == [("MUG", -1, "sale"), ("TEE-S", -2, "sale")]
    assert all(m.movement_id.startswith(f"lightspeed_x:sale:{sold['id']}:") for m in moved)


async def test_a_return_references_the_original_sale(shop):
    client, connector = shop["client"], shop["connector"]
    sold = await client.register_sale(till_sale(shop, [("TEE-M", 1, 16.80672, 3.19328)], [("Cash", 20.0)]))
    cursor = (await connector.read("returns")).cursor
    started = await client.return_sale(sold["id"])
    assert started["status"] == "SAVED" and started["return_for"] == sold["id"]
    lines = [{k: item[k] for k in ("product_id", "quantity", "price", "tax", "discount", "tax_id")}
             for item in started["line_items"]]
    await client.register_sale({"id": started["id"], "register_id": started["register_id"], "status": "CLOSED",
                                "note": "reason:damaged", "sale_date": T.isoformat(), "register_sale_products": lines,
                                "register_sale_payments": [{"retailer_payment_type_id": shop["types"]["Cash"],
                                                            "amount": -20.0, "payment_date": T.isoformat()}]})
    result = await connector.read("returns", since=cursor)
    (ret,) = result.tables["returns"]
    assert (ret.original_order_ref, ret.refund_total, ret.location_key, ret.reason_code) == (
        sold["id"], 2000, "berlin", "damaged")
    assert [(x.sku, x.quantity, x.refund_amount) for x in result.tables["return_lines"]] == [("TEE-M", 1, 2000)]
    assert stock_of(await connector.read("stock"))[("TEE-M", "berlin")] == 10
    orders = (await connector.read("orders", since=cursor)).tables["orders"]
    assert orders == []  # the return is not an order


async def test_unknown_tender_and_own_writes(shop):
    client, connector = shop["client"], shop["connector"]
    cursor = (await connector.read("orders")).cursor
    await client.register_sale(till_sale(shop, [("MUG", 1, 10.0, 1.9)], [("Bitcoin", 11.9)]))
    online = Order("commercetools", "ct-o1", "WEB-1", "online", "EUR", 1190, 190, 0, "Open", T, "berlin")
    body = drafts.register_sale_payload(
        online, [OrderLine("commercetools", "ct-o1", "li-1", "MUG", 1, 1190, 0, 190, 1190)],
        [Payment("commercetools", "ct-o1", "pay-1", "card", 1190, "EUR")], register_id=shop["register"]["id"],
        user_id=shop["user"]["id"], product_id_of=shop["ids"], payment_type_id_of={"card": shop["types"]["Credit Card"]},
        tax_id=shop["tax"]["id"], tax_rate=Decimal("0.19"))
    await client.register_sale(body)
    result = await connector.read("orders", since=cursor)
    assert result.tables["orders"] == []
    assert [(r.entity, r.field) for r in result.rejected] == [("orders", "payments")]
    assert stock_of(await connector.read("stock"))[("MUG", "berlin")] == 8  # both sales moved stock


async def test_transfers_read_as_movements(shop):
    client, connector = shop["client"], shop["connector"]
    cursor = (await connector.read("stock_movements")).cursor
    consignment = (await client.call("POST", "/api/2.0/consignments", json={
        "name": "T-1", "type": "OUTLET", "outlet_id": shop["hamburg"]["id"],
        "source_outlet_id": shop["berlin"]["id"]}))["data"]
    await client.call("POST", f"/api/2.0/consignments/{consignment['id']}/products",
                      json={"product_id": shop["ids"]["TEE-S"], "count": 3, "cost": 0})
    for status in ("SENT", "RECEIVED"):
        await client.call("PUT", f"/api/2.0/consignments/{consignment['id']}", json={"status": status})
    moved = (await connector.read("stock_movements", since=cursor)).tables["stock_movements"]
    assert sorted((m.location_key, m.quantity, m.kind) for m in moved) == [
        ("berlin", -3, "transfer_out"), ("hamburg", 3, "transfer_in")]
    assert stock_of(await connector.read("stock"))[("TEE-S", "hamburg")] == 3


async def test_a_pickup_sale_is_fulfilled_and_reads_as_click_and_collect(shop):
    client, connector = shop["client"], shop["connector"]
    cursor = (await connector.read("orders")).cursor
    sold = await client.register_sale(till_sale(shop, [("MUG", 1, 10.0, 1.9)], [("Credit Card", 11.9)],
                                                status="AWAITING_PICKUP"))
    (waiting,) = (await connector.read("orders", since=cursor)).tables["orders"]
    assert (waiting.status, waiting.fulfilment) == ("AWAITING_PICKUP", "click_and_collect")
    await client.fulfill_sale(sold["id"], "PICKED_UP")
    (picked,) = (await connector.read("orders", since=cursor)).tables["orders"]
    assert (picked.order_id, picked.status, picked.fulfilment) == (sold["id"], "PICKED_UP_CLOSED", "click_and_collect")
    with pytest.raises(ValueError):
        await client.fulfill_sale(sold["id"], "COLLECTED")



async def test_receiving_and_supplier_returns_read_as_movements(shop):
    client, connector, berlin = shop["client"], shop["connector"], shop["berlin"]["id"]
    cursor = (await connector.read("stock_movements")).cursor
    order = await client.create_consignment("SUPPLIER", berlin, name="PO-7")
    await client.add_consignment_product(order["id"], shop["ids"]["MUG"], 6)
    await client.set_consignment_status(order["id"], "SENT")
    await client.update_consignment_product(order["id"], shop["ids"]["MUG"], received=5)
    await client.set_consignment_status(order["id"], "RECEIVED")
    rma = await client.create_consignment("RETURN", berlin, name="RMA-7")
    await client.add_consignment_product(rma["id"], shop["ids"]["TEE-S"], 2)
    await client.set_consignment_status(rma["id"], "SENT")
    moved = (await connector.read("stock_movements", since=cursor)).tables["stock_movements"]
    assert sorted((m.sku, m.location_key, m.quantity, m.kind) for m in moved) == [
        ("MUG", "berlin", 5, "receiving"), ("TEE-S", "berlin", -2, "adjustment")]
    assert stock_of(await connector.read("stock"))[("MUG", "berlin")] == 15
    assert stock_of(await connector.read("stock"))[("TEE-S", "berlin")] == 8


async def test_a_cancelled_transfer_nets_to_nothing(shop):
    client, connector = shop["client"], shop["connector"]
    cursor = (await connector.read("stock_movements")).cursor
    transfer = await client.create_consignment("OUTLET", shop["hamburg"]["id"], source_outlet_id=shop["berlin"]["id"])
    await client.add_consignment_product(transfer["id"], shop["ids"]["TEE-M"], 4)
    await client.set_consignment_status(transfer["id"], "SENT")
    sent = (await connector.read("stock_movements", since=cursor)).tables["stock_movements"]
    assert [(m.location_key, m.quantity, m.kind) for m in sent] == [("berlin", -4, "transfer_out")]
    await client.set_consignment_status(transfer["id"], "CANCELLED")
    later = (await connector.read("stock_movements", since=cursor)).tables["stock_movements"]
    assert sum(m.quantity for m in later) == 0 and {m.movement_id for m in sent} <= {m.movement_id for m in later}
    assert stock_of(await connector.read("stock"))[("TEE-M", "berlin")] == 10


async def test_the_registry_passes_the_configured_tender_map(shop):
    from omnisync_pipelines.config import parse_config
    from omnisync_pipelines.connectors.registry import build_connector

    config = parse_config({
        "pos": "lightspeed_x",
        "systems": {
            "commercetools": {"api_url": "https://api.example", "auth_url": "https://auth.example", "project_key": "shop"},
            "lightspeed_x": {"base_url": BASE, "domain_prefix": "omnisync-sandbox", "tender_map": {"Bitcoin": "other"}},
        },
        "locations": [{"key": "berlin", "commercetools": {"supply_channel_key": "store-berlin"},
                       "lightspeed_x": {"outlet_id": shop["berlin"]["id"]}}],
    })
    connector = build_connector("lightspeed_x", config, {"personal_token": "sandbox-token"},
                                transport=EmulatorTransport(shop["emu"].app))
    try:
        assert connector.tender_map == {"Bitcoin": "other"}
        cursor = (await connector.read("orders")).cursor
        await shop["client"].register_sale(till_sale(shop, [("MUG", 1, 10.0, 1.9)], [("Bitcoin", 11.9)]))
        result = await connector.read("orders", since=cursor)
        assert [p.method for p in result.tables["order_payments"]] == ["other"] and not result.rejected
    finally:
        await connector.aclose()
