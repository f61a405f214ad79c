"""commercetools' own example payloads (../shared/vendor_api/commercetools/examples/, read at test time,
never copied here) through the connector: the client, its paging and typed errors, and the mappings
into canonical records. They are what the real API sends, written by its authors, not by us; a mapping
that only works on what our emulator makes up fails here.

Each test serves the vendor file from an httpx MockTransport under the route the connector calls, so
the payload goes the production way (token, request, paging, error typing, mapping).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from omnisync_pipelines.connectors.commercetools.client import build_client
from omnisync_pipelines.connectors.commercetools.connector import CommercetoolsConnector
from omnisync_pipelines.connectors.commercetools.errors import current_version
from omnisync_pipelines.connectors.commercetools.graphql import alias_outcomes
from omnisync_pipelines.connectors.commercetools.order_mapping import map_order
from omnisync_pipelines.connectors.commercetools.settings import CommercetoolsSettings
from omnisync_pipelines.rest.errors import BadRequest, Conflict, Unauthorized
from omnisync_pipelines.rest.retry import RetryPolicy
from omnisync_pipelines_tests.conformance.ct_vendor import EXAMPLES
from omnisync_pipelines_tests.conformance.vendor_documents import vendor_json

pytestmark = pytest.mark.anyio
BASE = "https://api.test"
PROJECT = "vendor-examples"
TOKEN = {"access_token": "vendor-token", "expires_in": 172800, "token_type": "Bearer", "scope": f"manage_project:{PROJECT}"}


def example(*path: str) -> dict:
    """A vendor example, a fresh copy per test (the parsed file is cached and shared)."""
    return copy.deepcopy(vendor_json(*EXAMPLES, *path))


def serving(routes: dict[tuple[str, str], Callable[[httpx.Request], tuple[int, dict]]]):
    """A client whose requests are answered by `routes[(method, path under the project)]`."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json=TOKEN)
        route = (request.method, request.url.path.removeprefix(f"/{PROJECT}"))
        if route not in routes:
            return httpx.Response(404, json={"statusCode": 404, "message": "not served",
                                              "errors": [{"code": "ResourceNotFound", "message": "not served"}]})
        status, body = routes[route](request)
        return httpx.Response(status, json=body)

    settings = CommercetoolsSettings(api_url=BASE, auth_url=BASE, project_key=PROJECT, client_id="c",
                                     client_secret=SecretStr("s"), graphql_writes=False)
    client = build_client(settings, transport=httpx.MockTransport(answer),
                          retry=RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.0))
    return client, seen


def page(results: list[dict]) -> Callable[[httpx.Request], tuple[int, dict]]:
    return lambda _request: (200, {"limit": 500, "offset": 0, "count": len(results), "results": results})


async def read(entity: str, routes, location_map=None):
    client, _ = serving(routes)
    try:
        return await CommercetoolsConnector(client, location_map or {}).read(entity)
    finally:
        await client.aclose()


# -- reads ------------------------------------------------------------------------------------
async def test_the_vendors_channels_become_locations():
    """Of the vendor's two channels, the one with the InventorySupply role is a location; its name is
    localized by region (`en-US`, no plain `en`), read under the connector's locale `en`."""
    channels = example("Channel", "ChannelPagedQueryResponse.json")["results"]
    supply = [c for c in channels if "InventorySupply" in c["roles"]]
    assert 0 < len(supply) < len(channels)
    result = await read("locations", {("GET", "/channels"): page(channels)}, {supply[0]["key"]: "berlin"})
    (location,) = result.tables["locations"]
    assert result.rejected == []
    assert (location.location_key, location.system_id, location.name, location.country) == (
        "berlin", supply[0]["id"], supply[0]["name"]["en-US"], supply[0]["address"]["country"])


async def test_the_vendors_inventory_entry_at_a_store_channel_is_stock_and_default_stock_is_not():
    default_stock = example("inventories.example.json")["results"][0]  # no supplyChannel: project-wide stock
    at_store = {**example("inventory.example.json"), "id": "at-store",
                "supplyChannel": {"typeId": "channel", "id": "ch-berlin"}}
    channels = [{"id": "ch-berlin", "key": "store-berlin", "roles": ["InventorySupply"], "version": 1,
                 "createdAt": at_store["createdAt"], "lastModifiedAt": at_store["lastModifiedAt"]}]
    result = await read("stock", {("GET", "/inventory"): page([default_stock, at_store]),
                                  ("GET", "/channels"): page(channels)}, {"store-berlin": "berlin"})
    (level,) = result.tables["stock"]
    assert (level.sku, level.location_key, level.on_hand, level.available, level.reserved) == (
        at_store["sku"], "berlin", at_store["quantityOnStock"], at_store["availableQuantity"], 0)
    (rejected,) = result.rejected
    assert (rejected.record_ref, rejected.field) == (default_stock["id"], "supplyChannel")


