"""commercetools emulator: lookups stay right after the data changes.

The emulator answers key lookups, uniqueness checks (key, SKU + supply channel, product SKUs, order
numbers, customer emails) and `sku = ...` / `sku in (...)` queries from indexes. Whatever a write
does (move an entry to another channel, rename a key, change a SKU, delete, fail half-way), the
answers must be the ones the API gives: found where the data now is, not found where it was, a
freed value reusable, a held value still rejected, and query pages in the same order and with the
same total as a scan over every resource.
"""

from __future__ import annotations

import httpx
import pytest

from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines_tests.sandbox.ct_http import P, authed, post

EUR = {"currencyCode": "EUR", "centAmount": 1999}


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
async def client():
    async with await authed(CommercetoolsEmulator()) as c:
        yield c


async def update(client: httpx.AsyncClient, path: str, current: dict, *actions: dict, status: int = 200) -> dict:
    return await post(client, path, {"version": current["version"], "actions": list(actions)}, status)


async def delete(client: httpx.AsyncClient, path: str, current: dict) -> None:
    response = await client.delete(P + path, params={"version": current["version"]})
    assert response.status_code == 200, response.text


async def query(client: httpx.AsyncClient, resource: str, where: str | list[str], **params) -> dict:
    response = await client.get(f"{P}/{resource}", params={"where": where, **params})
    assert response.status_code == 200, response.text
    return response.json()


async def stores(client: httpx.AsyncClient, *keys: str) -> dict[str, str]:
    return {key: (await post(client, "/channels", {"key": key, "roles": ["InventorySupply"]}))["id"] for key in keys}


def at(sku: str, channel_id: str) -> str:
    return f'sku = "{sku}" and supplyChannel(id = "{channel_id}")'


def draft(sku: str, channel_id: str, quantity: int = 5) -> dict:
    return {"sku": sku, "supplyChannel": {"typeId": "channel", "id": channel_id}, "quantityOnStock": quantity}


async def product_type(client: httpx.AsyncClient) -> dict:
    made = await post(client, "/product-types", {"key": "tee", "name": "Tee", "description": "", "attributes": []})
    return {"typeId": "product-type", "id": made["id"]}


def product(kind: dict, key: str, *skus: str) -> dict:
    return {"key": key, "productType": kind, "name": {"en": key}, "slug": {"en": key},
            "masterVariant": {"sku": skus[0]}, "variants": [{"sku": s} for s in skus[1:]]}


def ids(page: dict) -> list[str]:
    return [r["id"] for r in page["results"]]


# -- inventory: SKU at a supply channel ---------------------------------------------------------
@pytest.mark.anyio
async def test_stock_moved_to_another_store_is_found_there_and_frees_the_old_store(client):
    ch = await stores(client, "berlin", "munich")
    entry = await post(client, "/inventory", draft("TEE-S", ch["berlin"]))
    moved = await update(client, f"/inventory/{entry['id']}", entry,
                         {"action": "setSupplyChannel", "supplyChannel": {"typeId": "channel", "id": ch["munich"]}})

    assert (await query(client, "inventory", at("TEE-S", ch["berlin"])))["results"] == []
    assert ids(await query(client, "inventory", at("TEE-S", ch["munich"]))) == [entry["id"]]
    await post(client, "/inventory", draft("TEE-S", ch["berlin"]))  # Berlin's slot is free again
    clash = await post(client, "/inventory", draft("TEE-S", ch["munich"]), 400)
    assert clash["errors"][0]["code"] == "DuplicateField"
    assert clash["errors"][0]["conflictingResource"] == {"typeId": "inventory-entry", "id": moved["id"]}


@pytest.mark.anyio
async def test_deleted_stock_entry_is_gone_from_queries_and_can_be_created_again(client):
    ch = await stores(client, "berlin")
    entry = await post(client, "/inventory", draft("TEE-S", ch["berlin"]))
    await delete(client, f"/inventory/{entry['id']}", entry)

    assert (await query(client, "inventory", at("TEE-S", ch["berlin"])))["total"] == 0
    again = await post(client, "/inventory", draft("TEE-S", ch["berlin"], 7))
    found = await query(client, "inventory", f'sku in ("TEE-S", "TEE-M") and supplyChannel(id = "{ch["berlin"]}")')
    assert ids(found) == [again["id"]]
    assert found["results"][0]["quantityOnStock"] == 7
    clash = await post(client, "/inventory", draft("TEE-S", ch["berlin"]), 400)
    assert clash["errors"][0]["conflictingResource"]["id"] == again["id"]


