"""Conformance: product projections, prices and paging through the connector.

Contract, on both emulators: published projections carry variants with SKUs, attributes, images and
prices; the price selection parameters (currency, country, channel, customer group) fill
`variant.price` with the scoped price; offset paging returns every record once; delta reads by
`lastModifiedAt` include what changed inside the overlap window before `since` and nothing older.
Ours only: id-cursor deep paging (commercetools-mock 4.4.0 ignores `sort` over HTTP, so the cursor
skips records there) and the `limit` ≤ 500 rule.
"""

from datetime import datetime, timedelta

import pytest

from omnisync_pipelines.rest.errors import BadRequest
from omnisync_pipelines_tests.conformance import setup
from omnisync_pipelines_tests.conformance.conftest import client_for

pytestmark = [pytest.mark.anyio, pytest.mark.conformance]


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
async def product_type(ct, uid):
    return await setup.product_type(ct, f"{uid}-type")


async def test_published_projection_has_variants_attributes_images_prices(ct, uid, product_type):
    await setup.product(ct, f"{uid}-p", product_type["id"], [setup.variant(f"{uid}-a"), setup.variant(f"{uid}-b", colour="blue")])
    where = [f'productType(id = "{product_type["id"]}")']

    current = [p async for p in ct.iter_product_projections(where=where)]
    assert [p["key"] for p in current] == [f"{uid}-p"]
    master, other = current[0]["masterVariant"], current[0]["variants"][0]
    assert (master["sku"], other["sku"]) == (f"{uid}-a", f"{uid}-b")
    assert {"name": "colour", "value": "blue"} in other["attributes"]
    assert master["images"][0]["url"].endswith(f"{uid}-a.jpg")
    assert master["prices"][0]["value"]["centAmount"] == 1999


@pytest.mark.ours_only(reason="commercetools-mock 4.4.0 reads the query string `staged=false` as true (a non-empty string)")
async def test_unpublished_product_is_only_in_staged_projections(ct, uid, product_type):
    await setup.product(ct, f"{uid}-p", product_type["id"], [setup.variant(f"{uid}-a")])
    await setup.product(ct, f"{uid}-draft", product_type["id"], [setup.variant(f"{uid}-c")], publish=False)
    where = [f'productType(id = "{product_type["id"]}")']
    assert [p["key"] async for p in ct.iter_product_projections(where=where)] == [f"{uid}-p"]
    staged = [p async for p in ct.iter_product_projections(staged=True, where=where)]
    assert {p["key"] for p in staged} == {f"{uid}-p", f"{uid}-draft"}


async def test_price_selection_by_currency_country_channel_customer_group(ct, uid, product_type):
    store = await setup.channel(ct, f"{uid}-store", ["ProductDistribution"])
    group = await ct.create("customer-groups", {"key": f"{uid}-vip", "groupName": f"{uid}-vip"})
    prices = [
        setup.price(1000),
        setup.price(1100, "USD"),
        setup.price(900, country="DE"),
        setup.price(800, country="DE", channel=store["id"]),
        setup.price(700, country="DE", channel=store["id"], customer_group=group["id"]),
    ]
    await setup.product(ct, f"{uid}-p", product_type["id"], [setup.variant(f"{uid}-a", prices)])
    where = [f'productType(id = "{product_type["id"]}")']

    async def selected(**scope) -> int | None:
        found = [p async for p in ct.iter_product_projections(where=where, **scope)]
        price = found[0]["masterVariant"].get("price")
        return price["value"]["centAmount"] if price else None

    assert await selected() is None  # no selection without priceCurrency
    assert await selected(price_currency="USD") == 1100
    assert await selected(price_currency="EUR") == 1000
    assert await selected(price_currency="EUR", price_country="DE") == 900
    assert await selected(price_currency="EUR", price_country="DE", price_channel=store["id"]) == 800
    assert await selected(price_currency="EUR", price_country="DE", price_channel=store["id"],
                          price_customer_group=group["id"]) == 700


