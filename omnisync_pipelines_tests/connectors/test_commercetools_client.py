"""CommercetoolsClient and CommercetoolsConnector against the in-process commercetools emulator.

Contract: id-cursor paging returns every record exactly once; delta reads by lastModifiedAt see only
what changed (plus the overlap); apply_stock_delta creates, updates, recognises an applied movement
and lets concurrent writers on one entry both land (409 -> re-read -> retry); order import is
idempotent on orderNumber; throttle bursts with Retry-After slow the client but lose no write.
"""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from omnisync_pipelines.connectors.commercetools.client import CommercetoolsClient, build_client
from omnisync_pipelines.connectors.commercetools.connector import CommercetoolsConnector
from omnisync_pipelines.connectors.commercetools.settings import CommercetoolsSettings
from omnisync_pipelines.rest.retry import RetryPolicy
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport

BASE = "http://ct.test"

# ---------------------------------------------------------------- fixtures


class Clock:
    def __init__(self):
        self.now = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def emulator(clock):
    emu = CommercetoolsEmulator(seed=0)
    emu.set_clock(clock)
    return emu


@pytest.fixture
def calls():
    return []


@pytest.fixture
def sleeps():
    return []


def make_client(emu, calls, sleeps, **overrides) -> CommercetoolsClient:
    creds = emu.credentials(BASE)
    settings = CommercetoolsSettings(
        api_url=creds["api_url"], auth_url=creds["auth_url"], project_key=creds["project_key"],
        client_id=creds["client_id"], client_secret=SecretStr(creds["client_secret"]), scopes=creds.get("scopes"),
        **overrides,
    )

    async def fake_sleep(seconds):
        sleeps.append(seconds)
        await asyncio.sleep(0)

    http = httpx.AsyncClient(transport=EmulatorTransport(emu.app), base_url=BASE)
    return build_client(settings, http=http, call_log=calls.append, retry=RetryPolicy(max_attempts=6), sleep=fake_sleep)


@pytest.fixture
async def client(emulator, calls, sleeps):
    c = make_client(emulator, calls, sleeps)
    yield c
    await c.aclose()


async def make_channel(client, key, roles=("InventorySupply",)):
    return await client.create("channels", {"key": key, "roles": list(roles), "name": {"en": key}})


async def make_product(client, sku="TEE-S", channel_id=None):
    product_type = await client.create("product-types", {"key": f"pt-{sku}", "name": "tee", "description": "tee"})
    price = {"value": {"currencyCode": "EUR", "centAmount": 1999}, "country": "DE"}
    if channel_id:
        price["channel"] = {"typeId": "channel", "id": channel_id}
    return await client.create("products", {
        "key": sku.lower(), "productType": {"typeId": "product-type", "id": product_type["id"]},
        "name": {"en": "Tee"}, "slug": {"en": sku.lower()}, "publish": True,
        "masterVariant": {"sku": sku, "attributes": [{"name": "gtin", "value": "4006381333931"}], "prices": [price]},
    })


# ---------------------------------------------------------------- paging and delta


@pytest.mark.anyio
async def test_id_cursor_paging_over_several_pages(client, calls):
    channel = await make_channel(client, "store-berlin")
    for i in range(7):
        await client.create_inventory_entry(f"SKU-{i}", channel["id"], i)
    entries = [e async for e in client.iter_query("inventory", page_size=3)]
    assert sorted(e["sku"] for e in entries) == [f"SKU-{i}" for i in range(7)]
    assert len({e["id"] for e in entries}) == 7
    pages = [c for c in calls if c["method"] == "GET" and "/inventory" in c["path"]]
    assert len(pages) == 3  # 3 + 3 + 1