@pytest.mark.anyio
async def test_a_refused_move_leaves_the_entry_where_it_was(client):
    """The move clashes with Munich's own entry: the request fails as a whole and nothing moves."""
    ch = await stores(client, "berlin", "munich")
    berlin = await post(client, "/inventory", draft("TEE-S", ch["berlin"]))
    munich = await post(client, "/inventory", draft("TEE-S", ch["munich"]))
    refused = await update(client, f"/inventory/{berlin['id']}", berlin,
                           {"action": "addQuantity", "quantity": 3},
                           {"action": "setSupplyChannel", "supplyChannel": {"typeId": "channel", "id": ch["munich"]}},
                           status=400)

    assert refused["errors"][0]["conflictingResource"]["id"] == munich["id"]
    [still] = (await query(client, "inventory", at("TEE-S", ch["berlin"])))["results"]
    assert (still["id"], still["version"], still["quantityOnStock"]) == (berlin["id"], 1, 5)
    assert ids(await query(client, "inventory", at("TEE-S", ch["munich"]))) == [munich["id"]]


@pytest.mark.anyio
async def test_the_stock_push_batch_query_sees_the_entries_that_exist_now(client):
    """A push resolves a batch of SKUs at one store in one query: a deleted entry is not among them,
    and without the store condition every store's entries come back in creation order."""
    ch = await stores(client, "berlin", "munich")
    made = [await post(client, "/inventory", draft(sku, store)) for store in ch.values() for sku in ("A", "B", "C")]
    await delete(client, f"/inventory/{made[1]['id']}", made[1])  # B at Berlin

    page = await query(client, "inventory", f'sku in ("A", "B") and supplyChannel(id = "{ch["berlin"]}")')
    assert ids(page) == [made[0]["id"]]
    everywhere = await query(client, "inventory", 'sku in ("A", "B")')
    assert ids(everywhere) == [made[0]["id"], made[3]["id"], made[4]["id"]]  # creation order, as a scan gives


# -- query pages: order, paging and totals ------------------------------------------------------
@pytest.mark.anyio
async def test_indexed_query_pages_match_a_full_scan(client):
    """`sku in (...)` uses the index; the same question asked with `or` cannot. Both answer the same
    rows, in the same order, with the same totals, page by page and sorted."""
    ch = await stores(client, "berlin", "munich", "hamburg")
    for n in range(12):
        for store in ch.values():
            await post(client, "/inventory", draft(f"SKU-{n % 4}", store, n) if n < 4 else draft(f"X-{n}", store, n))
    indexed = 'sku in ("SKU-1", "SKU-3", "X-7")'
    scanned = 'sku = "SKU-1" or sku = "SKU-3" or sku = "X-7"'
    for params in ({}, {"limit": 4}, {"limit": 4, "offset": 4}, {"sort": "quantityOnStock desc"},
                   {"sort": "id asc", "limit": 2, "offset": 1}):
        fast, slow = await query(client, "inventory", indexed, **params), await query(client, "inventory", scanned, **params)
        assert ids(fast) == ids(slow)
        assert (fast["total"], fast["count"]) == (slow["total"], slow["count"]) and slow["total"] == 9


