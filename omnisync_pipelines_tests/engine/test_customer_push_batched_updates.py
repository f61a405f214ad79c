"""Loyalty cards issued at the till reach the shoppers' commercetools accounts in batches: the customer
push reads a batch's current accounts in one query and sends their updates as one GraphQL document
per chunk (no read per customer), each still exactly once: an account the shopper edited online
between that read and our write is re-read and retried alone over REST (the online edit kept, ours
applied once), a replay sends nothing, and a commercetools without GraphQL is written over REST."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from omnisync_pipelines.canonical.models import Customer
from omnisync_pipelines.connectors.commercetools.client import build_client
from omnisync_pipelines.connectors.commercetools.connector import CommercetoolsConnector
from omnisync_pipelines.connectors.commercetools.customer_target import CommercetoolsCustomers
from omnisync_pipelines.connectors.commercetools.settings import CommercetoolsSettings
from omnisync_pipelines.engine.customer_push import push_customers
from omnisync_pipelines.engine.customers import customers_flow, plan_customers
from omnisync_pipelines.rest.retry import RetryPolicy
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport
from omnisync_pipelines_tests.sandbox.ct_http import P, authed

pytestmark = pytest.mark.anyio
POS = "lightspeed_x"
FLOW = customers_flow(POS, "commercetools")
BASE = "http://ct.test"


# fixtures ------------------------------------------------------------------------------------
class Door:
    """In front of the emulator: counts requests by "METHOD resource"; `before_graphql` (async) runs
    once before the first GraphQL request goes through; `graphql_status` answers /graphql itself."""

    def __init__(self, app):
        self.app, self.calls = app, Counter()
        self.before_graphql = None
        self.graphql_status: int | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        parts = scope["path"].strip("/").split("/")
        self.calls[f"{scope['method']} {'oauth' if parts[-1] == 'token' else parts[min(1, len(parts) - 1)]}"] += 1
        if scope["path"].endswith("/graphql"):
            if self.graphql_status is not None:
                raw = b'{"statusCode": 404, "message": "Not found", "errors": [{"code": "ResourceNotFound", "message": "Not found"}]}'
                await send({"type": "http.response.start", "status": self.graphql_status,
                            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]})
                return await send({"type": "http.response.body", "body": raw})
            hook, self.before_graphql = self.before_graphql, None
            if hook is not None:
                await hook()
        return await self.app(scope, receive, send)


@pytest.fixture
def emulator():
    return CommercetoolsEmulator(seed=11)


@pytest.fixture
def door(emulator):
    return Door(emulator.app)


@pytest.fixture
async def client(emulator, door):
    creds = emulator.credentials(BASE)
    settings = CommercetoolsSettings(api_url=BASE, auth_url=BASE, project_key=creds["project_key"],
                                     client_id=creds["client_id"], client_secret=creds["client_secret"],
                                     graphql_batch_size=3)
    client = build_client(settings, transport=EmulatorTransport(door), retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    yield client
    await client.aclose()


async def shoppers_with_new_cards(client, count: int) -> tuple[list[dict], list[Customer]]:
    """`count` online shoppers, and the same people at the till, each with a new loyalty card."""
    online = [await client.create_customer({"email": f"shopper{i}@example.com", "firstName": f"Shopper{i}"})
              for i in range(count)]
    at_till = [Customer(POS, f"p{i}", f"shopper{i}@example.com", f"Shopper{i}", loyalty_id=f"LOY-{i}")
               for i in range(count)]
    return online, at_till


async def plan_from_snapshot(client, at_till: list[Customer]):
    snapshot = (await CommercetoolsConnector(client, {}).read("customers")).tables["customers"]
    return plan_customers(at_till, snapshot, pos_system=POS, links={})


async def push(plan, client, ops):
    return await push_customers(plan.for_flow(FLOW), CommercetoolsCustomers(client), ops, source_system=POS,
                                links=plan.links)


# tests ---------------------------------------------------------------------------------------
async def test_seven_new_loyalty_cards_go_out_in_three_documents_without_a_read_per_shopper(client, door, ops):
    online, at_till = await shoppers_with_new_cards(client, 7)
    plan = await plan_from_snapshot(client, at_till)
    door.calls.clear()

    stats = await push(plan, client, ops)

    assert (stats.applied, stats.failed, stats.rejected) == (7, 0, 0)
    assert door.calls["POST graphql"] == math.ceil(7 / 3)
    assert door.calls["GET customers"] == 1  # the batch's accounts in one `id in (...)` query
    assert door.calls["POST customers"] == 0
    for shopper, customer in zip(online, at_till, strict=True):
        account = await client.get_by_id("customers", shopper["id"])
        assert account["custom"]["fields"]["loyaltyId"] == customer.loyalty_id
        assert account["version"] == shopper["version"] + 1
    assert set(ops.table_frame("ledger")["status"]) == {"applied"}


async def test_an_account_edited_online_mid_push_is_retried_alone_and_keeps_the_shoppers_edit(client, door, emulator, ops):
    online, at_till = await shoppers_with_new_cards(client, 3)
    plan = await plan_from_snapshot(client, at_till)
    edited = online[1]

    async def shopper_edits_account_online():
        async with await authed(emulator) as storefront:
            current = (await storefront.get(f"{P}/customers/{edited['id']}")).json()
            response = await storefront.post(f"{P}/customers/{edited['id']}", json={
                "version": current["version"], "actions": [{"action": "setLastName", "lastName": "Online"}]})
            assert response.status_code == 200, response.text

    door.before_graphql = shopper_edits_account_online
    door.calls.clear()
    stats = await push(plan, client, ops)

    assert (stats.applied, stats.failed, stats.rejected) == (3, 0, 0)
    assert door.calls["POST graphql"] == 1
    assert door.calls["POST customers"] == 1  # only the edited account, over REST after re-reading it
    account = await client.get_by_id("customers", edited["id"])
    assert (account["lastName"], account["custom"]["fields"]["loyaltyId"]) == ("Online", "LOY-1")
    assert account["version"] == edited["version"] + 2  # the shopper's edit, then ours once
    for other in (online[0], online[2]):
        assert (await client.get_by_id("customers", other["id"]))["version"] == other["version"] + 1


async def test_a_replayed_push_sends_nothing(client, door, ops):
    _, at_till = await shoppers_with_new_cards(client, 4)
    plan = await plan_from_snapshot(client, at_till)
    await push(plan, client, ops)
    door.calls.clear()

    again = await push(plan, client, ops)

    assert (again.already_applied, again.applied) == (4, 0)
    assert sum(count for call, count in door.calls.items() if call != "POST oauth") == 0


async def test_a_commercetools_without_graphql_is_written_over_rest(client, door, ops):
    online, at_till = await shoppers_with_new_cards(client, 5)
    plan = await plan_from_snapshot(client, at_till)
    door.graphql_status = 404
    door.calls.clear()

    stats = await push(plan, client, ops)

    assert (stats.applied, stats.failed) == (5, 0)
    assert door.calls["POST customers"] == 5
    assert door.calls["GET customers"] == 1  # REST from the accounts the batch read, not a read each
    assert 1 <= door.calls["POST graphql"] <= math.ceil(5 / 3)
    for shopper, customer in zip(online, at_till, strict=True):
        assert (await client.get_by_id("customers", shopper["id"]))["custom"]["fields"]["loyaltyId"] == customer.loyalty_id
