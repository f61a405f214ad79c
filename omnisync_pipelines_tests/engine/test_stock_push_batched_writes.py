"""Store counts reach commercetools in batches: the stock push sends a batch's writes as one GraphQL
document per chunk (not one request per count), each write still exactly once: a count another
writer touched meanwhile is retried alone over REST, a replay sends nothing, a failed call fails only
its own chunk (retried by the next push, nothing doubled), and a commercetools without GraphQL is
written over REST."""

from __future__ import annotations

import json
import math
from collections import Counter

import pandas as pd
import pytest

from omnisync_pipelines.connectors.commercetools.client import build_client
from omnisync_pipelines.connectors.commercetools.connector import CommercetoolsConnector
from omnisync_pipelines.connectors.commercetools.settings import CommercetoolsSettings
from omnisync_pipelines.engine.stock_plan import PLAN_COLUMNS, stock_flow
from omnisync_pipelines.engine.stock_push import push_stock
from omnisync_pipelines.rest.retry import RetryPolicy
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport

pytestmark = pytest.mark.anyio
FLOW = stock_flow("lightspeed_x")
BASE = "http://ct.test"


# fixtures ------------------------------------------------------------------------------------
class Door:
    """In front of the emulator: counts requests by "METHOD resource"; `refuse(body)` decides which
    GraphQL requests it answers itself with `answer` (status, body) instead of the emulator."""

    def __init__(self, app):
        self.app, self.calls = app, Counter()
        self.answer: tuple[int, dict] | None = None
        self.refuse = lambda body: True

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        parts = scope["path"].strip("/").split("/")
        self.calls[f"{scope['method']} {'oauth' if parts[-1] == 'token' else parts[min(1, len(parts) - 1)]}"] += 1
        if not (scope["path"].endswith("/graphql") and self.answer is not None):
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if self.refuse(body):
            status, payload = self.answer
            raw = json.dumps(payload).encode()
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]})
            return await send({"type": "http.response.body", "body": raw})

        async def replay():
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    def count(self, kind: str) -> int:
        return self.calls[kind]