@pytest.mark.anyio
async def test_delta_reads_only_what_changed(emulator, client, clock):
    channel = await make_channel(client, "store-berlin")
    for i in range(4):
        await client.create_inventory_entry(f"SKU-{i}", channel["id"], 1)
    clock.now += timedelta(hours=1)
    cutoff = clock.now
    entry = await client.find_inventory_entry("SKU-2", channel["id"])
    clock.now += timedelta(minutes=5)
    await client.update_inventory_entry(entry["id"], entry["version"], [{"action": "addQuantity", "quantity": 2}])
    await client.create_inventory_entry("SKU-NEW", channel["id"], 3)
    changed = [e async for e in client.iter_modified_since("inventory", cutoff)]
    assert sorted(e["sku"] for e in changed) == ["SKU-2", "SKU-NEW"]

    connector = CommercetoolsConnector(client, {"store-berlin": "berlin"})
    full = await connector.read("stock")
    assert full.raw_count == 5 and not full.rejected
    delta = await connector.read("stock", since=cutoff.isoformat())
    assert sorted(s.sku for s in delta.tables["stock"]) == ["SKU-2", "SKU-NEW"]
    assert datetime.fromisoformat(delta.cursor) == cutoff + timedelta(minutes=5)


@pytest.mark.anyio
async def test_delta_pages_through_equal_timestamps(client):
    channel = await make_channel(client, "store-berlin")
    for i in range(5):  # the clock stands still: every entry has the same lastModifiedAt
        await client.create_inventory_entry(f"SKU-{i}", channel["id"], 1)
    since = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    changed = [e async for e in client.iter_modified_since("inventory", since, page_size=2)]
    assert sorted(e["sku"] for e in changed) == [f"SKU-{i}" for i in range(5)]


# ---------------------------------------------------------------- stock writes


@pytest.mark.anyio
async def test_apply_stock_delta_create_update_and_already_applied(client):
    channel = await make_channel(client, "store-berlin")
    created = await client.apply_stock_delta("TEE-S", channel["id"], 5, "m-1")
    assert (created.status, created.quantity_on_stock) == ("applied", 5)
    updated = await client.apply_stock_delta("TEE-S", channel["id"], -2, "m-2")
    assert (updated.status, updated.quantity_on_stock, updated.entry_id) == ("applied", 3, created.entry_id)
    again = await client.apply_stock_delta("TEE-S", channel["id"], -2, "m-2")
    assert (again.status, again.quantity_on_stock) == ("already_applied", 3)
    entry = await client.find_inventory_entry("TEE-S", channel["id"])
    assert entry["custom"]["fields"]["omnisyncLastMovement"] == "m-2"


@pytest.mark.anyio
async def test_concurrent_writers_on_one_entry_both_land(client, calls):
    channel = await make_channel(client, "store-berlin")
    await client.apply_stock_delta("TEE-S", channel["id"], 10, "m-0")
    results = await asyncio.gather(*(client.apply_stock_delta("TEE-S", channel["id"], -1, f"m-{i}") for i in range(1, 6)))
    assert all(r.status == "applied" for r in results)
    entry = await client.find_inventory_entry("TEE-S", channel["id"])
    assert entry["quantityOnStock"] == 5
    assert any(c["status"] == 409 for c in calls)  # the conflict path was exercised


@pytest.mark.anyio
async def test_concurrent_creators_of_one_entry_both_land(client):
    channel = await make_channel(client, "store-berlin")
    results = await asyncio.gather(*(client.apply_stock_delta("NEW", channel["id"], 2, f"c-{i}") for i in range(3)))
    assert {r.status for r in results} == {"applied"}
    entry = await client.find_inventory_entry("NEW", channel["id"])
    assert entry["quantityOnStock"] == 6


@pytest.mark.anyio
async def test_throttle_burst_slows_but_loses_no_write(emulator, client, sleeps, calls):
    channel = await make_channel(client, "store-berlin")
    emulator.faults.throttle_burst = 3
    emulator.faults.retry_after_s = 2
    results = await asyncio.gather(*(client.apply_stock_delta(f"SKU-{i}", channel["id"], i + 1, f"b-{i}") for i in range(4)))
    assert [r.status for r in results] == ["applied"] * 4
    assert sleeps.count(2.0) == 3
    assert sum(1 for c in calls if c["status"] in (429, 503)) == 3
    for i in range(4):
        assert (await client.find_inventory_entry(f"SKU-{i}", channel["id"]))["quantityOnStock"] == i + 1


