"""commercetools emulator, `POST /{projectKey}/graphql` `updateCustomer`: a shopper's account updated by
aliased mutations with the REST rules: each action input carries one field (`{"setFirstName":
{"firstName": "Ann"}}`), custom field values travel as JSON text, the version is checked per alias
(a stale one fails alone with ConcurrentModification and `currentVersion`, the others apply), email
stays unique, and updating needs `manage_customers`."""

from __future__ import annotations

import json

import httpx
import pytest

from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines_tests.sandbox.ct_http import P, authed, post

pytestmark = pytest.mark.anyio

FIELDS = "id version email firstName lastName custom { customFieldsRaw { name value } }"
UPDATE = "%s: updateCustomer(id: $%sId, version: $%sVersion, actions: $%sActions) { " + FIELDS + " }"


# fixtures ------------------------------------------------------------------------------------
@pytest.fixture
async def shop():
    """(client, emulator) with a loyalty custom type for customers in place."""
    emu = CommercetoolsEmulator(seed=9)
    client = await authed(emu)
    await post(client, "/types", {
        "key": "loyalty", "name": {"en": "loyalty"}, "resourceTypeIds": ["customer"],
        "fieldDefinitions": [{"name": "loyaltyId", "type": {"name": "String"}, "required": False,
                              "label": {"en": "loyalty id"}, "inputHint": "SingleLine"}],
    })
    yield client, emu
    await client.aclose()


async def shopper(client: httpx.AsyncClient, email: str, first: str) -> dict:
    return (await post(client, "/customers", {"email": email, "firstName": first, "password": "x"}))["customer"]


def document(aliases: list[str]) -> str:
    declarations = ", ".join(f"${a}Id: String!, ${a}Version: Long!, ${a}Actions: [CustomerUpdateAction!]!"
                             for a in aliases)
    return f"mutation Shoppers({declarations}) {{ " + " ".join(UPDATE % (a, a, a, a) for a in aliases) + " }"


def variables(alias: str, customer: dict, actions: list[dict], version: int | None = None) -> dict:
    return {f"{alias}Id": customer["id"], f"{alias}Version": customer["version"] if version is None else version,
            f"{alias}Actions": actions}


async def graphql(client: httpx.AsyncClient, query: str, values: dict, status: int = 200) -> dict:
    response = await client.post(P + "/graphql", json={"query": query, "variables": values})
    assert response.status_code == status, response.text
    return response.json()


# tests ---------------------------------------------------------------------------------------
async def test_a_loyalty_card_and_a_new_name_land_in_one_mutation_and_read_back_over_rest(shop):
    client, _ = shop
    anna = await shopper(client, "anna@example.com", "Anna")
    body = await graphql(client, document(["c0"]), variables("c0", anna, [
        {"setFirstName": {"firstName": "Annika"}},
        {"setCustomType": {"typeKey": "loyalty", "fields": [{"name": "loyaltyId", "value": json.dumps("LOY-7")}]}},
    ]))
    assert "errors" not in body
    updated = body["data"]["c0"]
    assert (updated["firstName"], updated["version"]) == ("Annika", anna["version"] + 1)
    assert updated["custom"]["customFieldsRaw"] == [{"name": "loyaltyId", "value": "LOY-7"}]
    rest = (await client.get(f"{P}/customers/{anna['id']}")).json()
    assert (rest["firstName"], rest["custom"]["fields"], rest["version"]) == ("Annika", {"loyaltyId": "LOY-7"}, updated["version"])

    cleared = await graphql(client, document(["c0"]), variables("c0", rest, [
        {"setCustomField": {"name": "loyaltyId"}}, {"setLastName": {"lastName": "Berg"}}]))
    assert cleared["data"]["c0"]["custom"]["customFieldsRaw"] == []
    assert cleared["data"]["c0"]["lastName"] == "Berg"


async def test_a_stale_version_fails_only_its_own_alias(shop):
    client, _ = shop
    anna = await shopper(client, "anna@example.com", "Anna")
    ben = await shopper(client, "ben@example.com", "Ben")
    online_edit = await post(client, f"/customers/{ben['id']}", {
        "version": ben["version"], "actions": [{"action": "setLastName", "lastName": "Online"}]}, status=200)

    body = await graphql(client, document(["c0", "c1"]), {
        **variables("c0", anna, [{"setFirstName": {"firstName": "Annika"}}]),
        **variables("c1", ben, [{"setFirstName": {"firstName": "Benedikt"}}]),  # the version before the edit
    })
    assert body["data"]["c0"]["firstName"] == "Annika"
    assert body["data"]["c1"] is None
    (error,) = body["errors"]
    assert error["path"] == ["c1"]
    assert error["extensions"]["code"] == "ConcurrentModification"
    assert error["extensions"]["currentVersion"] == online_edit["version"]
    untouched = (await client.get(f"{P}/customers/{ben['id']}")).json()
    assert (untouched["firstName"], untouched["lastName"]) == ("Ben", "Online")


async def test_an_email_taken_by_another_shopper_is_refused_as_over_rest(shop):
    client, _ = shop
    await shopper(client, "anna@example.com", "Anna")
    ben = await shopper(client, "ben@example.com", "Ben")
    body = await graphql(client, document(["c0"]), variables("c0", ben, [{"changeEmail": {"email": "ANNA@example.com"}}]))
    assert body["data"]["c0"] is None
    assert body["errors"][0]["extensions"]["code"] == "DuplicateField"
    assert body["errors"][0]["extensions"]["field"] == "email"


async def test_an_action_input_must_name_exactly_one_action(shop):
    client, _ = shop
    anna = await shopper(client, "anna@example.com", "Anna")
    body = await graphql(client, document(["c0"]), variables("c0", anna, [
        {"setFirstName": {"firstName": "A"}, "setLastName": {"lastName": "B"}}]))
    assert body["errors"][0]["extensions"]["code"] == "InvalidInput"
    assert (await client.get(f"{P}/customers/{anna['id']}")).json()["version"] == anna["version"]


async def test_updating_a_customer_needs_manage_customers(shop):
    client, emu = shop
    anna = await shopper(client, "anna@example.com", "Anna")
    viewer = await authed(emu, scope=f"view_customers:{emu.project_key}")
    try:
        body = await graphql(viewer, document(["c0"]), variables("c0", anna, [{"setFirstName": {"firstName": "X"}}]))
    finally:
        await viewer.aclose()
    assert body["data"]["c0"] is None
    assert body["errors"][0]["extensions"]["code"] == "insufficient_scope"
    assert (await client.get(f"{P}/customers/{anna['id']}")).json()["firstName"] == "Anna"


async def test_a_field_outside_the_customer_slice_fails_validation_whole(shop):
    client, _ = shop
    anna = await shopper(client, "anna@example.com", "Anna")
    body = await graphql(client, document(["c0"]), variables("c0", anna, [{"addAddress": {"address": {"country": "DE"}}}]),
                         status=400)
    assert body["errors"]
    assert (await client.get(f"{P}/customers/{anna['id']}")).json()["version"] == anna["version"]