@pytest.mark.ours_only(reason="commercetools-mock 4.4.0 selects only exact scope matches, without the API's fallback order")
async def test_price_selection_falls_back_in_the_documented_order(ct, uid, product_type):
    store = await setup.channel(ct, f"{uid}-store", ["ProductDistribution"])
    group = await ct.create("customer-groups", {"key": f"{uid}-vip", "groupName": f"{uid}-vip"})
    prices = [
        setup.price(1000),
        setup.price(600, customer_group=group["id"]),
        setup.price(500, country="DE", channel=store["id"]),
        setup.price(400, country="DE"),
    ]
    await setup.product(ct, f"{uid}-p", product_type["id"], [setup.variant(f"{uid}-a", prices)])
    where = [f'productType(id = "{product_type["id"]}")']

    async def selected(**scope) -> int | None:
        found = [p async for p in ct.iter_product_projections(where=where, price_currency="EUR", **scope)]
        return found[0]["masterVariant"]["price"]["value"]["centAmount"]

    # customer group outranks channel and country together
    assert await selected(price_country="DE", price_channel=store["id"], price_customer_group=group["id"]) == 600
    assert await selected(price_country="DE", price_channel=store["id"]) == 500
    assert await selected(price_country="AT", price_channel=store["id"]) == 1000  # unscoped fallback
    assert await selected(price_channel=store["id"]) == 1000  # a country price needs the country asked for


async def test_offset_paging_returns_every_record_once(ct, uid):
    keys = {f"{uid}-{i}" for i in range(7)}
    for key in sorted(keys):
        await setup.channel(ct, key)
    where = [f"key in ({', '.join(f'{k!r}'.replace(chr(39), chr(34)) for k in sorted(keys))})"]
    found = await ct.query("channels", where=where, sort="key asc", page_size=3)
    assert sorted(c["key"] for c in found) == sorted(keys)


@pytest.mark.ours_only(reason="commercetools-mock 4.4.0 ignores sort over HTTP, so `where id > last` skips records")
async def test_id_cursor_deep_paging(ct, uid, calls):
    keys = {f"{uid}-{i}" for i in range(7)}
    for key in sorted(keys):
        await setup.channel(ct, key)
    where = [f"key in ({', '.join(chr(34) + k + chr(34) for k in sorted(keys))})"]
    found = await ct.query("channels", where=where, page_size=3)
    assert sorted(c["key"] for c in found) == sorted(keys)
    assert [c["id"] for c in found] == sorted(c["id"] for c in found)
    pages = [c["path"] for c in calls if c["path"].startswith(f"/{ct.settings.project_key}/channels?")]
    assert len(pages) == 3
    assert all("withTotal=false" in p and "sort=id+asc" in p for p in pages)
    assert 'where=id+>+"' in pages[1] and 'where=id+>+"' not in pages[0]


@pytest.mark.ours_only(reason="commercetools-mock 4.4.0 accepts limit above 500")
async def test_limit_above_500_is_refused(ct):
    with pytest.raises(BadRequest):
        await ct.query("channels", page_size=501)


async def test_delta_by_last_modified_with_overlap(ct_server, ct, uid):
    supply = await setup.channel(ct, f"{uid}-store")
    first = await ct.create_inventory_entry(f"{uid}-a", supply["id"], 1)
    second = await ct.create_inventory_entry(f"{uid}-b", supply["id"], 1)
    where = [f'supplyChannel(id = "{supply["id"]}")']
    boundary = ts(second["lastModifiedAt"])

    async def delta(since, overlap_s):
        client = client_for(ct_server, delta_overlap_s=overlap_s)
        try:
            return {e["sku"] async for e in client.iter_modified_since("inventory", since, where=where)}
        finally:
            await client.aclose()

    assert await delta(boundary, 0) >= {f"{uid}-b"}  # lastModifiedAt >= since: the boundary is included
    assert await delta(boundary + timedelta(seconds=60), 0) == set()
    assert await delta(boundary + timedelta(seconds=60), 120) == {f"{uid}-a", f"{uid}-b"}

    updated = await ct.update_inventory_entry(first["id"], first["version"], [{"action": "changeQuantity", "quantity": 5}])
    assert await delta(ts(updated["lastModifiedAt"]), 0) == {f"{uid}-a"}
