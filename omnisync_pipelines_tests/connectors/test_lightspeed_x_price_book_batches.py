"""X-Series price book entries travel as lists, and a family's name once (issue 6), against the emulator.

Contract: store prices of many SKUs land in `ceil(n / 100)` `POST /price_books/{id}/products` per
book (the documented limit is 100 entries a request, and the answer is a confirmation only), each
entry exactly once and at its net amount; a list the API refuses for one bad entry is resent entry
by entry so the others land and only that SKU fails. A family renamed in commercetools is one `PUT`
(docs "Updating Variants": `common` updates every member). Taxes are read by id, once per tax.
"""

import json
import math

import pandas as pd
import pytest

from omnisync_pipelines.connectors.lightspeed_x.catalog_target import LightspeedXCatalog
from omnisync_pipelines.connectors.lightspeed_x.price_books import (
    ENTRIES_PER_REQUEST,
    PriceBookSender,
    QueuedEntry,
)
from omnisync_pipelines.engine.catalog_push import push_catalog
from omnisync_pipelines.rest.errors import Unprocessable
from omnisync_pipelines_tests.connectors.x_series_shop import item, prices, two_store_shop

pytestmark = pytest.mark.anyio
SIZES = ("S", "M", "L")


# fixtures ------------------------------------------------------------------------------------
@pytest.fixture
async def shop(tmp_path):
    # five tills: a budget of 300 × 5 + 50 requests per 5 minutes, which the 150-SKU push fits in
    async with two_store_shop(tmp_path, seed=3, tills=5) as opened:
        yield opened


def plan(rows, ids=None) -> pd.DataFrame:
    return pd.DataFrame([{
        "sku": sku, "action": action, "changes": changes, "desired": json.dumps(desired), "prices": json.dumps(p),
        "pos_system_id": (ids or {}).get(sku), "idempotency_key": f"{sku}:{action}:{json.dumps(desired)}{json.dumps(p)}",
    } for sku, action, changes, desired, p in rows])


async def push(shop, rows: pd.DataFrame):
    target = LightspeedXCatalog(shop["client"], shop["outlets"])
    target.expect(rows)
    return await push_catalog(rows, target, shop["ops"], pos_system="lightspeed_x")


async def tees(shop, families: int) -> dict[str, str]:
    """`families` tee families of three sizes, first-synced; returns SKU -> product id."""
    rows = [(f"TEE{n}-{s}", "create", ["name", "prices"], item(f"TEE{n}-{s}"), prices(2000))
            for n in range(families) for s in SIZES]
    stats = await push(shop, plan(rows))
    assert stats.failed == 0 and stats.rejected == 0, stats.errors
    shop["calls"].clear()
    return {p["sku"]: p["id"] for p in shop["emu"].store.rows["products"].values()}


def requests(shop) -> list[str]:
    return [f"{c['method']} {c['path'].split('?')[0]}" for c in shop["calls"]]


def munich_entries(shop) -> list[dict]:
    books = [b for b in shop["emu"].store.rows["price_books"].values() if b["outlet_id"] == shop["outlets"]["munich"]]
    return [e for e in shop["emu"].store.rows["price_book_products"].values()
            if e["price_book_id"] in {b["id"] for b in books} and not e.get("deleted_at")]


# tests ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("skus", [30, 150])
async def test_munich_prices_of_many_skus_go_in_lists_of_at_most_a_hundred_and_land_once(shop, skus):
    ids = await tees(shop, families=math.ceil(skus / 3))
    chosen = sorted(ids)[:skus]
    rows = [(sku, "update", ["prices"], item(sku), prices(2000, munich=2200)) for sku in chosen]
    stats = await push(shop, plan(rows, ids))
    assert stats.applied == skus and stats.failed == 0
    posts = [r for r in requests(shop) if r.startswith("POST /api/2.0/price_books/")]
    assert len(posts) == math.ceil(skus / ENTRIES_PER_REQUEST)
    assert requests(shop).count("POST /api/2.0/price_books") == 1  # the Munich book, created once
    entries = munich_entries(shop)
    assert sorted(e["product_id"] for e in entries) == sorted(ids[sku] for sku in chosen)  # each exactly once
    assert {round(e["price"] * 1.19, 2) for e in entries} == {22.0}
    assert not [r for r in requests(shop) if r.startswith("PUT")]  # the base price did not move


async def test_the_same_prices_pushed_again_send_nothing(shop):
    ids = await tees(shop, families=2)
    rows = [(sku, "update", ["prices"], item(sku), prices(2000, munich=2200)) for sku in sorted(ids)]
    await push(shop, plan(rows, ids))
    shop["calls"].clear()
    again = plan(rows, ids).assign(idempotency_key=lambda f: f["idempotency_key"] + ":rerun")
    stats = await push(shop, again)
    assert stats.applied == len(ids)
    assert not [r for r in requests(shop) if not r.startswith("GET")]
    assert len(munich_entries(shop)) == len(ids)


