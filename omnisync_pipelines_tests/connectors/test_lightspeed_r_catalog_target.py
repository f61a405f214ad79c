"""The R-Series catalog target lands commercetools' catalog as Items, against the emulator (in process).

Contract: one Item per SKU (`customSku`), barcode in `ean`, description = name and variant values,
the variants of a product in one ItemMatrix; the base price on the Default level and a store's own
price on the level its Shop names (`priceLevelID`). The plan's SKUs are read in one `customSku=IN`
query; a row's fields and prices travel in one write, so `set_prices` then writes nothing; a plan
replayed against what the till already holds writes nothing at all.
"""

import json
from decimal import Decimal

import pandas as pd
import pytest

from omnisync_pipelines.connectors.lightspeed_r.catalog_target import LightspeedRCatalog, level_amounts
from omnisync_pipelines.connectors.lightspeed_r.client import build_client
from omnisync_pipelines.connectors.lightspeed_r.settings import LightspeedRSettings
from omnisync_pipelines.engine.catalog_push import push_catalog
from omnisync_pipelines.sandbox.emulators.lightspeed_r import LightspeedREmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport
from omnisync_pipelines.store.ops import OpsStore

pytestmark = pytest.mark.anyio
BASE = "https://api.lightspeedapp.com"
LONDON_LEVEL = 3  # a price level of the account's own (the docs' samples name level 3)


@pytest.fixture
async def shop(tmp_path):
    """Berlin (Default price level) and London (its own price level), omnisync's client logging every call."""
    emu = LightspeedREmulator(seed=3)
    berlin = emu.shop
    london = emu.seed_shop("London", tax_category_id=emu.tax_category["taxCategoryID"])
    london["priceLevelID"] = LONDON_LEVEL  # set in the back office
    calls: list[dict] = []
    settings = LightspeedRSettings(account_id=str(emu.account_id), base_url=BASE, client_id="sandbox-client",
                                   client_secret="sandbox-secret", refresh_token=emu.issue_tokens()["refresh_token"])
    client = build_client(settings, transport=EmulatorTransport(emu.app), call_log=calls.append)
    ops = OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    shops = {"berlin": str(berlin["shopID"]), "london": str(london["shopID"])}
    try:
        yield {"emu": emu, "client": client, "calls": calls, "ops": ops, "shops": shops}
    finally:
        await client.aclose()
        ops.engine.dispose()


def tee(sku: str, name: str = "Tee", barcode: str | None = None, active: bool = True) -> dict:
    """A variant `<PRODUCT>-<SIZE>`, or a product without variants when the SKU has no size."""
    product, _, size = sku.partition("-")
    return {"sku": sku, "product_key": product.lower(), "name": name, "barcode": barcode,
            "attributes": {"size": size} if size else {}, "tax_category": None, "active": active}


def prices(berlin: int, london: int | None = None) -> dict:
    return {"berlin": {"currency": "EUR", "amount": berlin, "price_books": {}},
            "london": {"currency": "EUR", "amount": berlin if london is None else london, "price_books": {}}}


def plan(rows: list[tuple[str, str, list[str], dict, dict]], ids: dict[str, str] | None = None) -> pd.DataFrame:
    return pd.DataFrame([{
        "sku": sku, "action": action, "changes": changes, "desired": json.dumps(desired), "prices": json.dumps(p),
        "pos_system_id": (ids or {}).get(sku), "idempotency_key": f"{sku}:{action}:{changes}:{json.dumps(desired)}{json.dumps(p)}",
    } for sku, action, changes, desired, p in rows])


async def push(shop, rows: pd.DataFrame):
    target = LightspeedRCatalog(shop["client"], shop["shops"])
    target.expect(rows)
    stats = await push_catalog(rows, target, shop["ops"], pos_system="lightspeed_r")
    assert stats.failed == 0 and stats.rejected == 0, stats.errors
    return stats


def items(shop) -> dict[str, dict]:
    return {i["customSku"]: i for i in shop["emu"].store.tables["Item"].values()}


def price(item: dict, level: int) -> float:
    return next(p["amount"] for p in item["Prices"] if p["useTypeID"] == level)


