"""`LightspeedXClient` against the X-Series emulator (a black box, in process).

Contract: collections page by version cursor (`after=version.max`) until an empty page; a delta
read from a cursor returns only the rows changed since; a 429 with an HTTP-date Retry-After is
waited out and retried; the OAuth refresh token rotates; absolute inventory writes are read back
and verified; webhook subscriptions are idempotent and deliveries parse into typed events.
"""

from decimal import Decimal

import httpx
import pytest

from omnisync_pipelines.canonical.models import CatalogItem, Price
from omnisync_pipelines.connectors.lightspeed_x import drafts
from omnisync_pipelines.connectors.lightspeed_x.client import build_client
from omnisync_pipelines.connectors.lightspeed_x.settings import LightspeedXSettings
from omnisync_pipelines.connectors.lightspeed_x.webhooks import parse_webhook
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport

pytestmark = pytest.mark.anyio
BASE = "https://omnisync-sandbox.retail.lightspeed.app"

# ---------------------------------------------------------------- fixtures


@pytest.fixture
def emu():
    emulator = LightspeedXEmulator(seed=11)
    emulator.berlin = emulator.seed_outlet("Berlin", currency="EUR")
    emulator.seed_register(emulator.berlin["id"], "R1")
    return emulator


@pytest.fixture
def calls():
    return []


@pytest.fixture
def sleeps():
    return []


def make_client(emu, calls, sleeps, **settings):
    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    creds = emu.credentials(BASE)
    fields = {"personal_token": creds["personal_token"], **settings}
    return build_client(LightspeedXSettings(domain_prefix=creds["domain_prefix"], base_url=BASE, **fields),
                        transport=EmulatorTransport(emu.app), call_log=calls.append, sleep=no_sleep)


async def add_products(client, outlet_id, count, prefix="MUG"):
    ids = []
    for i in range(count):
        item = CatalogItem("commercetools", f"{prefix}-{i}", None, f"Mug {i}", "x", "{}")
        price = Price("commercetools", item.sku, "EUR", 1190 + i * 100, "x")
        details = drafts.variant_details(item, price, tax_rate=Decimal("0.19"), inventory={outlet_id: i})
        ids += await client.create_product(drafts.product_common(item), [details])
    return ids


# ---------------------------------------------------------------- tests


async def test_pages_follow_the_version_cursor(emu, calls, sleeps):
    client = make_client(emu, calls, sleeps, page_size=2)
    try:
        await add_products(client, emu.berlin["id"], 5)
        calls.clear()
        pages = [(len(rows), version) async for rows, version in client.iter_pages("products")]
        assert [n for n, _ in pages] == [2, 2, 1]
        versions = [v for _, v in pages]
        assert versions == sorted(versions) and len(set(versions)) == 3
        gets = [c["path"] for c in calls if c["path"].startswith("/api/2.0/products")]
        assert len(gets) == 4  # three pages and the empty one that ends the feed
        assert "after=0" in gets[0] and f"after={versions[0]}" in gets[1] and "page_size=2" in gets[0]
        products, last = await client.products()
        assert sorted(p["sku"] for p in products) == [f"MUG-{i}" for i in range(5)]
        # 11.90 / 1.19 and 12.90 / 1.19 (the emulator keeps 2 decimals where X-Series keeps 5)
        assert sorted(p["price_excluding_tax"] for p in products)[:2] == pytest.approx([10.0, 10.84034], abs=0.005)
        assert last == versions[-1]
    finally:
        await client.aclose()


async def test_delta_returns_only_changed_rows(emu, calls, sleeps):
    client = make_client(emu, calls, sleeps, page_size=2)
    try:
        ids = await add_products(client, emu.berlin["id"], 3)
        _, cursor = await client.products()
        assert (await client.products(cursor)).rows == []
        await client.update_product(ids[1], common={"name": "Mug one (renamed)"})
        changed, newer = await client.products(cursor)
        assert [p["id"] for p in changed] == [ids[1]] and newer > cursor
        customer = await client.create_customer({"first_name": "Ann", "email": "ann@example.com"})
        _, customers_cursor = await client.customers()
        await client.update_customer(customer["id"], {"last_name": "Lee"})
        rows, _ = await client.customers(customers_cursor)
        assert [(r["id"], r["last_name"]) for r in rows] == [(customer["id"], "Lee")]
    finally:
        await client.aclose()