async def connector_for(emulator: CommercetoolsEmulator, door: Door, batch_size: int = 100) -> CommercetoolsConnector:
    creds = emulator.credentials(BASE)
    settings = CommercetoolsSettings(api_url=BASE, auth_url=BASE, project_key=creds["project_key"],
                                     client_id=creds["client_id"], client_secret=creds["client_secret"],
                                     graphql_batch_size=batch_size)
    client = build_client(settings, transport=EmulatorTransport(door), retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    for key in ("store-berlin", "store-munich"):
        await client.create("channels", {"key": key, "roles": ["InventorySupply"]})
    return CommercetoolsConnector(client, {"store-berlin": "berlin", "store-munich": "munich"})


@pytest.fixture
def emulator():
    return CommercetoolsEmulator(seed=11)


@pytest.fixture
def door(emulator):
    return Door(emulator.app)


@pytest.fixture
async def ct(emulator, door):
    connector = await connector_for(emulator, door)
    yield connector
    await connector.aclose()


def plan(rows) -> pd.DataFrame:
    """rows: (sku, location, pos_level, pos_version)"""
    return pd.DataFrame(
        [{"idempotency_key": f"{FLOW}|lightspeed_x|{sku}@{loc}|{version}", "source_system": "lightspeed_x",
          "sku": sku, "location_key": loc, "pos_level": level, "pos_version": version,
          "baseline_level": None, "expected_delta": 0, "kind": "level_change"} for sku, loc, level, version in rows],
        columns=PLAN_COLUMNS,
    )


async def on_hand(ct, sku, loc):
    state = await ct.read_stock(sku, loc)
    return None if state is None else state.quantity_on_stock


# tests ---------------------------------------------------------------------------------------
async def test_a_store_recount_of_250_skus_goes_out_in_three_graphql_calls(ct, door, ops):
    counts = [(f"SKU-{i:03d}", "berlin", i % 7 + 1, 10) for i in range(250)]
    await push_stock(plan(counts), ct, ops, pos_system="lightspeed_x")  # creates the entries
    door.calls.clear()

    recount = [(sku, loc, level + 2, 20) for sku, loc, level, _ in counts]
    stats = await push_stock(plan(recount), ct, ops, pos_system="lightspeed_x")
    assert (stats.applied, stats.failed, stats.api_writes) == (250, 0, 250)
    assert door.count("POST graphql") == math.ceil(250 / 100)
    assert door.count("POST inventory") == 0  # no single REST write
    assert door.count("GET inventory") == math.ceil(250 / 100)  # the entries, 100 SKUs per query
    assert await on_hand(ct, "SKU-006", "berlin") == 6 % 7 + 1 + 2


async def test_replaying_the_same_writes_sends_nothing(ct, door, ops):
    rows = plan([("TEE-S", "berlin", 5, 10), ("TEE-M", "munich", 3, 11)])
    await push_stock(rows, ct, ops, pos_system="lightspeed_x")
    writes = [("TEE-S", "berlin", 5, rows.iloc[0]["idempotency_key"]), ("TEE-M", "munich", 3, rows.iloc[1]["idempotency_key"])]
    door.calls.clear()

    again = await push_stock(rows, ct, ops, pos_system="lightspeed_x")  # the ledger knows
    assert (again.applied, again.api_writes) == (0, 0)
    replayed = await ct.apply_stock_deltas(writes)  # the entries' stamps know
    assert [r["status"] for r in replayed] == ["already_applied", "already_applied"]
    assert door.count("POST graphql") == 0 and door.count("POST inventory") == 0
    assert (await on_hand(ct, "TEE-S", "berlin"), await on_hand(ct, "TEE-M", "munich")) == (5, 3)


async def test_a_count_an_online_order_moved_meanwhile_is_retried_alone_and_applied_once(ct, door, ops):
    await push_stock(plan([("TEE-S", "berlin", 5, 10), ("TEE-M", "berlin", 4, 11)]), ct, ops, pos_system="lightspeed_x")
    await ct.prefetch_stock([("TEE-S", "berlin"), ("TEE-M", "berlin")])
    # between the batch read and the write, an online order takes one TEE-S
    state = await ct.read_stock("TEE-S", "berlin")
    await ct.client.update_inventory_entry(state.entry_id, state.version, [{"action": "removeQuantity", "quantity": 1}])
    door.calls.clear()

    results = await ct.apply_stock_deltas([("TEE-S", "berlin", -2, "sale-20"), ("TEE-M", "berlin", -1, "sale-21")])
    assert [r["status"] for r in results] == ["applied", "applied"]
    assert door.count("POST graphql") == 1
    assert (door.count("GET inventory"), door.count("POST inventory")) == (1, 1)  # re-read and write TEE-S alone
    assert await on_hand(ct, "TEE-S", "berlin") == 5 - 1 - 2
    assert await on_hand(ct, "TEE-M", "berlin") == 3


async def test_a_failed_call_fails_only_its_chunk_and_the_next_push_finishes_it_once(emulator, door, ops):
    ct = await connector_for(emulator, door, batch_size=2)
    try:
        rows = plan([("TEE-S", "berlin", 5, 10), ("TEE-M", "berlin", 4, 11),
                     ("CAP-1", "berlin", 2, 12), ("MUG-1", "berlin", 9, 13)])
        door.answer = (500, {"statusCode": 500, "message": "Internal Server Error",
                             "errors": [{"code": "General", "message": "Internal Server Error"}]})
        door.refuse = lambda body: b"CAP-1" in body  # every attempt at the chunk holding CAP-1
        first = await push_stock(rows, ct, ops, pos_system="lightspeed_x")
        assert (first.applied, first.failed, first.rejected) == (2, 2, 0)
        assert await on_hand(ct, "CAP-1", "berlin") is None and await on_hand(ct, "MUG-1", "berlin") is None

        door.answer = None  # commercetools is well again
        second = await push_stock(rows, ct, ops, pos_system="lightspeed_x")
        assert (second.applied, second.failed) == (2, 0)
        levels = [await on_hand(ct, sku, "berlin") for sku in ("TEE-S", "TEE-M", "CAP-1", "MUG-1")]
        assert levels == [5, 4, 2, 9]
    finally:
        await ct.aclose()


async def test_a_commercetools_without_graphql_is_written_over_rest(ct, door, ops):
    door.answer = (404, {"statusCode": 404, "message": "The endpoint was not found.",
                         "errors": [{"code": "ResourceNotFound", "message": "The endpoint was not found."}]})
    stats = await push_stock(plan([("TEE-S", "berlin", 5, 10), ("TEE-M", "munich", 3, 11)]), ct, ops, pos_system="lightspeed_x")
    assert stats.applied == 2
    stats = await push_stock(plan([("TEE-S", "berlin", 4, 20)]), ct, ops, pos_system="lightspeed_x")
    assert stats.applied == 1
    assert door.count("POST graphql") == 1  # asked once, then REST for the rest of the run
    assert door.count("POST inventory") == 3
    assert (await on_hand(ct, "TEE-S", "berlin"), await on_hand(ct, "TEE-M", "munich")) == (4, 3)


async def test_a_refused_alias_is_rejected_like_a_refused_rest_write(ct, ops):
    # someone gave MUG-1 a custom type without our field: commercetools refuses the stamp
    foreign = await ct.client.create("types", {
        "key": "erp-inventory", "name": {"en": "ERP"}, "resourceTypeIds": ["inventory-entry"],
        "fieldDefinitions": [{"name": "erpId", "type": {"name": "String"}, "required": False, "label": {"en": "ERP"},
                              "inputHint": "SingleLine"}],
    })
    await ct.client.create("inventory", {
        "sku": "MUG-1", "supplyChannel": {"typeId": "channel", "id": await ct.channel_id_for("berlin")}, "quantityOnStock": 4,
        "custom": {"type": {"typeId": "type", "id": foreign["id"]}, "fields": {"erpId": "E1"}},
    })
    stats = await push_stock(plan([("MUG-1", "berlin", 9, 30), ("TEE-S", "berlin", 5, 31)]), ct, ops, pos_system="lightspeed_x")
    assert (stats.applied, stats.rejected) == (1, 1)
    assert "InvalidField" in ops.rejected_frame("open").iloc[0]["reason"]
    assert (await on_hand(ct, "MUG-1", "berlin"), await on_hand(ct, "TEE-S", "berlin")) == (4, 5)


async def test_a_scope_refusal_for_the_whole_request_stops_the_run_instead_of_being_retried(ct, door, ops):
    from omnisync_pipelines.engine.stock_push import SystemicSyncError

    await push_stock(plan([("TEE-S", "berlin", 5, 10)]), ct, ops, pos_system="lightspeed_x")
    door.answer = (200, {"data": None, "errors": [{"message": "Insufficient scope",
                                                  "extensions": {"code": "insufficient_scope"}}]})
    with pytest.raises(SystemicSyncError):
        await push_stock(plan([("TEE-S", "berlin", 7, 20)]), ct, ops, pos_system="lightspeed_x")
    assert await on_hand(ct, "TEE-S", "berlin") == 5


async def test_a_document_refused_whole_with_an_unexpected_status_is_written_over_rest(ct, door, ops):
    await push_stock(plan([("TEE-S", "berlin", 5, 10), ("TEE-M", "berlin", 4, 11)]), ct, ops, pos_system="lightspeed_x")
    door.answer = (422, {"statusCode": 422, "message": "Unprocessable", "errors": [{"code": "General", "message": "?"}]})
    door.calls.clear()
    stats = await push_stock(plan([("TEE-S", "berlin", 7, 20), ("TEE-M", "berlin", 1, 21)]), ct, ops,
                             pos_system="lightspeed_x")
    assert (stats.applied, stats.failed, stats.rejected) == (2, 0, 0)  # none of the two was run, none is rejected
    assert door.count("POST inventory") == 2
    assert (await on_hand(ct, "TEE-S", "berlin"), await on_hand(ct, "TEE-M", "berlin")) == (7, 1)


async def test_an_error_status_that_still_carries_answers_keeps_what_ran(ct, door, ops):
    await push_stock(plan([("TEE-S", "berlin", 5, 10), ("TEE-M", "berlin", 4, 11)]), ct, ops, pos_system="lightspeed_x")
    await ct.prefetch_stock([("TEE-S", "berlin"), ("TEE-M", "berlin")])
    ran = await ct.apply_stock_deltas([("TEE-S", "berlin", 2, "count-30")])  # what w0 did before w1 was refused
    await ct.prefetch_stock([("TEE-S", "berlin"), ("TEE-M", "berlin")])
    door.answer = (400, {"data": {"w0": {"id": ran[0]["entry_id"], "version": ran[0]["version"],
                                         "quantityOnStock": ran[0]["quantity_on_stock"]}, "w1": None},
                         "errors": [{"message": "quantity must not be negative", "path": ["w1"],
                                     "extensions": {"code": "InvalidInput"}}]})
    results = await ct.apply_stock_deltas([("TEE-S", "berlin", 2, "count-31"), ("TEE-M", "berlin", -9, "count-32")])
    assert results[0]["status"] == "applied" and results[0]["quantity_on_stock"] == 7
    assert getattr(results[1], "status", None) == 400  # refused: a rejected record, not a REST retry
    assert door.count("POST inventory") == 0