async def test_one_refused_entry_holds_back_only_its_own_sku(shop):
    ids = await tees(shop, families=1)
    book = (await shop["client"].call("POST", "/api/2.0/price_books", json={"name": "Munich", "outlet_id": shop["outlets"]["munich"],
                                                                         "customer_group_id": shop["emu"].all_customers["id"]}))["data"]
    kept: dict = {}
    sender = PriceBookSender(shop["client"], kept)
    good = [QueuedEntry(sku, book["id"], {"product_id": ids[sku], "tax_id": None, "price": 15.0}) for sku in ("TEE0-S", "TEE0-M")]
    bad = QueuedEntry("TEE0-L", book["id"], {"product_id": "no-such-product", "tax_id": None, "price": 15.0})
    await sender.send([good[0], bad, good[1]])
    assert dict(sender.sent) == {"TEE0-S": 1, "TEE0-M": 1}
    assert isinstance(sender.failed["TEE0-L"], Unprocessable)
    assert sorted(e["product_id"] for e in munich_entries(shop)) == sorted([ids["TEE0-S"], ids["TEE0-M"]])
    assert requests(shop).count(f"POST /api/2.0/price_books/{book['id']}/products") == 4  # the list, then one by one


async def test_the_emulator_refuses_more_than_a_hundred_entries_and_answers_with_a_message(shop):
    ids = await tees(shop, families=1)
    book = (await shop["client"].call("POST", "/api/2.0/price_books", json={"name": "Munich", "outlet_id": shop["outlets"]["munich"],
                                                                         "customer_group_id": shop["emu"].all_customers["id"]}))["data"]
    path = f"/api/2.0/price_books/{book['id']}/products"
    with pytest.raises(Unprocessable):
        await shop["client"].call("POST", path, json={"data": [{"product_id": ids["TEE0-S"], "price": 1.0}] * 101})
    answer = await shop["client"].call("POST", path, json={"data": [{"product_id": ids["TEE0-S"], "price": 1.0}]})
    assert set(answer["data"]) == {"message"}


async def test_a_renamed_family_is_one_write_and_every_size_carries_the_new_name(shop):
    ids = await tees(shop, families=2)
    rows = [(f"TEE0-{s}", "update", ["name"], item(f"TEE0-{s}", name="Organic Tee"), prices(2000)) for s in SIZES]
    stats = await push(shop, plan(rows, ids))
    assert stats.applied == 3 and stats.api_writes == 1
    assert [r for r in requests(shop) if not r.startswith("GET")] == [r for r in requests(shop) if r.startswith("PUT")]
    assert len([r for r in requests(shop) if r.startswith("PUT")]) == 1
    names = {p["sku"]: p["name"] for p in shop["emu"].store.rows["products"].values()}
    assert {names[f"TEE0-{s}"] for s in SIZES} == {"Organic Tee"} and names["TEE1-S"] == "Tee"


async def test_a_renamed_family_with_one_new_barcode_writes_that_size_and_the_name_once(shop):
    ids = await tees(shop, families=1)
    rows = [(f"TEE0-{s}", "update", ["name"], item(f"TEE0-{s}", name="Organic Tee"), prices(2000)) for s in ("S", "L")]
    rows.append(("TEE0-M", "update", ["name", "barcode"], {**item("TEE0-M", name="Organic Tee"), "barcode": "4006381333931"},
                 prices(2000)))
    await push(shop, plan(rows, ids))
    puts = [r for r in requests(shop) if r.startswith("PUT")]
    assert 1 <= len(puts) <= 2  # the barcode needs TEE0-M's own details; the name rides along once
    landed = {p["sku"]: p for p in shop["emu"].store.rows["products"].values()}
    assert {landed[f"TEE0-{s}"]["name"] for s in SIZES} == {"Organic Tee"}
    assert landed["TEE0-M"]["product_codes"] == [{"type": "EAN", "code": "4006381333931"}]


async def test_new_base_prices_read_the_tax_list_once(shop):
    """API 2.0 has no `GET /taxes/{id}`: the short tax list is read once (a page, then the empty page)."""
    ids = await tees(shop, families=2)
    rows = [(sku, "update", ["prices"], item(sku), prices(2500)) for sku in sorted(ids)]
    await push(shop, plan(rows, ids))
    taxes = [r for r in requests(shop) if r.startswith("GET /api/2.0/taxes")]
    assert taxes == ["GET /api/2.0/taxes", "GET /api/2.0/taxes"]
    assert {p["price_including_tax"] for p in shop["emu"].store.rows["products"].values()} == {25.0}