async def test_429_with_http_date_retry_after_is_waited_out(emu, calls, sleeps):
    client = make_client(emu, calls, sleeps)
    try:
        emu.faults.retry_after_s = 2
        emu.faults.throttle_burst = 2
        outlets, _ = await client.outlets()
        assert [o["id"] for o in outlets] == [emu.berlin["id"]]
        assert [c["status"] for c in calls][:3] == [429, 429, 200]
        assert len(sleeps) == 2 and all(0 <= s <= 3 for s in sleeps)  # an HTTP-date has 1 s resolution
        assert emu.faults.injected["throttle"] == 2
    finally:
        await client.aclose()


async def test_budget_follows_the_registers(emu):
    settings = LightspeedXSettings(domain_prefix="acme", personal_token="t", registers=3)
    assert settings.budget == 950 and settings.api_base == "https://acme.retail.lightspeed.app"
    client = build_client(settings, transport=EmulatorTransport(emu.app))
    assert client.session.throttle.limiter.max_rate == 950
    await client.aclose()


async def test_oauth_refresh_token_rotates(emu, calls, sleeps):
    creds = emu.credentials(BASE)
    async with httpx.AsyncClient(transport=EmulatorTransport(emu.app), base_url=BASE) as http:
        response = await http.post("/api/1.0/token", data={
            "code": emu.authorize(), "client_id": creds["client_id"], "client_secret": creds["client_secret"],
            "grant_type": "authorization_code", "redirect_uri": "https://omnisync.example/callback"})
    refresh_token = response.json()["refresh_token"]
    rotated: list[str] = []
    settings = LightspeedXSettings(domain_prefix="omnisync-sandbox", base_url=BASE, client_id=creds["client_id"],
                                   client_secret=creds["client_secret"], refresh_token=refresh_token)
    client = build_client(settings, transport=EmulatorTransport(emu.app), on_refresh_token=rotated.append)
    try:
        assert len((await client.outlets()).rows) == 1
        emu.expire_tokens()
        assert len((await client.registers()).rows) == 1
        assert len(rotated) >= 1 and rotated[0] != refresh_token
    finally:
        await client.aclose()


async def test_absolute_inventory_write_is_verified(emu, calls, sleeps):
    client = make_client(emu, calls, sleeps)
    outlet = emu.berlin["id"]
    try:
        (product_id,) = await add_products(client, outlet, 1, prefix="TEE")
        written = await client.set_inventory(product_id, outlet, 7)
        assert (written.before, written.after, written.written) == (0, 7, True)
        assert (await client.set_inventory(product_id, outlet, 7)).written is False
        adjusted = await client.adjust_inventory(product_id, outlet, -2)
        assert (adjusted.before, adjusted.after) == (7, 5)
        assert await client.inventory_level(product_id, outlet) == 5
    finally:
        await client.aclose()


async def test_webhook_subscriptions_and_deliveries(emu, calls, sleeps):
    client = make_client(emu, calls, sleeps)
    url = "https://omnisync.example/webhooks/lightspeed_x/customer.update"
    try:
        hook = await client.ensure_webhook(url, "customer.update")
        assert (await client.ensure_webhook(url, "customer.update"))["id"] == hook["id"]
        assert [w["id"] for w in await client.list_webhooks()] == [hook["id"]]
        customer = await client.create_customer({"first_name": "Ann", "email": "ann@example.com"})
        await client.update_customer(customer["id"], {"last_name": "Lee"})
        received: list[httpx.Request] = []

        def capture(request: httpx.Request) -> httpx.Response:
            received.append(request)
            return httpx.Response(200)

        async with httpx.AsyncClient(transport=httpx.MockTransport(capture)) as receiver:
            await emu.deliver_webhooks(receiver)
        assert received and all(str(r.url) == url for r in received)
        assert received[0].headers["content-type"].startswith("application/x-www-form-urlencoded")
        events = [parse_webhook(r.content, event_type=r.url.path.rsplit("/", 1)[-1]) for r in received]
        assert {(e.type, e.object_id) for e in events} == {("customer.update", customer["id"])}
        await client.delete_webhook(hook["id"])
        assert await client.list_webhooks() == []
    finally:
        await client.aclose()