@pytest.mark.anyio
async def test_a_stores_entries_come_from_the_channel_index_as_a_scan_gives_them(client):
    """`supplyChannel(id = ...)` uses the supply-channel index, and beside `sku in (...)` both indexes
    meet; asked with `or` inside, neither can. Same rows, order and totals, with an entry that has no
    channel and one moved between stores."""
    ch = await stores(client, "berlin", "munich")
    for n in range(6):
        for store in ch.values():
            await post(client, "/inventory", draft(f"SKU-{n}", store, n))
    await post(client, "/inventory", {"sku": "SKU-1", "quantityOnStock": 1})
    [moving] = (await query(client, "inventory", at("SKU-5", ch["berlin"])))["results"]
    [stale] = (await query(client, "inventory", at("SKU-5", ch["munich"])))["results"]
    await delete(client, f"/inventory/{stale['id']}", stale)
    await update(client, f"/inventory/{moving['id']}", moving,
                 {"action": "setSupplyChannel", "supplyChannel": {"typeId": "channel", "id": ch["munich"]}})
    munich = ch["munich"]
    for indexed, scanned, total in (
        (f'supplyChannel(id = "{munich}")', f'supplyChannel(id = "{munich}" or id = "{munich}")', 6),
        (f'sku in ("SKU-1", "SKU-5") and supplyChannel(id = "{munich}")',
         f'(sku = "SKU-1" or sku = "SKU-5") and supplyChannel(id = "{munich}" or id = "{munich}")', 2),
    ):
        for params in ({}, {"limit": 2, "offset": 1}, {"sort": "quantityOnStock desc"}):
            fast, slow = await query(client, "inventory", indexed, **params), await query(client, "inventory", scanned, **params)
            assert ids(fast) == ids(slow)
            assert (fast["total"], fast["count"]) == (slow["total"], slow["count"]) and slow["total"] == total


@pytest.mark.anyio
async def test_timestamp_like_and_quoted_values_still_compare_as_the_api_does(client):
    ch = await stores(client, "berlin")
    odd = await post(client, "/inventory", draft('TEE "S"', ch["berlin"]))
    assert ids(await query(client, "inventory", 'sku = "TEE \\"S\\""')) == [odd["id"]]
    since = (await query(client, "inventory", f'lastModifiedAt >= "{odd["createdAt"]}"'))["results"]
    assert [e["id"] for e in since] == [odd["id"]]


# -- keys ---------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_a_deleted_key_can_be_reused_once_and_then_is_held_again(client):
    channel = await post(client, "/channels", {"key": "store-berlin", "roles": ["InventorySupply"]})
    await delete(client, f"/channels/{channel['id']}", channel)
    assert (await client.get(f"{P}/channels/key=store-berlin")).status_code == 404

    again = await post(client, "/channels", {"key": "store-berlin", "roles": ["InventorySupply"]})
    clash = await post(client, "/channels", {"key": "store-berlin"}, 400)
    assert (clash["errors"][0]["code"], clash["errors"][0]["field"]) == ("DuplicateField", "key")
    assert (await client.get(f"{P}/channels/key=store-berlin")).json()["id"] == again["id"]


@pytest.mark.anyio
async def test_a_renamed_key_frees_the_old_one_and_resolves_references_by_the_new_one(client):
    channel = await post(client, "/channels", {"key": "store-berlin", "roles": ["InventorySupply"]})
    await update(client, f"/channels/{channel['id']}", channel, {"action": "changeKey", "key": "store-berlin-mitte"})

    assert (await client.get(f"{P}/channels/key=store-berlin")).status_code == 404
    assert (await client.get(f"{P}/channels/key=store-berlin-mitte")).json()["id"] == channel["id"]
    by_key = await post(client, "/inventory", {"sku": "TEE-S", "quantityOnStock": 1,
                                               "supplyChannel": {"typeId": "channel", "key": "store-berlin-mitte"}})
    assert by_key["supplyChannel"]["id"] == channel["id"]
    await post(client, "/channels", {"key": "store-berlin"})


@pytest.mark.anyio
async def test_a_resource_put_straight_into_the_store_is_found_by_key():
    """Tests seed channels with `store.put`; lookups must see them as if created over HTTP."""
    emu = CommercetoolsEmulator()
    emu.store.put("channel", {"id": "ch-1", "version": 1, "key": "store-a", "roles": ["InventorySupply"]})
    assert emu.store.find("channel", "key", "store-a")["id"] == "ch-1"
    emu.store.put("channel", {"id": "ch-1", "version": 2, "key": "store-b", "roles": ["InventorySupply"]})
    assert emu.store.find("channel", "key", "store-a") is None
    emu.store.remove("channel", "ch-1")
    assert emu.store.find("channel", "key", "store-b") is None


