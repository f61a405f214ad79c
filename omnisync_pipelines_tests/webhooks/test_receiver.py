"""The webhook receiver stores each authentic delivery exactly once and refuses the rest.

Contract (in-process, SQLite inbox): a missing or wrong token/signature is 401 and stores nothing;
a replayed delivery is stored once (the second answer says `stored: false`, same event id); a body
over the limit is 413 whether declared or streamed; a malformed body is 400 naming the problem; a
body that stalls is 408 within the timeout; an X-Series form delivery is stored with its type (from
the route or the `type` field), its `payload` verbatim and an event id that is stable across
redeliveries of the same change and new for a new change; event-stream and commercetools deliveries
dedupe on their own ids; the X-Series emulator's own deliveries land in the inbox. Tokens never
reach the logs.
"""

import json
import logging

import anyio
import httpx
import pytest

from omnisync_pipelines.store.inbox import Inbox
from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines.webhooks import create_webhook_app, sign_body
from omnisync_pipelines_tests.stand_in_pos import STAND_IN, stand_in_registered


@pytest.fixture(autouse=True, scope="module")
def registered_stand_in():
    """A POS whose deliveries are an event stream (its secret in a header), and one behind a relay."""
    with stand_in_registered():
        yield

pytestmark = pytest.mark.anyio

SECRETS = {"lightspeed_x": "x-secret-123", STAND_IN: "ns-secret-456", "commercetools": "ct-secret-789"}
SALE = {"id": "0adfd74a-153e-11e9-fa42-67b5781ba1fb", "status": "CLOSED", "version": 40512,
        "register_sale_products": [{"product_id": "p-1", "quantity": 2, "price": 17.5}]}
INVENTORY = {"id": "inv-7", "product_id": "p-1", "outlet_id": "o-ber", "count": 7, "reorder_point": 2}


@pytest.fixture
def inbox(tmp_path):
    return Inbox(OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.sqlite'}"))


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://receiver")


@pytest.fixture
async def client(inbox):
    async with client_for(create_webhook_app(inbox, SECRETS, max_body_bytes=4096)) as c:
        yield c


def xseries_form(payload: dict | str, **extra) -> dict:
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    return {"payload": raw, "environment": "production", "domain_prefix": "acme", **extra}


async def test_health_and_unknown_system(client):
    assert (await client.get("/healthz")).status_code == 200
    response = await client.post("/webhooks/shopify?token=x", data=xseries_form(SALE))
    assert response.status_code == 404


async def test_missing_or_wrong_credentials_are_401_and_store_nothing(client, inbox):
    attempts = [
        client.post("/webhooks/lightspeed_x/sale.update", data=xseries_form(SALE)),
        client.post("/webhooks/lightspeed_x/sale.update?token=wrong", data=xseries_form(SALE)),
        client.post("/webhooks/lightspeed_x/sale.update", data=xseries_form(SALE), headers={"X-Omnisync-Token": "x-secret-12"}),
        client.post("/webhooks/lightspeed_x/sale.update?token=ns-secret-456", data=xseries_form(SALE)),  # another system's
        client.post("/webhooks/till_box?token=ns-secret-456", json={"name": "order.opened", "payload": {"id": "o1"}}),  # no URL tokens
        client.post("/webhooks/till_box", json={"name": "order.opened", "payload": {"id": "o1"}},
                    headers={"X-Omnisync-Signature": "sha256=" + "0" * 64}),
        client.post("/webhooks/till_relay?token=anything", json={"type": "order.placed", "id": 1}),  # no secret configured
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 401, response.text
    assert inbox.pending() == []


async def test_a_real_xseries_delivery_is_stored_with_its_type_and_payload(client, inbox):
    form = xseries_form(SALE, type="sale.update")
    response = await client.post("/webhooks/lightspeed_x?token=x-secret-123", data=form)
    assert response.status_code == 200
    assert response.json()["stored"] is True
    [row] = inbox.pending()
    assert (row["system"], row["event_type"], row["event_id"]) == ("lightspeed_x", "sale.update", response.json()["event_id"])
    assert row["payload"] == form["payload"]
    assert row["processed_at"] is None


async def test_a_replayed_delivery_is_stored_once(client, inbox):
    url = "/webhooks/lightspeed_x/sale.update?token=x-secret-123"
    first = (await client.post(url, data=xseries_form(SALE))).json()
    reordered = json.dumps(dict(reversed(list(SALE.items()))), indent=2)  # same change, re-serialized
    second = (await client.post(url, data=xseries_form(reordered))).json()
    assert first["stored"] is True and second == {"stored": False, "event_id": first["event_id"]}
    newer = (await client.post(url, data=xseries_form({**SALE, "version": SALE["version"] + 1}))).json()
    assert newer["stored"] is True and newer["event_id"] != first["event_id"]
    assert len(inbox.pending()) == 2


async def test_inventory_events_without_a_version_dedupe_on_their_content(client, inbox):
    url = "/webhooks/lightspeed_x/inventory.update"
    headers = {"X-Omnisync-Token": "x-secret-123"}
    ids = [(await client.post(url, data=xseries_form(body), headers=headers)).json()
           for body in (INVENTORY, INVENTORY, {**INVENTORY, "count": 6})]
    assert [i["stored"] for i in ids] == [True, False, True]
    assert ids[0]["event_id"] == ids[1]["event_id"] != ids[2]["event_id"]
    assert {row["event_type"] for row in inbox.pending()} == {"inventory.update"}


async def test_oversized_bodies_are_413_declared_or_streamed(client, inbox):
    big = xseries_form({**SALE, "note": "x" * 5000})
    response = await client.post("/webhooks/lightspeed_x/sale.update?token=x-secret-123", data=big)
    assert response.status_code == 413

    async def chunks():  # no Content-Length: counted while streaming
        for _ in range(10):
            yield b"payload=" + b"x" * 1000

    response = await client.post("/webhooks/lightspeed_x/sale.update?token=x-secret-123", content=chunks(),
                                 headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert inbox.pending() == []


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"data": json.dumps(SALE)}, "form field 'payload' is missing"),
        ({"payload": "{not json"}, "form field 'payload' is not valid JSON"),
        ({"payload": "[1, 2]"}, "form field 'payload' is not a JSON object"),
        ({"payload": json.dumps(SALE)}, "event type missing"),  # neither route nor `type` field
        ({"payload": json.dumps(SALE), "type": "sale update; drop"}, "event type must be"),
    ],
)
async def test_malformed_xseries_bodies_are_400_with_the_reason(client, inbox, form, message):
    response = await client.post("/webhooks/lightspeed_x?token=x-secret-123", data=form)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert inbox.pending() == []