@pytest.mark.anyio
async def test_expired_token_is_refreshed(emulator, client):
    await make_channel(client, "a")
    emulator.expire_tokens()
    assert [c["key"] for c in await client.channels()] == ["a"]


# ---------------------------------------------------------------- orders


def pos_sale(number: str, channel_id: str) -> dict:
    return {
        "orderNumber": number, "customerEmail": "ann@example.com", "orderState": "Complete",
        "paymentState": "Paid", "inventoryMode": "None", "completedAt": "2024-05-01T10:00:00.000Z",
        "totalPrice": {"currencyCode": "EUR", "centAmount": 1999},
        "custom": {"type": {"typeId": "type", "key": "omnisync-order"},
                   "fields": {"posSaleId": number, "storeKey": "berlin", "fulfilment": "in_store"}},
        "lineItems": [{"name": {"en": "Tee"}, "variant": {"sku": "TEE-S"}, "quantity": 1,
                       "price": {"value": {"currencyCode": "EUR", "centAmount": 1999}},
                       "supplyChannel": {"typeId": "channel", "id": channel_id}}],
    }


@pytest.mark.anyio
async def test_order_import_is_idempotent_and_reads_back(client, calls):
    await client.ensure_types()
    channel = await make_channel(client, "store-berlin")
    await make_product(client)
    first = await client.import_order(pos_sale("POS-BER-1", channel["id"]))
    second = await client.import_order(pos_sale("POS-BER-1", channel["id"]))
    assert (first.status, second.status) == ("applied", "already_applied")
    assert first.id == second.id
    assert (await client.get_order_by_number("POS-BER-1"))["id"] == first.id
    assert await client.get_order_by_number("nope") is None

    connector = CommercetoolsConnector(client, {"store-berlin": "berlin"}, {"berlin": "berlin"})
    result = await connector.read("orders")
    (order,) = result.tables["orders"]
    assert (order.channel, order.location_key, order.order_number, order.total_gross) == ("store", "berlin", "POS-BER-1", 1999)
    assert [line.sku for line in result.tables["order_lines"]] == ["TEE-S"]
    assert "ann@example.com" not in str(calls) and "sandbox-secret" not in str(calls)


@pytest.mark.anyio
async def test_update_order_and_payment_refund(client):
    channel = await make_channel(client, "store-berlin")
    await client.ensure_types()
    await make_product(client)
    order = (await client.import_order(pos_sale("POS-BER-2", channel["id"]))).resource
    payment = await client.create_payment(
        key="pay-POS-BER-2", currency="EUR", amount_planned=1999, method="cash",
        transactions=[{"type": "Charge", "amount": {"currencyCode": "EUR", "centAmount": 1999}, "state": "Success"}],
    )
    assert (await client.create_payment(key="pay-POS-BER-2", currency="EUR", amount_planned=1999, method="cash")).status == "already_applied"
    refunded = await client.add_refund(payment.id, "EUR", 500, "R-1")
    again = await client.add_refund(payment.id, "EUR", 500, "R-1")
    assert [t["type"] for t in again["transactions"]] == ["Charge", "Refund"] and again["version"] == refunded["version"]
    updated = await client.update_order(order["id"], order["version"], [
        {"action": "addPayment", "payment": {"typeId": "payment", "id": payment.id}}])
    stale = await client.update_order(order["id"], order["version"], [
        {"action": "changeShipmentState", "shipmentState": "Delivered"}])  # 409 -> re-read -> applied
    assert stale["version"] > updated["version"] and stale["shipmentState"] == "Delivered"


# ---------------------------------------------------------------- customers and locations