async def test_the_vendors_customers_map_with_names_email_and_time():
    raw = example("customers.example.json")["results"]
    result = await read("customers", {("GET", "/customers"): page(raw)})
    (customer,) = result.tables["customers"]
    assert (customer.customer_id, customer.email, customer.first_name, customer.last_name) == (
        raw[0]["id"], raw[0]["email"].lower(), raw[0]["firstName"], raw[0]["lastName"])
    assert customer.updated_at.isoformat().startswith(raw[0]["lastModifiedAt"][:19])


async def test_creating_a_customer_reads_the_customer_out_of_the_sign_in_result():
    answer = example("customer-sign-in-result.example.json")
    client, seen = serving({("POST", "/customers"): lambda _r: (201, answer)})
    try:
        created = await client.create_customer({"email": "johndoe@example.com"})
    finally:
        await client.aclose()
    assert created == answer["customer"] and created["id"] == "some_123_id"
    assert json.loads(seen[-1].content) == {"email": "johndoe@example.com"}


async def test_the_vendors_order_with_a_net_price_is_read_gross_with_its_tax():
    """order.example.json: one line of 10.00 net (`taxRate.includedInPrice` false, 10 %), taxed 11.00
    gross; no orderNumber (a cart order), so it is named by its id."""
    raw = example("orders.example.json")["results"]
    result = await read("orders", {("GET", "/orders"): page(raw), ("GET", "/channels"): page([])})
    assert result.rejected == []
    (order,) = result.tables["orders"]
    (line,) = result.tables["order_lines"]
    assert (order.order_id, order.order_number, order.currency, order.status, order.channel) == (
        raw[0]["id"], raw[0]["id"], "EUR", "Open", "online")
    assert (line.sku, line.quantity, line.unit_price, line.tax, line.total) == ("some-sku-123", 1, 1100, 100, 1100)


def test_the_vendors_payment_expanded_on_an_order_is_a_tender_once_its_charge_succeeded():
    order = example("order.example.json")
    payment = example("payment.example.json")
    order["paymentInfo"] = {"payments": [{"typeId": "payment", "id": payment["id"], "obj": payment}]}
    _, _, pending = map_order(order, {}, {})
    assert pending == []  # the vendor's Charge is Pending: no money taken yet
    payment["transactions"][0]["state"] = "Success"
    _, _, (tender,) = map_order(order, {}, {})
    assert (tender.method, tender.amount, tender.currency) == ("card", 1000, "USD")  # method CREDIT_CARD


async def test_the_vendors_projections_without_skus_are_rejected_per_variant():
    raw = example("product-projections.example.json")["results"]
    result = await read("catalog", {("GET", "/product-projections"): page(raw)})
    assert result.tables["catalog"] == []
    assert [(r.record_ref, r.field) for r in result.rejected] == [(p["id"], "variants[0].sku") for p in raw]


# -- errors -----------------------------------------------------------------------------------
async def test_the_vendors_error_bodies_become_the_connectors_typed_errors():
    conflict, bad = example("error.example.json"), example("Error", "ErrorResponse.json")
    client, _ = serving({("POST", "/inventory/e1"): lambda _r: (409, conflict),
                         ("POST", "/inventory"): lambda _r: (400, bad)})
    try:
        with pytest.raises(Conflict) as stale:
            await client.update("inventory", "e1", 1, [{"action": "addQuantity", "quantity": 1}])
        with pytest.raises(BadRequest) as refused:
            await client.create("inventory", {"sku": "x", "quantityOnStock": 1})
    finally:
        await client.aclose()
    assert stale.value.codes == ["ConcurrentModification"]
    assert current_version(stale.value) is None  # the vendor's example carries none: the connector re-reads
    assert refused.value.codes == ["SyntaxError", "SemanticError"]


async def test_the_vendors_invalid_token_answer_makes_the_connector_fetch_a_new_token_once():
    expired = example("Error", "AuthErrorResponse.json")
    calls = {"n": 0}

    def channels(_request):
        calls["n"] += 1
        return (401, expired) if calls["n"] == 1 else page([])(_request)

    client, seen = serving({("GET", "/channels"): channels})
    try:
        assert await client.channels() == []
    finally:
        await client.aclose()
    assert [r.url.path for r in seen].count("/oauth/token") == 2

    client, _ = serving({("GET", "/channels"): lambda _r: (401, expired)})
    try:
        with pytest.raises(Unauthorized) as refused:
            await client.channels()
    finally:
        await client.aclose()
    assert refused.value.codes == ["invalid_token"]


def test_the_vendors_graphql_error_is_the_aliass_conflict_with_its_current_version():
    error = {**example("GraphQL", "GraphQLError.json"), "path": ["w0"]}
    done, refused = alias_outcomes({"data": {"w0": None, "w1": {"id": "e2", "version": 3}}, "errors": [error]},
                                   2, f"{BASE}/{PROJECT}/graphql", "w")[::-1]
    assert done == {"id": "e2", "version": 3}
    assert isinstance(refused, Conflict) and current_version(refused) == 2
