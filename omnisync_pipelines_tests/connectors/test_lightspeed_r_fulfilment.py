"""Online orders set aside at an R-Series store (`connectors/lightspeed_r/fulfilment.py`), against the emulator.

Contract: a click-and-collect or ship-from-store order becomes an open Sale at the shop's first
register, marked with the commercetools order id (`referenceNumber`, source "omnisync"), whose layaway
lines reserve the units (`ItemShop.onLayaway`, still in qoh); the live check reads available = qoh -
onLayaway. A count that cannot cover a line reserves nothing; a voided sale gives the units back.
"""

from datetime import UTC, datetime

import pytest

from omnisync_pipelines.canonical.models import Order, OrderLine
from omnisync_pipelines.connectors.lightspeed_r.client import build_client
from omnisync_pipelines.connectors.lightspeed_r.connector import LightspeedRConnector
from omnisync_pipelines.connectors.lightspeed_r.fulfilment import LightspeedRFulfilment
from omnisync_pipelines.connectors.lightspeed_r.settings import LightspeedRSettings
from omnisync_pipelines.rest.errors import ApiStatusError
from omnisync_pipelines.sandbox.emulators.lightspeed_r import LightspeedREmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport

pytestmark = pytest.mark.anyio
BASE = "https://api.lightspeedapp.com"
T = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
async def store():
    """Berlin with 10 tees and 1 mug on the shelf; Wen is a known customer."""
    emu = LightspeedREmulator(seed=8)
    berlin = emu.shop["shopID"]
    tee = emu.seed_item("Tee / M", "TEE-M", price=20.0, qoh={berlin: 10})
    mug = emu.seed_item("Mug", "MUG", price=11.9, qoh={berlin: 1})
    wen = emu.seed_customer("Wen", "Online", "wen@example.com")
    settings = LightspeedRSettings(account_id=str(emu.account_id), base_url=BASE, client_id="sandbox-client",
                                   client_secret="sandbox-secret", refresh_token=emu.issue_tokens()["refresh_token"])
    client = build_client(settings, transport=EmulatorTransport(emu.app))
    yield {"emu": emu, "client": client, "berlin": berlin, "tee": tee["itemID"], "mug": mug["itemID"],
           "wen": wen["customerID"], "pos": LightspeedRFulfilment(LightspeedRConnector(client, {str(berlin): "berlin"},
                                                              currency_of_location={str(berlin): "EUR"}))}
    await client.aclose()


def web_order(number: str, fulfilment: str, mugs: int = 1) -> tuple[Order, list[OrderLine]]:
    """3 tees at 20.00 with 1.00 off the line and `mugs` mugs at 11.90, for Wen."""
    lines = [OrderLine("commercetools", number, "li-1", "TEE-M", 3, 2000, 100, 942, 5900),
             OrderLine("commercetools", number, "li-2", "MUG", mugs, 1190, 0, 190 * mugs, 1190 * mugs)]
    order = Order("commercetools", f"ct-{number}", number, "online", "EUR", 5900 + 1190 * mugs, 0, 100, "Open", T,
                  "berlin", customer_email="Wen@Example.com", fulfilment=fulfilment)
    return order, lines


def on_layaway(store, item_id: int) -> tuple[int, int]:
    row = store["emu"].store.item_shop(item_id, store["berlin"])
    return row["qoh"], row["onLayaway"]


async def test_a_pickup_order_reserves_its_units_on_an_open_sale_for_the_shopper(store):
    order, lines = web_order("WEB-1", "click_and_collect")

    sale = await store["pos"].create_sale(order, lines, "berlin")

    assert (sale["status"], sale["pos_status"]) == ("waiting_pickup", "open")
    assert (sale["referenceNumber"], sale["referenceNumberSource"]) == ("ct-WEB-1", "omnisync")
    assert sale["customerID"] == str(store["wen"])
    assert on_layaway(store, store["tee"]) == (10, 3) and on_layaway(store, store["mug"]) == (1, 1)
    levels = await store["pos"].stock_levels(["TEE-M", "MUG"], "berlin")
    assert (levels["TEE-M"].on_hand, levels["TEE-M"].reserved, levels["TEE-M"].available) == (7, 3, 7)  # set aside: off the count
    assert levels["MUG"].available == 0


async def test_a_ship_from_store_order_waits_for_dispatch(store):
    order, lines = web_order("WEB-2", "ship_from_store")
    sale = await store["pos"].create_sale(order, lines, "berlin")
    assert sale["status"] == "waiting_dispatch" and sale["shipToID"] != "0"


async def test_an_interrupted_assignment_finds_its_sale_by_the_order_id(store):
    order, lines = web_order("WEB-3", "click_and_collect")
    sale = await store["pos"].create_sale(order, lines, "berlin")

    found = await store["pos"].find_sale("ct-WEB-3")

    assert found is not None and found["id"] == sale["id"]
    assert await store["pos"].find_sale("ct-NEVER-SENT") is None


async def test_a_run_killed_between_reserving_and_opening_the_sale_never_sets_the_goods_aside_twice(store):
    """The first attempt reserved the lines, then died before POST Sale: the retry takes them over."""
    order, lines = web_order("WEB-6", "click_and_collect")
    pos = store["pos"]
    items = await pos._items(["TEE-M", "MUG"])
    till = await pos._till_context()
    customer = await pos._customer_id(order, None)
    orphaned = await pos._reserve(order, lines, items, str(store["berlin"]), customer, till["employee"])
    assert on_layaway(store, store["tee"]) == (10, 3)

    sale = await pos.create_sale(order, lines, "berlin")

    assert on_layaway(store, store["tee"]) == (10, 3) and on_layaway(store, store["mug"]) == (1, 1)
    assert sorted(line["saleLineID"] for line in sale["SaleLines"]["SaleLine"]) == sorted(orphaned)


async def test_a_cancelled_order_voids_the_sale_and_the_units_come_back(store):
    order, lines = web_order("WEB-4", "click_and_collect")
    sale = await store["pos"].create_sale(order, lines, "berlin")

    voided = await store["pos"].void_sale(sale)

    assert (voided["status"], voided["pos_status"]) == ("cancelled", "voided")
    assert on_layaway(store, store["tee"]) == (10, 0)
    assert (await store["pos"].sale(sale["id"]))["status"] == "cancelled"


async def test_a_count_that_cannot_cover_a_line_reserves_nothing(store):
    order, lines = web_order("WEB-5", "click_and_collect", mugs=2)  # one mug on the shelf

    with pytest.raises(ApiStatusError):
        await store["pos"].create_sale(order, lines, "berlin")

    assert on_layaway(store, store["tee"]) == (10, 0) and on_layaway(store, store["mug"]) == (1, 0)
    left = await store["pos"].find_sale("ct-WEB-5")
    assert left is None or left["status"] == "cancelled"


async def test_a_guest_the_till_does_not_know_is_added_so_the_layaway_has_a_customer(store):
    order, lines = web_order("WEB-6", "click_and_collect")
    guest = Order(**{**order.to_row(), "customer_email": "guest@example.com"})

    sale = await store["pos"].create_sale(guest, lines, "berlin")

    added = store["emu"].store.tables["Customer"][int(sale["customerID"])]
    assert added["customerID"] != store["wen"] and added["lastName"] == "WEB-6"
    assert on_layaway(store, store["tee"]) == (10, 3)