async def test_a_stalled_body_is_408_within_the_timeout(inbox):
    app = create_webhook_app(inbox, SECRETS, body_timeout_s=0.2)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/webhooks/lightspeed_x/sale.update", "raw_path": b"/webhooks/lightspeed_x/sale.update",
        "query_string": b"token=x-secret-123", "root_path": "",
        "headers": [(b"host", b"receiver"), (b"content-type", b"application/x-www-form-urlencoded"),
                    (b"content-length", b"500")],
        "client": ("127.0.0.1", 5000), "server": ("receiver", 80),
    }
    chunks = [{"type": "http.request", "body": b"payload=%7B%22id%22", "more_body": True}]
    sent: list[dict] = []

    async def receive():
        if chunks:
            return chunks.pop(0)
        await anyio.sleep_forever()  # slowloris: the rest of the body never comes

    async def send(message):
        sent.append(message)

    with anyio.fail_after(3):
        await app(scope, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 408
    assert inbox.pending() == []


async def test_event_stream_signed_deliveries_dedupe_on_the_idempotency_key(client, inbox):
    event = {"tenant": "acme", "name": "order.opened", "published_at": "2024-05-01T10:00:01Z",
             "idempotency_key": "evt-1", "payload": {"id": "ord-1", "external_id": "POS-BER-000123"}}
    body = json.dumps(event).encode()
    headers = {"content-type": "application/json", "X-Omnisync-Signature": sign_body("ns-secret-456", body)}
    answers = [(await client.post("/webhooks/till_box", content=body, headers=headers)).json() for _ in range(2)]
    assert [a["stored"] for a in answers] == [True, False]
    tampered = body.replace(b"ord-1", b"ord-2")
    assert (await client.post("/webhooks/till_box", content=tampered, headers=headers)).status_code == 401
    [row] = inbox.pending()
    assert (row["event_type"], json.loads(row["payload"])) == ("order.opened", event)


async def test_commercetools_messages_dedupe_on_the_message_id_even_via_pubsub_push(client, inbox):
    import base64

    message = {"notificationType": "Message", "projectKey": "acme", "id": "msg-1", "type": "OrderCreated",
               "resource": {"typeId": "order", "id": "o-1"}, "sequenceNumber": 1, "resourceVersion": 1}
    url = "/webhooks/commercetools?token=ct-secret-789"
    direct = (await client.post(url, json=message)).json()
    pushed = {"message": {"data": base64.b64encode(json.dumps(message).encode()).decode(), "messageId": "99"},
              "subscription": "projects/p/subscriptions/s"}
    via_push = (await client.post(url, json=pushed)).json()
    assert direct == {"stored": True, "event_id": "msg-1"} and via_push == {"stored": False, "event_id": "msg-1"}
    assert [row["event_type"] for row in inbox.pending()] == ["OrderCreated"]


async def test_tokens_never_reach_the_logs(client, caplog):
    caplog.set_level(logging.DEBUG)
    await client.post("/webhooks/lightspeed_x/sale.update?token=x-secret-123", data=xseries_form(SALE))
    await client.post("/webhooks/lightspeed_x/sale.update?token=guessed-token-000", data=xseries_form(SALE))
    await client.post("/webhooks/lightspeed_x/sale.update", data=xseries_form(SALE), headers={"X-Omnisync-Token": "hdr-guess-111"})
    server_side = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))  # httpx = the test's client
    assert "refused: invalid token" in server_side and "stored" in server_side
    for secret in ("x-secret-123", "guessed-token-000", "hdr-guess-111"):
        assert secret not in server_side


async def test_the_xseries_emulators_own_deliveries_land_in_the_inbox(inbox):
    from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator

    emulator = LightspeedXEmulator(seed=1)
    receiver = create_webhook_app(inbox, SECRETS)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(emulator.app), base_url="https://acme.retail.lightspeed.app",
                          headers={"authorization": "Bearer sandbox-token"}) as api,
        client_for(receiver) as deliveries,
    ):
        hook = {"url": "http://receiver/webhooks/lightspeed_x?token=x-secret-123", "type": "customer.update"}
        assert (await api.post("/api/2.0/webhooks", json=hook)).status_code == 201
        created = (await api.post("/api/2.0/customers", json={"first_name": "Ada", "last_name": "L"})).json()["data"]
        assert await emulator.deliver_webhooks(deliveries) == 1
    [row] = inbox.pending()
    assert row["event_type"] == "customer.update"
    assert json.loads(row["payload"])["id"] == created["id"]