# -- products: SKUs across current and staged ---------------------------------------------------
@pytest.mark.anyio
async def test_a_staged_sku_change_holds_both_skus_until_published(client):
    kind = await product_type(client)
    tee = await post(client, "/products", product(kind, "tee", "TEE-S", "TEE-M"))
    staged = await update(client, f"/products/{tee['id']}", tee, {"action": "setSku", "variantId": 1, "sku": "TEE-XS"})

    for held in ("TEE-S", "TEE-XS", "TEE-M"):  # current still sells TEE-S; staged already says TEE-XS
        clash = await post(client, "/products", product(kind, f"other-{held}", held), 400)
        assert clash["errors"][0]["duplicateValue"] == held
    await update(client, f"/products/{tee['id']}", staged, {"action": "publish"})
    await post(client, "/products", product(kind, "other", "TEE-S"))  # freed by publishing


@pytest.mark.anyio
async def test_a_deleted_product_frees_its_key_and_skus(client):
    kind = await product_type(client)
    tee = await post(client, "/products", product(kind, "tee", "TEE-S", "TEE-M"))
    await delete(client, f"/products/{tee['id']}", tee)
    again = await post(client, "/products", product(kind, "tee", "TEE-M", "TEE-S"))
    clash = await post(client, "/products", product(kind, "copy", "TEE-L", "TEE-S"), 400)
    assert clash["errors"][0]["duplicateValue"] == "TEE-S"
    assert (await client.get(f"{P}/products/key=tee")).json()["id"] == again["id"]


@pytest.mark.anyio
async def test_projection_availability_follows_stock_moves(client):
    ch = await stores(client, "berlin", "munich")
    kind = await product_type(client)
    tee = await post(client, "/products", {**product(kind, "tee", "TEE-S"), "publish": True})
    entry = await post(client, "/inventory", draft("TEE-S", ch["berlin"], 3))
    await update(client, f"/inventory/{entry['id']}", entry,
                 {"action": "setSupplyChannel", "supplyChannel": {"typeId": "channel", "id": ch["munich"]}})

    projected = (await client.get(f"{P}/product-projections/key=tee")).json()
    assert projected["id"] == tee["id"]
    assert set(projected["masterVariant"]["availability"]["channels"]) == {ch["munich"]}


# -- orders and customers -----------------------------------------------------------------------
@pytest.mark.anyio
async def test_an_order_is_found_by_its_number_once_set_and_frees_it_when_deleted(client):
    await post(client, "/products", product(await product_type(client), "tee", "TEE-S"))
    line = {"name": {"en": "Tee"}, "variant": {"sku": "TEE-S"}, "quantity": 1, "price": {"value": EUR}}
    order = await post(client, "/orders/import", {"totalPrice": EUR, "lineItems": [line]})
    assert (await client.get(f"{P}/orders/order-number=POS-1")).status_code == 404
    numbered = await update(client, f"/orders/{order['id']}", order, {"action": "setOrderNumber", "orderNumber": "POS-1"})

    assert (await client.get(f"{P}/orders/order-number=POS-1")).json()["id"] == order["id"]
    clash = await post(client, "/orders/import", {"orderNumber": "POS-1", "totalPrice": EUR, "lineItems": [line]}, 400)
    assert clash["errors"][0]["field"] == "orderNumber"
    await delete(client, f"/orders/{order['id']}", numbered)
    assert (await client.get(f"{P}/orders/order-number=POS-1")).status_code == 404
    await post(client, "/orders/import", {"orderNumber": "POS-1", "totalPrice": EUR, "lineItems": [line]})


@pytest.mark.anyio
async def test_a_changed_email_frees_the_old_one_whatever_its_case(client):
    ann = (await post(client, "/customers", {"email": "ann@example.com", "customerNumber": "C-1"}))["customer"]
    await update(client, f"/customers/{ann['id']}", ann, {"action": "changeEmail", "email": "Ann.Berlin@Example.com"})

    await post(client, "/customers", {"email": "ANN@example.com"})
    email_clash = await post(client, "/customers", {"email": "ann.berlin@example.COM"}, 400)
    assert email_clash["errors"][0]["field"] == "email"
    number_clash = await post(client, "/customers", {"email": "bob@example.com", "customerNumber": "C-1"}, 400)
    assert number_clash["errors"][0]["field"] == "customerNumber"