@pytest.mark.anyio
async def test_customers_find_create_update_and_read(client):
    created = await client.create_customer({"email": "ann@example.com", "password": "pw-123456", "key": "pos-42",
                                            "externalId": "LS-42", "firstName": "Ann"})
    assert (await client.find_customer_by_email("Ann@Example.com"))["id"] == created["id"]
    assert (await client.get_customer_by_key("pos-42"))["id"] == created["id"]
    assert (await client.find_customer_by_external_id("LS-42"))["id"] == created["id"]
    updated = await client.update_customer(created["id"], {"lastName": "Lee", "firstName": "Ann"})
    assert updated["lastName"] == "Lee" and updated["version"] == created["version"] + 1
    result = await CommercetoolsConnector(client, {}).read("customers")
    assert [(c.email, c.last_name) for c in result.tables["customers"]] == [("ann@example.com", "Lee")]


@pytest.mark.anyio
async def test_locations_and_unmapped_stock(client):
    berlin = await make_channel(client, "store-berlin")
    other = await make_channel(client, "store-hamburg")
    await make_channel(client, "web", roles=("ProductDistribution",))
    await client.create_inventory_entry("A", berlin["id"], 1)
    await client.create_inventory_entry("A", other["id"], 1)
    connector = CommercetoolsConnector(client, {"store-berlin": "berlin"})
    locations = (await connector.read("locations")).tables["locations"]
    assert sorted((loc.system_id, loc.location_key) for loc in locations) == sorted([(berlin["id"], "berlin"), (other["id"], None)])
    stock = await connector.read("stock")
    assert [s.location_key for s in stock.tables["stock"]] == ["berlin"]
    assert [(r.field, r.entity) for r in stock.rejected] == [("supplyChannel", "stock")]
    assert (await connector.apply_stock_delta("A", "berlin", 2, "k-1"))["quantity_on_stock"] == 3
    state = await connector.read_stock("A", "berlin")
    assert (state.quantity_on_stock, state.last_movement) == (3, "k-1")


@pytest.mark.anyio
async def test_ensure_types_is_idempotent(client, emulator, calls, sleeps):
    first = await client.ensure_types()
    other = make_client(emulator, calls, sleeps)
    assert await other.ensure_types() == first
    assert set(first) == {"omnisync-inventory", "omnisync-order"}
    await other.aclose()


@pytest.mark.anyio
async def test_catalog_and_prices_from_published_projections(client):
    channel = await make_channel(client, "store-berlin")
    await make_product(client, "TEE-S", channel["id"])
    connector = CommercetoolsConnector(client, {"store-berlin": "berlin"})
    catalog = await connector.read("catalog")
    assert [(c.sku, c.barcode, c.name) for c in catalog.tables["catalog"]] == [("TEE-S", "4006381333931", "Tee")]
    prices = await connector.read("prices")
    assert [(p.sku, p.amount, p.location_key) for p in prices.tables["prices"]] == [("TEE-S", 1999, "berlin")]
    assert catalog.cursor is not None


class LostAnswer(httpx.AsyncBaseTransport):
    """Forwards to the emulator, but answers the first order import with a 502 after it was applied."""

    def __init__(self, inner):
        self.inner = inner
        self.lost = 0

    async def handle_async_request(self, request):
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith("/orders/import") and not self.lost:
            self.lost += 1
            return httpx.Response(502, json={"statusCode": 502, "message": "Bad gateway"})
        return response


@pytest.mark.anyio
@pytest.mark.parametrize("max_attempts", [1, 3])
async def test_order_import_after_a_lost_answer_is_already_applied(emulator, max_attempts):
    creds = emulator.credentials(BASE)
    settings = CommercetoolsSettings(
        api_url=BASE, auth_url=BASE, project_key=creds["project_key"], client_id=creds["client_id"],
        client_secret=SecretStr(creds["client_secret"]),
    )
    transport = LostAnswer(EmulatorTransport(emulator.app))

    async def no_sleep(_):
        return None

    client = build_client(settings, transport=transport, retry=RetryPolicy(max_attempts=max_attempts), sleep=no_sleep)
    await client.ensure_types()
    channel = await make_channel(client, "store-berlin")
    await make_product(client)
    result = await client.import_order(pos_sale("POS-BER-9", channel["id"]))
    assert result.status == "already_applied" and transport.lost == 1
    orders = await client.query("orders")
    assert [o["orderNumber"] for o in orders] == ["POS-BER-9"]
    await client.aclose()
