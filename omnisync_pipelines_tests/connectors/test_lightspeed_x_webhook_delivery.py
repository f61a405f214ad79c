"""X-Series webhooks end to end: the emulator delivers, the receiver stores, the connector parses.

Contract: subscriptions made through the connector (one per type, the type in the registered URL,
our secret as `?token=`) receive form-encoded deliveries whose only promised field is `payload`
(a JSON string of the changed object in the 0.9 shapes: a product with `inventory[]` and
`price_book_entries[]`, a sale with `register_sale_products[]` and `register_sale_payments[]`, an
inventory record with `count` and the product embedded, a customer); the receiver in
`omnisync_pipelines.webhooks` stores each once with the route's type, a redelivery of the same
change is a duplicate, and the stored payload parses into the connector's typed event.
"""

import json
from decimal import Decimal

import httpx
import pytest

from omnisync_pipelines.canonical.models import CatalogItem, Price
from omnisync_pipelines.connectors.lightspeed_x import drafts
from omnisync_pipelines.connectors.lightspeed_x.client import build_client
from omnisync_pipelines.connectors.lightspeed_x.settings import LightspeedXSettings
from omnisync_pipelines.connectors.lightspeed_x.webhooks import event_from_payload
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport
from omnisync_pipelines.store.inbox import Inbox
from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines.webhooks import create_webhook_app

pytestmark = pytest.mark.anyio
BASE = "https://omnisync-sandbox.retail.lightspeed.app"
SECRET = "lsx-hook-secret"
TYPES = ("product.update", "inventory.update", "customer.update", "sale.update")

# ---------------------------------------------------------------- fixtures


@pytest.fixture
def inbox(tmp_path):
    return Inbox(OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.sqlite'}"))


@pytest.fixture
async def world(inbox):
    emu = LightspeedXEmulator(seed=5)
    emu.webhook_type_field = False  # only `payload` is promised: the type must come from the URL
    outlet = emu.seed_outlet("Berlin")
    register = emu.seed_register(outlet["id"], "R1")
    cash = emu.seed_payment_type("Cash", "1")
    tax = emu.seed_tax("VAT", 0.19)
    user = emu.seed_user("Till")
    settings = LightspeedXSettings(domain_prefix="omnisync-sandbox", base_url=BASE,
                                   personal_token=emu.credentials(BASE)["personal_token"])
    client = build_client(settings, transport=EmulatorTransport(emu.app))
    receiver = httpx.AsyncClient(transport=httpx.ASGITransport(create_webhook_app(inbox, {"lightspeed_x": SECRET})),
                                 base_url="http://receiver")
    yield {"emu": emu, "client": client, "receiver": receiver, "outlet": outlet, "register": register,
           "cash": cash, "tax": tax, "user": user}
    await receiver.aclose()
    await client.aclose()


def rows_by_type(inbox) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for row in inbox.pending():
        found.setdefault(row["event_type"], []).append(row)
    return found


# ---------------------------------------------------------------- tests


async def test_deliveries_of_every_type_land_in_the_inbox_and_parse(world, inbox):
    emu, client, outlet = world["emu"], world["client"], world["outlet"]
    for kind in TYPES:
        await client.ensure_webhook(f"http://receiver/webhooks/lightspeed_x/{kind}?token={SECRET}", kind)

    item = CatalogItem("commercetools", "MUG", None, "Mug", "x", "{}", barcode="4006381333931")
    details = drafts.variant_details(item, Price("commercetools", "MUG", "EUR", 1190, "x"), tax_rate=Decimal("0.19"),
                                     inventory={outlet["id"]: 5})
    (product_id,) = await client.create_product({**drafts.product_common(item), "tax_id": world["tax"]["id"]}, [details])
    customer = await client.create_customer({"first_name": "Ann", "email": "ann@example.com", "customer_code": "ANN-1"})
    sale = await client.register_sale({
        "register_id": world["register"]["id"], "user_id": world["user"]["id"], "status": "CLOSED",
        "customer_id": customer["id"],
        "register_sale_products": [{"product_id": product_id, "quantity": 1, "price": 10.0, "tax": 1.9,
                                    "tax_id": world["tax"]["id"]}],
        "register_sale_payments": [{"retailer_payment_type_id": world["cash"]["id"], "amount": 11.9}]})
    queued = list(emu.pending_webhooks)
    assert queued and all(set(d["data"]) == {"payload", "environment", "domain_prefix", "retailer_id"} for d in queued)

    delivered = await emu.deliver_webhooks(world["receiver"])
    assert delivered == len(queued) and emu.pending_webhooks == []
    stored = rows_by_type(inbox)
    assert set(stored) == set(TYPES)

    events = {kind: [event_from_payload(kind, row["payload"]) for row in rows] for kind, rows in stored.items()}
    (product_event,) = [e for e in events["product.update"] if e.object_id == product_id][-1:]
    assert product_event.payload["sku"] == "MUG" and product_event.payload["supply_price"] == "0.00"
    assert "price_book_entries" in product_event.payload and isinstance(product_event.payload["inventory"], list)
    levels = [e for e in events["inventory.update"] if e.product_id == product_id]
    assert levels[-1].outlet_id == outlet["id"] and levels[-1].payload["count"] == 4  # 5 written, 1 sold
    assert levels[-1].payload["product"]["sku"] == "MUG" and levels[-1].payload["product"]["attributed_cost"] is None
    assert [e.object_id for e in events["customer.update"]] == [customer["id"]]
    (sale_event,) = events["sale.update"]
    assert (sale_event.object_id, sale_event.version) == (sale["id"], sale["version"])
    assert sale_event.payload["register_sale_products"][0]["product_id"] == product_id
    assert sale_event.payload["register_sale_payments"][0]["amount"] == 11.9
    assert sale_event.payload["totals"]["total_to_pay"] == 0


async def test_a_redelivery_is_a_duplicate_and_a_new_change_is_new(world, inbox):
    emu, client = world["emu"], world["client"]
    await client.ensure_webhook(f"http://receiver/webhooks/lightspeed_x/customer.update?token={SECRET}",
                                "customer.update")
    customer = await client.create_customer({"first_name": "Ann"})
    (delivery,) = emu.pending_webhooks
    assert await emu.deliver_webhooks(world["receiver"]) == 1
    again = await world["receiver"].post(delivery["url"], data=delivery["data"])  # the API sent it twice
    assert again.status_code == 200 and again.json()["stored"] is False
    await client.update_customer(customer["id"], {"last_name": "Lee"})
    assert await emu.deliver_webhooks(world["receiver"]) == 1
    payloads = [json.loads(row["payload"]) for row in inbox.pending()]
    assert [(p["id"], p.get("last_name")) for p in payloads] == [(customer["id"], None), (customer["id"], "Lee")]


async def test_inactive_subscriptions_and_a_wrong_secret_deliver_nothing(world, inbox):
    emu, client = world["emu"], world["client"]
    hook = await client.ensure_webhook("http://receiver/webhooks/lightspeed_x/customer.update?token=wrong",
                                       "customer.update")
    await client.create_customer({"first_name": "Ann"})
    assert await emu.deliver_webhooks(world["receiver"]) == 0  # 401: stays queued for a retry
    assert inbox.pending() == [] and len(emu.pending_webhooks) == 1
    emu.pending_webhooks.clear()
    await client.update_webhook(hook["id"], active=False)
    await client.create_customer({"first_name": "Bob"})
    assert emu.pending_webhooks == []