async def test_the_dagster_resource_builds_the_same_client(emu):
    from omnisync_pipelines.connectors.lightspeed_x.resource import LightspeedXResource

    resource = LightspeedXResource(domain_prefix="omnisync-sandbox", base_url=BASE, registers=2,
                                   personal_token=emu.credentials(BASE)["personal_token"])
    calls: list[dict] = []
    client = resource.build_client(call_log=calls.append, transport=EmulatorTransport(emu.app))
    try:
        assert client.settings.budget == 650
        assert [o["name"] for o in (await client.outlets()).rows] == ["Berlin"]
        assert calls and "sandbox-token" not in repr(calls)
    finally:
        await client.aclose()


# ---------------------------------------------------------------- auth, budget, webhook CRUD, consignments


class FakeClock:
    """The emulator's clock, moved on by the client's (injected) sleeps."""

    def __init__(self):
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_the_request_budget_answers_429_with_an_http_date_that_is_honoured(calls):
    clock = FakeClock()
    emu = LightspeedXEmulator(seed=3, rate_limit=(3, 20.0), clock=clock)
    emu.seed_outlet("Berlin")
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.now += seconds

    creds = emu.credentials(BASE)
    client = build_client(LightspeedXSettings(domain_prefix="omnisync-sandbox", base_url=BASE,
                                              personal_token=creds["personal_token"]),
                          transport=EmulatorTransport(emu.app), call_log=calls.append, sleep=sleep)
    try:
        for _ in range(2):  # 2 x (one page + the empty page that ends the feed) = 4 requests, budget 3
            assert len((await client.outlets()).rows) == 1
        statuses = [c["status"] for c in calls]
        assert statuses.count(429) == 1 and statuses[-1] == 200
        (waited,) = sleeps
        assert 18.0 <= waited <= 21.0  # the window's end, read from an RFC 1123 date (1 s resolution)
    finally:
        await client.aclose()


async def test_the_429_carries_an_rfc_1123_date_and_the_rate_headers():
    from email.utils import parsedate_to_datetime

    emu = LightspeedXEmulator(seed=3, rate_limit=(1, 300.0))
    async with httpx.AsyncClient(transport=EmulatorTransport(emu.app), base_url=BASE,
                                 headers={"authorization": "Bearer sandbox-token"}) as http:
        assert (await http.get("/api/2.0/outlets")).status_code == 200
        refused = await http.get("/api/2.0/outlets")
    assert refused.status_code == 429
    assert refused.json() == {"error": "Too Many Requests", "message": "Rate limiting enforced"}
    assert refused.headers["retry-after"].endswith(" GMT") and parsedate_to_datetime(refused.headers["retry-after"])
    assert (refused.headers["x-ratelimit-limit"], refused.headers["x-ratelimit-remaining"]) == ("1", "0")


async def test_a_wrong_personal_token_fails_loudly_without_retrying(emu, calls, sleeps):
    from omnisync_pipelines.rest.errors import Unauthorized

    client = make_client(emu, calls, sleeps, personal_token="not-the-token")
    try:
        with pytest.raises(Unauthorized) as refused:
            await client.outlets()
        assert refused.value.codes == ["Access token is not valid"]
        assert [c["status"] for c in calls] == [401] and sleeps == []
    finally:
        await client.aclose()


async def test_an_expired_oauth_token_is_refreshed_in_the_auth_flow_and_a_revoked_grant_fails(emu):
    from omnisync_pipelines.rest.errors import ApiStatusError

    creds = emu.credentials(BASE)
    async with httpx.AsyncClient(transport=EmulatorTransport(emu.app), base_url=BASE) as http:
        granted = (await http.post("/api/1.0/token", data={
            "code": emu.authorize(), "client_id": creds["client_id"], "client_secret": creds["client_secret"],
            "grant_type": "authorization_code", "redirect_uri": "https://omnisync.example/callback"})).json()
    settings = LightspeedXSettings(domain_prefix="omnisync-sandbox", base_url=BASE, client_id=creds["client_id"],
                                   client_secret=creds["client_secret"], refresh_token=granted["refresh_token"])
    client = build_client(settings, transport=EmulatorTransport(emu.app))
    auth = client.session.auth
    try:
        await client.outlets()
        emu.expire_tokens()  # the API now answers 401 {"error": "Access token is not valid"}
        await client.outlets()
        assert auth.tokens_fetched == 2  # refreshed once, inside the auth flow, and the call went through
        emu.refresh_tokens.clear()  # the retailer revoked the app
        emu.expire_tokens()
        with pytest.raises(ApiStatusError):
            await client.outlets()
    finally:
        await client.aclose()


