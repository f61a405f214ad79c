"""commercetools emulator, `POST /{projectKey}/graphql`: a store's stock entries created and moved by
aliased inventory mutations with the REST rules (versions, one entry per SKU and channel, scopes);
each alias fails or succeeds on its own, and a document that does not parse or validate is refused
whole."""

from __future__ import annotations

import json

import httpx
import pytest

from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport
from omnisync_pipelines_tests.sandbox.ct_http import P, authed, post

pytestmark = pytest.mark.anyio

CREATE = "createInventoryEntry(draft: $%s) { id version quantityOnStock custom { customFieldsRaw { name value } } }"


# fixtures ------------------------------------------------------------------------------------
@pytest.fixture
async def store_berlin():
    """(client, channel id of the Berlin store) with the stamp's custom type in place."""
    emu = CommercetoolsEmulator(seed=5)
    client = await authed(emu)
    channel = await post(client, "/channels", {"key": "store-berlin", "roles": ["InventorySupply"]})
    await post(client, "/types", {
        "key": "stamp", "name": {"en": "stamp"}, "resourceTypeIds": ["inventory-entry"],
        "fieldDefinitions": [{"name": "lastMovement", "type": {"name": "String"}, "required": False,
                              "label": {"en": "last movement"}, "inputHint": "SingleLine"}],
    })
    yield client, channel["id"], emu
    await client.aclose()


def draft(sku: str, channel_id: str, quantity: int, movement: str) -> dict:
    return {"sku": sku, "quantityOnStock": quantity, "supplyChannel": {"typeId": "channel", "id": channel_id},
            "custom": {"type": {"typeId": "type", "key": "stamp"},
                       "fields": [{"name": "lastMovement", "value": json.dumps(movement)}]}}