def requests(shop) -> list[str]:
    """`GET Item`, `PUT Item/7`: the calls' paths within the account."""
    paths = [c["path"].split("?")[0].split("/Account/")[-1].split("/", 1)[-1].removesuffix(".json") for c in shop["calls"]]
    return [f"{c['method']} {path}" for c, path in zip(shop["calls"], paths, strict=True)]


async def test_a_new_tee_in_three_sizes_is_one_matrix_of_three_items_each_one_write(shop):
    rows = [(f"TEE-{s}", "create", ["name", "barcode", "prices"], tee(f"TEE-{s}", barcode=f"400638133393{n}"),
             prices(1999, 1799)) for n, s in enumerate("SML")]
    stats = await push(shop, plan(rows))

    landed = items(shop)
    assert {sku: landed[sku]["description"] for sku in ("TEE-S", "TEE-M", "TEE-L")} == {
        "TEE-S": "Tee / S", "TEE-M": "Tee / M", "TEE-L": "Tee / L"}
    assert landed["TEE-M"]["ean"] == "4006381333931"
    assert len({landed[s]["itemMatrixID"] for s in ("TEE-S", "TEE-M", "TEE-L")} - {0}) == 1
    assert (price(landed["TEE-S"], 1), price(landed["TEE-S"], LONDON_LEVEL)) == (19.99, 17.99)
    writes = [r for r in requests(shop) if not r.startswith("GET")]
    assert sorted(writes) == ["POST Item", "POST Item", "POST Item", "POST ItemMatrix"]
    assert requests(shop).count("GET Item") == 1  # the three SKUs looked up together
    assert stats.created == 3


async def test_a_price_change_in_london_only_rewrites_londons_level(shop):
    rows = [("MUG", "create", ["name", "prices"], tee("MUG", name="Mug"), prices(1190))]
    await push(shop, plan(rows))
    mug = items(shop)["MUG"]
    shop["calls"].clear()

    await push(shop, plan([("MUG", "update", ["prices"], tee("MUG", name="Mug"), prices(1190, 990))],
                          {"MUG": str(mug["itemID"])}))

    assert requests(shop) == ["GET Item", "GET Shop", f"PUT Item/{mug['itemID']}"]
    assert (price(items(shop)["MUG"], 1), price(items(shop)["MUG"], LONDON_LEVEL)) == (11.9, 9.9)


async def test_a_replayed_plan_writes_nothing_new(shop):
    rows = plan([("CAP", "create", ["name", "prices"], tee("CAP", name="Cap"), prices(1500))])
    await push(shop, rows)
    shop["calls"].clear()
    again = rows.assign(idempotency_key="replayed-after-a-lost-ledger")

    stats = await push(shop, again)

    assert [r for r in requests(shop) if not r.startswith("GET")] == []
    assert stats.applied == 1 and len(items(shop)) == 1


async def test_a_discontinued_variant_is_archived_and_comes_back_when_reactivated(shop):
    await push(shop, plan([("SOCK", "create", ["name", "prices"], tee("SOCK", name="Sock"), prices(500))]))
    sock_id = str(items(shop)["SOCK"]["itemID"])

    await push(shop, plan([("SOCK", "update", ["active"], tee("SOCK", name="Sock", active=False), prices(500))],
                          {"SOCK": sock_id}))
    assert items(shop)["SOCK"]["archived"] is True

    await push(shop, plan([("SOCK", "update", ["active"], tee("SOCK", name="Sock"), prices(500))],
                          {"SOCK": sock_id}))
    assert items(shop)["SOCK"]["archived"] is False and len(items(shop)) == 1


def test_stores_sharing_a_level_get_the_price_most_of_them_sell_at():
    three = {"a": {"currency": "EUR", "amount": 1000}, "b": {"currency": "EUR", "amount": 1000},
             "c": {"currency": "EUR", "amount": 900}, "d": {"currency": "EUR", "amount": 800}}
    assert level_amounts(three, {"a": 1, "b": 1, "c": 1, "d": 4}) == {1: Decimal("10.00"), 4: Decimal("8.00")}
    assert level_amounts(three, {"d": 4}) == {1: Decimal("10.00"), 4: Decimal("8.00")}  # Default: the most common
