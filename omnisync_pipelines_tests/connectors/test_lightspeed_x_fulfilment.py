"""Online orders set aside at an X-Series store (`connectors/lightspeed_x/fulfilment.py`), against the emulator.

Contract: the register sale for a click-and-collect or ship-from-store order carries the online
prepayment of its whole total, with the configured payment type (or, unconfigured, the one the
tender mapping reads as card), so the till shows nothing owing and the sale closes when the shopper
collects or the parcel leaves. The emulator, like the till, refuses to close a sale (by fulfilling
it) whose payments do not cover it.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from omnisync_pipelines.canonical.models import CatalogItem, Order, OrderLine, Price
from omnisync_pipelines.connectors.lightspeed_x import drafts
from omnisync_pipelines.connectors.lightspeed_x.client import build_client
from omnisync_pipelines.connectors.lightspeed_x.connector import LightspeedXConnector
from omnisync_pipelines.connectors.lightspeed_x.fulfilment import LightspeedXFulfilment
from omnisync_pipelines.connectors.lightspeed_x.mapping import MappingError
from omnisync_pipelines.connectors.lightspeed_x.settings import LightspeedXSettings
from omnisync_pipelines.rest.errors import BadRequest
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport

pytestmark = pytest.mark.anyio
BASE = "https://omnisync-sandbox.retail.lightspeed.app"
T = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
async def store():
    emu = LightspeedXEmulator(seed=31)
    tax = emu.seed_tax("VAT", 0.19)
    berlin = emu.seed_outlet("Berlin", default_tax_id=tax["id"])
    emu.seed_register(berlin["id"], "R1")
    emu.seed_user("Till 1")
    types = {name: emu.seed_payment_type(name, type_id)["id"]
             for name, type_id in (("Cash", "1"), ("Credit Card", "3"), ("Paid Online", "99"))}
    settings = LightspeedXSettings(domain_prefix="omnisync-sandbox", base_url=BASE,
                                   personal_token=emu.credentials(BASE)["personal_token"])
    client = build_client(settings, transport=EmulatorTransport(emu.app))
    for sku, gross in (("TEE", 2000), ("MUG", 1190)):
        item = CatalogItem("commercetools", sku, None, sku.title(), "x", "{}")
        details = drafts.variant_details(item, Price("commercetools", sku, "EUR", gross, "x"), tax_rate=Decimal("0.19"))
        (product_id,) = await client.create_product({**drafts.product_common(item), "tax_id": tax["id"]}, [details])
        await client.set_inventory(product_id, berlin["id"], 10)
    yield {"emu": emu, "client": client, "berlin": berlin, "types": types}
    await client.aclose()


def adapter(store, **connector_options) -> LightspeedXFulfilment:
    return LightspeedXFulfilment(LightspeedXConnector(store["client"], {store["berlin"]["id"]: "berlin"},
                                                      **connector_options))


def web_order(number: str, fulfilment: str) -> tuple[Order, list[OrderLine]]:
    """3 tees at 20.00 with 1.00 off the line (59.00) and a mug (11.90): 70.90 paid online."""
    lines = [OrderLine("commercetools", number, "li-1", "TEE", 3, 2000, 100, 942, 5900),
             OrderLine("commercetools", number, "li-2", "MUG", 1, 1190, 0, 190, 1190)]
    order = Order("commercetools", f"ct-{number}", number, "online", "EUR", 7090, 1132, 100, "Open", T,
                  "berlin", fulfilment=fulfilment)
    return order, lines


def owing(sale: dict) -> Decimal:
    total = Decimal(str(sale["total_price"])) + Decimal(str(sale["total_tax"]))
    return (total - sum(Decimal(str(p["amount"])) for p in sale["payments"])).quantize(Decimal("0.01"))


async def test_a_prepaid_pickup_owes_nothing_at_the_till_and_closes_when_collected(store):
    pos = adapter(store, online_payment_type="paid online")
    order, lines = web_order("WEB-1", "click_and_collect")

    sale = await pos.create_sale(order, lines, "berlin")

    assert (sale["status"], sale["pos_status"]) == ("waiting_pickup", "AWAITING_PICKUP") and owing(sale) == 0
    assert [(p["name"], p["amount"]) for p in sale["payments"]] == [("Paid Online", 70.9)]
    collected = await store["client"].fulfill_sale(sale["id"], "PICKED_UP")
    assert (collected["sale_id"], collected["status"]) == (sale["id"], "PICKED_UP")  # the Fulfillment, not the sale
    assert (await store["client"].get("sales", sale["id"]))["status"] == "PICKED_UP_CLOSED"


async def test_without_a_configured_payment_type_the_prepayment_is_recorded_as_card(store):
    pos = adapter(store)
    order, lines = web_order("WEB-2", "ship_from_store")

    sale = await pos.create_sale(order, lines, "berlin")

    assert (sale["status"], sale["pos_status"]) == ("waiting_dispatch", "AWAITING_DISPATCH") and owing(sale) == 0
    assert [p["retailer_payment_type_id"] for p in sale["payments"]] == [store["types"]["Credit Card"]]
    assert (await store["client"].fulfill_sale(sale["id"], "SHIPPED"))["status"] == "SHIPPED"
    assert (await store["client"].get("sales", sale["id"]))["status"] == "DISPATCHED_CLOSED"


async def test_a_payment_type_the_retailer_does_not_have_is_named(store):
    pos = adapter(store, online_payment_type="Web shop")
    order, lines = web_order("WEB-3", "click_and_collect")
    with pytest.raises(MappingError) as refused:
        await pos.create_sale(order, lines, "berlin")
    assert refused.value.field == "online_payment_type" and "Web shop" in str(refused.value)
    assert not store["emu"].store.rows["sales"]  # nothing was registered


@pytest.mark.parametrize("paid", [None, 10.0])
async def test_the_till_refuses_to_close_a_pickup_that_is_not_paid_in_full(store, paid):
    client, emu = store["client"], store["emu"]
    register = next(iter(emu.store.rows["registers"].values()))
    mug = next(p for p in emu.store.rows["products"].values() if p["sku"] == "MUG")
    payments = [{"retailer_payment_type_id": store["types"]["Cash"], "amount": paid}] if paid else []
    sale = await client.register_sale({
        "register_id": register["id"], "status": "AWAITING_PICKUP", "register_sale_payments": payments,
        "register_sale_products": [{"product_id": mug["id"], "quantity": 1, "price": 10.0, "tax": 1.9}]})

    with pytest.raises(BadRequest) as refused:
        await client.fulfill_sale(sale["id"], "PICKED_UP")

    assert "do not balance" in str(refused.value.body)
    assert (await client.get("sales", sale["id"]))["status"] == "AWAITING_PICKUP"


async def test_a_sale_the_till_cannot_take_is_an_exception_row_naming_the_field_not_a_failed_run(store, tmp_path):
    from omnisync_pipelines.engine.fulfilment import fulfilment_flow, plan_fulfilment, push_fulfilment
    from omnisync_pipelines.store.ops import OpsStore

    ops, flow = OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.sqlite'}"), fulfilment_flow("lightspeed_x")
    orders = [web_order("WEB-4", "click_and_collect"), web_order("WEB-5", "ship_from_store")]
    plan = plan_fulfilment([o for o, _ in orders], [line for _, lines in orders for line in lines], ops, flow,
                           fallback_stores={}, default_fallback=[])
    misconfigured = adapter(store, online_payment_type="Web shop")  # the retailer has no such payment type

    outcome = await push_fulfilment(plan, {o.order_id: o for o, _ in orders}, {o.order_id: lines for o, lines in orders},
                                    misconfigured, ops, flow=flow)

    assert [(r["order_number"], r["status"]) for r in outcome.rows] == [("WEB-4", "exception"), ("WEB-5", "exception")]
    rejected = ops.rejected_frame()
    assert sorted(rejected["record_ref"]) == ["WEB-4", "WEB-5"]
    assert set(rejected["field"]) == {"online_payment_type"} and all("Web shop" in r for r in rejected["reason"])
    assert not store["emu"].store.rows["sales"]  # nothing set aside; both are tried again next run
    assert plan_fulfilment([o for o, _ in orders], [line for _, lines in orders for line in lines], ops, flow,
                           fallback_stores={}, default_fallback=[])["status"].tolist() == ["to_assign", "to_assign"]