async def test_webhook_subscriptions_can_be_read_updated_and_deleted(emu, calls, sleeps):
    from omnisync_pipelines.rest.errors import Conflict, NotFound, Unprocessable

    client = make_client(emu, calls, sleeps)
    url = "https://omnisync.example/webhooks/lightspeed_x/sale.update?token=t"
    try:
        hook = await client.create_webhook(url, "sale.update")
        assert set(hook) == {"id", "retailer_id", "url", "type", "active"} and hook["retailer_id"] == emu.retailer_id
        with pytest.raises(Conflict):
            await client.create_webhook(url, "sale.update")
        with pytest.raises(Unprocessable):
            await client.call("POST", "/api/2.0/webhooks", json={"url": url, "type": "sale.created", "active": True})
        assert (await client.call("GET", f"/api/2.0/webhooks/{hook['id']}"))["data"] == hook
        paused = await client.update_webhook(hook["id"], active=False)
        assert (paused["active"], paused["url"], paused["type"]) == (False, url, "sale.update")
        with pytest.raises(Unprocessable):  # PUT takes the whole subscription
            await client.call("PUT", f"/api/2.0/webhooks/{hook['id']}", json={"active": True})
        await client.delete_webhook(hook["id"])
        with pytest.raises(NotFound):
            await client.delete_webhook(hook["id"])
    finally:
        await client.aclose()


async def test_the_legacy_form_encoded_webhook_endpoint(emu):
    import json

    async with httpx.AsyncClient(transport=EmulatorTransport(emu.app), base_url=BASE,
                                 headers={"authorization": "Bearer sandbox-token"}) as http:
        data = {"data": json.dumps({"url": "https://omnisync.example/h", "active": True, "type": "product.update"})}
        created = await http.post("/api/webhooks", data=data)
        listed = (await http.get("/api/2.0/webhooks")).json()["data"]
    assert created.status_code == 200 and [w["id"] for w in listed] == [created.json()["id"]]


async def test_consignments_receive_transfer_and_return_stock(emu, calls, sleeps):
    from omnisync_pipelines.rest.errors import Unprocessable

    client = make_client(emu, calls, sleeps)
    berlin = emu.berlin["id"]
    hamburg = emu.seed_outlet("Hamburg")["id"]
    try:
        (mug,) = await add_products(client, berlin, 1)  # MUG-0, 0 in Berlin
        order = await client.create_consignment("SUPPLIER", berlin, name="PO-1")
        assert (order["status"], order["consignment_date"] is not None) == ("OPEN", True)
        await client.add_consignment_product(order["id"], mug, 10, cost=2.5)
        await client.set_consignment_status(order["id"], "SENT")
        await client.update_consignment_product(order["id"], mug, received=8)  # a short delivery
        assert (await client.get("consignments", order["id"]))["status"] == "DISPATCHED"
        received = await client.set_consignment_status(order["id"], "RECEIVED")
        assert received["received_at"] and await client.inventory_level(mug, berlin) == 8
        with pytest.raises(Unprocessable):  # no way back
            await client.set_consignment_status(order["id"], "SENT")

        transfer = await client.create_consignment("OUTLET", hamburg, source_outlet_id=berlin, name="T-1")
        await client.add_consignment_product(transfer["id"], mug, 3)
        await client.set_consignment_status(transfer["id"], "SENT")
        assert (await client.inventory_level(mug, berlin), await client.inventory_level(mug, hamburg)) == (5, None)
        await client.set_consignment_status(transfer["id"], "RECEIVED")
        assert await client.inventory_level(mug, hamburg) == 3

        back = await client.create_consignment("RETURN", berlin, name="RMA-1")
        await client.add_consignment_product(back["id"], mug, 2)
        await client.set_consignment_status(back["id"], "SENT")
        assert await client.inventory_level(mug, berlin) == 3
        with pytest.raises(Unprocessable):  # a supplier return ends at SENT
            await client.set_consignment_status(back["id"], "RECEIVED")
        lines = await client.consignment_products(order["id"])
        # counts as the 2.0 document types them: decimal text
        assert [(x["product_sku"], x["count"], x["received"]) for x in lines] == [("MUG-0", "10.00000", "8.00000")]
    finally:
        await client.aclose()
