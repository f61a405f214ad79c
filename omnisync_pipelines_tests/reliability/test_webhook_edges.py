"""Webhook receiver edges the receiver's own tests leave out (they cover missing/wrong token,
tampered signature, oversized, malformed, replay and a stalled body).

Contract: a body that trickles in (each chunk well within any idle gap) is still cut off at the
total read deadline with 408; a Content-Length that is not a number is 400; twenty simultaneous
copies of one delivery are stored once; a system whose secret may not ride in the URL refuses a
query-string token; a signature header of the wrong scheme is 401; nothing of a refused delivery is
stored.
"""

import json
import time

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
SECRETS = {"lightspeed_x": "x-secret-123", STAND_IN: "ns-secret-456"}
SALE = {"id": "0adfd74a-153e-11e9-fa42-67b5781ba1fb", "status": "CLOSED", "version": 40512,
        "register_sale_products": [{"product_id": "p-1", "quantity": 2, "price": 17.5}]}
EVENT = {"tenant": "acme", "name": "order.opened", "published_at": "2024-05-01T10:00:01Z",
         "idempotency_key": "evt-9", "payload": {"id": "ord-9"}}


# fixtures ------------------------------------------------------------------------------------------
@pytest.fixture
def inbox(tmp_path):
    return Inbox(OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.sqlite'}"))


def scope_for(path: str, query: bytes, headers: list) -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 5000), "server": ("receiver", 80)}


# tests ---------------------------------------------------------------------------------------------
async def test_a_trickling_body_is_cut_off_at_the_total_deadline(inbox):
    app = create_webhook_app(inbox, SECRETS, body_timeout_s=0.5)
    scope = scope_for("/webhooks/lightspeed_x/sale.update", b"token=x-secret-123",
                      [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"4000")])
    sent: list[dict] = []

    async def receive():  # slowloris: one byte every 20 ms, forever
        await anyio.sleep(0.02)
        return {"type": "http.request", "body": b"x", "more_body": True}

    async def send(message):
        sent.append(message)

    started = time.monotonic()
    with anyio.fail_after(3):
        await app(scope, receive, send)
    assert sent[0]["status"] == 408 and time.monotonic() - started < 1.5
    assert inbox.pending() == []


async def test_a_content_length_that_is_not_a_number_is_400(inbox):
    app = create_webhook_app(inbox, SECRETS)
    scope = scope_for("/webhooks/lightspeed_x/sale.update", b"token=x-secret-123",
                      [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"-1")])
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"payload=%7B%7D", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["status"] == 400 and inbox.pending() == []


async def test_twenty_simultaneous_copies_of_a_delivery_are_stored_once(inbox):
    app = create_webhook_app(inbox, SECRETS)
    body = {"payload": json.dumps(SALE), "environment": "production", "domain_prefix": "acme"}
    answers = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://receiver") as client:
        async def deliver():
            answers.append((await client.post("/webhooks/lightspeed_x/sale.update?token=x-secret-123", data=body)).json())

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(deliver)
    assert sorted(a["stored"] for a in answers) == [False] * 19 + [True]
    assert len({a["event_id"] for a in answers}) == 1 and len(inbox.pending()) == 1


async def test_a_secret_that_may_not_ride_in_the_url_is_refused_there(inbox):
    app = create_webhook_app(inbox, SECRETS)
    raw = json.dumps(EVENT).encode()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://receiver") as client:
        in_url = await client.post("/webhooks/till_box?token=ns-secret-456", content=raw,
                                   headers={"content-type": "application/json"})
        wrong_scheme = await client.post("/webhooks/till_box", content=raw, headers={
            "content-type": "application/json", "X-Omnisync-Signature": sign_body("ns-secret-456", raw).replace("sha256=", "md5=")})
        signed = await client.post("/webhooks/till_box", content=raw, headers={
            "content-type": "application/json", "X-Omnisync-Signature": sign_body("ns-secret-456", raw)})
    assert (in_url.status_code, wrong_scheme.status_code, signed.status_code) == (401, 401, 200)
    assert len(inbox.pending()) == 1
