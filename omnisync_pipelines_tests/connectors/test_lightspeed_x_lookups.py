"""Lookups and version paging of the X-Series emulator, through `LightspeedXClient` (in process).

Contract (API 2.0 spec, "Search", "List products", "Pagination"):
- `GET /search?type=products&sku=..` takes several lowercased SKUs in one request and pages by
  offset; `-sku` excludes; a parameter the spec does not list for the type is refused (400), so a
  client cannot silently read everything; customers are found by code or email, whatever the case.
- `GET /products?sku=` and `?name=` ignore every other parameter: the product, the family.
- `GET /products/{id}/price_book_products` lists one product's entries; `GET /price_books/{id}/products`
  takes `product_ids`.
- A collection read in pages `after=` the last version returns every live row once, in version order,
  a changed row at its new version only; `before` is exclusive; deleted rows only with `deleted=true`.
  This holds however often rows change (the emulator's change feed compacts itself).
"""

import pytest

from omnisync_pipelines.connectors.lightspeed_x.client import build_client
from omnisync_pipelines.connectors.lightspeed_x.settings import LightspeedXSettings
from omnisync_pipelines.rest.errors import BadRequest
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport

pytestmark = pytest.mark.anyio
BASE = "https://omnisync-sandbox.retail.lightspeed.app"


# fixtures ------------------------------------------------------------------------------------
@pytest.fixture
async def shop():
    emu = LightspeedXEmulator(seed=3)
    berlin = emu.seed_outlet("Berlin")
    emu.seed_register(berlin["id"], "R1")
    settings = LightspeedXSettings(domain_prefix="omnisync-sandbox", base_url=BASE, page_size=4,
                                   personal_token=emu.credentials(BASE)["personal_token"])
    client = build_client(settings, transport=EmulatorTransport(emu.app))
    ids = {}
    for family in ("Tee", "Mug"):
        skus = [f"{family.upper()}-{s}" for s in ("S", "M", "L")]
        created = await client.create_product({"name": family, "handle": family.lower()},
                                              [{"sku": sku, "price_excluding_tax": 10} for sku in skus])
        ids.update(zip(skus, created, strict=True))
    yield {"emu": emu, "client": client, "ids": ids, "berlin": berlin}
    await client.aclose()


# tests ---------------------------------------------------------------------------------------
async def test_products_are_searched_by_several_lowercased_skus_in_one_request(shop):
    client = shop["client"]
    found = await client.search("products", [("sku", "tee-s"), ("sku", "mug-l"), ("sku", "gone-1")])
    assert sorted(p["sku"] for p in found) == ["MUG-L", "TEE-S"]
    assert await client.search("products", [("sku", "TEE-S")]) == []  # the spec: values must be lowercased
    rest = await client.search("products", [("variant_parent_id", shop["ids"]["TEE-S"]), ("-sku", "tee-m")])
    assert [p["sku"] for p in rest] == ["TEE-L"]
    assert sorted(p["sku"] for p in await client.products_by_sku(["TEE-M", " MUG-S "])) == ["MUG-S", "TEE-M"]


async def test_a_search_filter_the_api_does_not_have_is_refused(shop):
    with pytest.raises(BadRequest):
        await shop["client"].search("products", [("handle", "tee")])
    with pytest.raises(BadRequest):
        await shop["client"].search("customers", [("sku", "tee-s")])


async def test_customers_are_searched_by_code_or_email_whatever_the_case(shop):
    client = shop["client"]
    anna = await client.create_customer({"first_name": "Anna", "email": "Anna.Lee@Example.com", "customer_code": "LOY-1"})
    assert [c["id"] for c in await client.search("customers", [("email", "anna.lee@example.com")])] == [anna["id"]]
    assert [c["id"] for c in await client.search("customers", [("customer_code", "loy-1")])] == [anna["id"]]
    assert await client.search("customers", [("email", "anna@example.com")]) == []


async def test_a_sku_or_a_family_name_ignores_paging(shop):
    client = shop["client"]
    by_sku = await client.call("GET", "/api/2.0/products", params={"sku": "MUG-M", "after": 10**12, "page_size": 1})
    assert [p["sku"] for p in by_sku["data"]] == ["MUG-M"]
    assert sorted(p["sku"] for p in await client.product_family("Tee")) == ["TEE-L", "TEE-M", "TEE-S"]


async def test_price_book_entries_are_read_per_product_or_per_book(shop):
    client, ids = shop["client"], shop["ids"]
    book = (await client.call("POST", "/api/2.0/price_books", json={"name": "Berlin", "outlet_id": shop["berlin"]["id"],
                                                                  "customer_group_id": shop["emu"].all_customers["id"]}))["data"]
    await client.call("POST", f"/api/2.0/price_books/{book['id']}/products",
                      json=[{"product_id": ids["TEE-S"], "price": 9}, {"product_id": ids["MUG-S"], "price": 8}])
    assert [e["price"] for e in await client.price_book_entries_of(ids["TEE-S"])] == [9]
    assert await client.price_book_entries_of(ids["TEE-M"]) == []
    some = await client.call("GET", f"/api/2.0/price_books/{book['id']}/products", params={"product_ids": ids["MUG-S"]})
    assert [e["product_id"] for e in some["data"]] == [ids["MUG-S"]]


async def test_version_paging_returns_each_live_row_once_in_order_however_often_rows_change(shop):
    emu, client = shop["emu"], shop["client"]
    start = emu.store.version
    for round_ in range(2500):  # back-office edits, enough to compact the change feed twice
        changed = emu.store.rows["products"][shop["ids"]["TEE-M" if round_ % 2 else "MUG-L"]]
        emu.store.bump("products", {**changed, "price_excluding_tax": 10 + round_ % 5})
    assert len(emu.store._feeds["products"]) < 1100  # superseded entries do not pile up
    rows, version = await client.products()
    assert sorted(p["sku"] for p in rows) == sorted(shop["ids"]) and len(rows) == 6
    assert [p["version"] for p in rows] == sorted(p["version"] for p in rows)
    assert rows[-1]["sku"] == "TEE-M" and version == emu.store.rows["products"][shop["ids"]["TEE-M"]]["version"]
    changed = (await client.products(after=start)).rows
    assert [p["sku"] for p in changed] == ["MUG-L", "TEE-M"]  # each once, at its newest version
    mug = emu.store.rows["products"][shop["ids"]["MUG-L"]]
    window = await client.call("GET", "/api/2.0/products", params={"after": 0, "before": mug["version"]})
    assert "MUG-L" not in [p["sku"] for p in window["data"]] and len(window["data"]) == 4
    emu.store.bump("products", {**mug, "deleted_at": "2024-05-01T10:00:00+00:00"})
    assert "MUG-L" not in [p["sku"] for p in (await client.products()).rows]
    assert "MUG-L" in [p["sku"] for p in (await client.products(deleted=True)).rows]
