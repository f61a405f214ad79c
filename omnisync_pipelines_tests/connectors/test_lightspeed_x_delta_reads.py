"""Delta reads of the X-Series catalog snapshots read each feed from its own cursor (issue 6).

Contract: the prices cursor keeps one version per feed (`products:<v>;price_book_products:<v>`), so a
price book entry that has not changed since an old cursor does not drag the products feed back to
it; a plain version (an older cursor) still reads both feeds from there. A delta read that finds
nothing reads no reference data (outlets); one that finds rows reads the outlets once.
"""

import pytest

from omnisync_pipelines.connectors.lightspeed_x.client import build_client
from omnisync_pipelines.connectors.lightspeed_x.connector import LightspeedXConnector, feed_cursors
from omnisync_pipelines.connectors.lightspeed_x.settings import LightspeedXSettings
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport

pytestmark = pytest.mark.anyio
BASE = "https://omnisync-sandbox.retail.lightspeed.app"


# fixtures ------------------------------------------------------------------------------------
@pytest.fixture
async def shop():
    emu = LightspeedXEmulator(seed=5)
    tax = emu.seed_tax("VAT", 0.19)
    berlin = emu.seed_outlet("Berlin", default_tax_id=tax["id"])
    emu.seed_register(berlin["id"], "R1")
    calls: list[dict] = []
    settings = LightspeedXSettings(domain_prefix="omnisync-sandbox", base_url=BASE,
                                   personal_token=emu.credentials(BASE)["personal_token"])
    client = build_client(settings, transport=EmulatorTransport(emu.app), call_log=calls.append)
    common = {"name": "Tee", "handle": "tee", "tax_id": tax["id"]}
    await client.create_product(common, [{"sku": f"TEE-{s}", "price_excluding_tax": 16.8} for s in "SML"])
    yield {"emu": emu, "client": client, "calls": calls, "berlin": berlin}
    await client.aclose()


def connector(shop) -> LightspeedXConnector:
    return LightspeedXConnector(shop["client"], {shop["berlin"]["id"]: "berlin"})


def reads(shop, collection: str) -> list[str]:
    return [c["path"] for c in shop["calls"] if c["path"].split("?")[0] == f"/api/2.0/{collection}"]


def tee(shop, sku: str) -> dict:
    return next(p for p in shop["emu"].store.rows["products"].values() if p["sku"] == sku)


# tests ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("cursor", "feeds"), [
    (None, {"products": 0, "price_book_products": 0}),
    ("1005", {"products": 1005, "price_book_products": 1005}),
    ("products:1009;price_book_products:1002", {"products": 1009, "price_book_products": 1002}),
])
def test_a_prices_cursor_names_a_version_per_feed(cursor, feeds):
    assert feed_cursors(cursor) == feeds


async def test_a_price_change_after_an_old_book_entry_re_reads_only_the_changed_product(shop):
    first = await connector(shop).read("prices")
    assert first.cursor.startswith("products:") and ";price_book_products:" in first.cursor
    await shop["client"].update_product(tee(shop, "TEE-M")["id"], details={"price_excluding_tax": 17.65})
    shop["calls"].clear()
    delta = await connector(shop).read("prices", since=first.cursor)
    assert sorted({p.sku for p in delta.tables["prices"]}) == ["TEE-M"]
    assert feed_cursors(delta.cursor)["products"] == tee(shop, "TEE-M")["version"]
    assert feed_cursors(delta.cursor)["price_book_products"] == feed_cursors(first.cursor)["price_book_products"]
    assert len(reads(shop, "outlets")) == 2  # one listing (its page, then the empty page), for the currency


async def test_a_quiet_delta_reads_each_feed_once_and_no_outlets(shop):
    catalog, prices = await connector(shop).read("catalog"), await connector(shop).read("prices")
    shop["calls"].clear()
    assert (await connector(shop).read("catalog", since=catalog.cursor)).tables["catalog"] == []
    assert (await connector(shop).read("prices", since=prices.cursor)).tables["prices"] == []
    assert len(reads(shop, "products")) == 2 and len(reads(shop, "price_book_products")) == 1
    assert reads(shop, "outlets") == []