async def graphql(client: httpx.AsyncClient, query: str, variables: dict | None = None, status: int = 200) -> dict:
    response = await client.post(P + "/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == status, response.text
    return response.json()


# tests ---------------------------------------------------------------------------------------
async def test_a_new_store_count_is_created_with_its_stamp_and_read_back_over_rest(store_berlin):
    client, channel_id, _ = store_berlin
    body = await graphql(client, f"mutation($a: InventoryEntryDraft!) {{ a: {CREATE % 'a'} }}",
                         {"a": draft("TEE-S", channel_id, 5, "sale-1")})
    created = body["data"]["a"]
    assert (created["version"], created["quantityOnStock"]) == (1, 5)
    assert created["custom"]["customFieldsRaw"] == [{"name": "lastMovement", "value": "sale-1"}]
    rest = (await client.get(f"{P}/inventory/{created['id']}")).json()
    assert rest["custom"]["fields"] == {"lastMovement": "sale-1"} and rest["availableQuantity"] == 5


async def test_a_sale_and_its_stamp_land_in_one_versioned_update(store_berlin):
    client, channel_id, _ = store_berlin
    entry = await post(client, "/inventory", {"sku": "TEE-S", "quantityOnStock": 5,
                                              "supplyChannel": {"typeId": "channel", "id": channel_id}})
    body = await graphql(client, """mutation($id: String!, $v: Long!, $actions: [InventoryEntryUpdateAction!]!) {
        sale: updateInventoryEntry(id: $id, version: $v, actions: $actions) { version quantityOnStock } }""",
                         {"id": entry["id"], "v": 1, "actions": [
                             {"removeQuantity": {"quantity": 2}},
                             {"setCustomType": {"type": {"key": "stamp"},
                                                "fields": [{"name": "lastMovement", "value": '"sale-2"'}]}}]})
    assert body == {"data": {"sale": {"version": 2, "quantityOnStock": 3}}}
    rest = (await client.get(f"{P}/inventory/{entry['id']}")).json()
    assert rest["custom"]["fields"] == {"lastMovement": "sale-2"}


async def test_one_stale_alias_fails_alone_and_the_others_apply(store_berlin):
    client, channel_id, _ = store_berlin
    tee = await post(client, "/inventory", {"sku": "TEE-S", "quantityOnStock": 5,
                                            "supplyChannel": {"typeId": "channel", "id": channel_id}})
    mug = await post(client, "/inventory", {"sku": "MUG-1", "quantityOnStock": 9,
                                            "supplyChannel": {"typeId": "channel", "id": channel_id}})
    body = await graphql(client, f"""mutation($new: InventoryEntryDraft!) {{
        tee: updateInventoryEntry(id: "{tee['id']}", version: 7, actions: [{{addQuantity: {{quantity: 1}}}}]) {{ version }}
        mug: updateInventoryEntry(id: "{mug['id']}", version: 1, actions: [{{removeQuantity: {{quantity: 4}}}}]) {{ quantityOnStock }}
        cap: {CREATE % 'new'} }}""", {"new": draft("CAP-1", channel_id, 2, "m-3")})
    assert body["data"]["tee"] is None
    assert body["data"]["mug"] == {"quantityOnStock": 5}
    assert body["data"]["cap"]["quantityOnStock"] == 2
    [error] = body["errors"]
    assert error["path"] == ["tee"]
    assert error["extensions"] == {"code": "ConcurrentModification", "currentVersion": 1}
    assert (await client.get(f"{P}/inventory/{tee['id']}")).json()["quantityOnStock"] == 5


async def test_a_second_entry_for_the_same_sku_and_store_is_a_duplicate_field(store_berlin):
    client, channel_id, _ = store_berlin
    body = await graphql(client, f"mutation($a: InventoryEntryDraft!, $b: InventoryEntryDraft!) {{ a: {CREATE % 'a'} b: {CREATE % 'b'} }}",
                         {"a": draft("TEE-S", channel_id, 5, "m-1"), "b": draft("TEE-S", channel_id, 7, "m-2")})
    assert body["data"]["a"]["quantityOnStock"] == 5 and body["data"]["b"] is None
    [error] = body["errors"]
    assert (error["path"], error["extensions"]["code"], error["extensions"]["field"]) == (["b"], "DuplicateField", "sku")
    listed = (await client.get(f"{P}/inventory", params={"where": 'sku = "TEE-S"'})).json()
    assert listed["total"] == 1


async def test_entries_are_queried_with_the_rest_predicates(store_berlin):
    client, channel_id, _ = store_berlin
    for sku, quantity in (("TEE-S", 5), ("TEE-M", 0)):
        await post(client, "/inventory", {"sku": sku, "quantityOnStock": quantity,
                                          "supplyChannel": {"typeId": "channel", "id": channel_id}})
    body = await graphql(client, '{ inventoryEntries(where: "quantityOnStock > 0", sort: ["sku asc"]) { total results { sku } } }')
    assert body == {"data": {"inventoryEntries": {"total": 1, "results": [{"sku": "TEE-S"}]}}}
    missing = await graphql(client, '{ inventoryEntry(id: "nope") { id } }')
    assert missing == {"data": {"inventoryEntry": None}}


async def test_a_read_only_client_may_query_but_not_move_stock(store_berlin):
    _, channel_id, emu = store_berlin
    viewer = await authed(emu, scope=f"view_products:{emu.project_key}")
    try:
        body = await graphql(viewer, f"""mutation($a: InventoryEntryDraft!) {{ a: {CREATE % 'a'} }}
                             """, {"a": draft("TEE-S", channel_id, 5, "m-1")})
        assert body["data"] == {"a": None}
        assert body["errors"][0]["extensions"]["code"] == "insufficient_scope"
        assert (await graphql(viewer, "{ inventoryEntries { total } }"))["data"]["inventoryEntries"]["total"] == 0
    finally:
        await viewer.aclose()
    anonymous = httpx.AsyncClient(transport=EmulatorTransport(emu.app), base_url="http://ct.test")
    async with anonymous:
        refused = await anonymous.post(P + "/graphql", json={"query": "{ inventoryEntries { total } }"})
    assert refused.status_code == 401 and refused.json()["errors"][0]["code"] == "invalid_token"


@pytest.mark.parametrize("query", [
    "mutation { a: createInventoryEntry(draft: {sku: \"X\"}) { id ",  # does not parse
    "{ products { total } }",  # not in the (inventory) schema
    "mutation { a: updateInventoryEntry(id: \"x\", actions: []) { id } }",  # version missing
])
async def test_a_document_that_does_not_parse_or_validate_is_refused_whole(store_berlin, query):
    client, _, _ = store_berlin
    body = await graphql(client, query, status=400)
    assert "data" not in body and body["errors"][0]["message"]
    assert (await client.get(f"{P}/inventory")).json()["total"] == 0


async def test_faults_apply_to_graphql_as_to_any_request(store_berlin):
    client, _, emu = store_berlin
    emu.faults.throttle_burst = 1
    response = await client.post(P + "/graphql", json={"query": "{ inventoryEntries { total } }"})
    assert response.status_code == 503 and response.json()["errors"][0]["code"] == "OverCapacity"
