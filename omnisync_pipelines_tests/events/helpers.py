"""Sandbox actions the event tests share: a till sale, webhook deliveries into the inbox, reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx

from omnisync_pipelines.config import load_config
from omnisync_pipelines.demo import play_at_tills
from omnisync_pipelines.engine.fast_lane import open_fast_lane
from omnisync_pipelines.sandbox.world import Sale, SaleLine
from omnisync_pipelines.store.inbox import Inbox
from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines.webhooks import create_webhook_app

WEBHOOK_SECRET = "event-test-secret"
RECEIVER = "http://receiver"
STOCK_FLOW = "stock_lightspeed_x_to_commercetools"


def ops_of(sandbox) -> OpsStore:
    return OpsStore.from_url(sandbox.env["OMNISYNC_OPS_URL"])


def secrets_of(sandbox) -> dict:
    env = sandbox.env
    return {"commercetools": {"client_id": env["OMNISYNC_CT_CLIENT_ID"], "client_secret": env["OMNISYNC_CT_CLIENT_SECRET"]},
            "lightspeed_x": {"personal_token": env["OMNISYNC_LSX_TOKEN"]}}


async def subscribe(sandbox, *types: str) -> None:
    headers = {"authorization": f"Bearer {sandbox.env['OMNISYNC_LSX_TOKEN']}"}
    async with httpx.AsyncClient(base_url=sandbox.server.base_url("lightspeed_x"), headers=headers) as api:
        for kind in types:
            hook = {"url": f"{RECEIVER}/webhooks/lightspeed_x?token={WEBHOOK_SECRET}", "type": kind}
            response = await api.post("/api/2.0/webhooks", json=hook)
            assert response.status_code in (201, 409), response.text


async def sell(sandbox, sku: str, store: str, quantity: int) -> str:
    """A cash sale at the till; returns the POS sale id."""
    world = sandbox.world
    price = world.variant(sku).price_at(world.store(store))
    sale = Sale(f"event-test-{uuid.uuid4().hex[:8]}", datetime.now(UTC), store, (SaleLine(sku, quantity, price),),
                (("cash", price * quantity),))
    await play_at_tills([sale], sandbox.loaded, sandbox.server)
    return sandbox.loaded.sale_ids[sale.event_id]


def ct_orders_of_sale(sandbox, sale_id: str) -> list[dict]:
    """The commercetools orders imported for one POS sale (custom field posSaleId)."""
    return [o for o in sandbox.ct.store.all("order")
            if ((o.get("custom") or {}).get("fields") or {}).get("posSaleId") == sale_id]


async def deliver(sandbox) -> int:
    """The X-Series emulator's queued webhook deliveries, POSTed to an in-process receiver over our inbox."""
    receiver = create_webhook_app(Inbox(ops_of(sandbox)), {"lightspeed_x": WEBHOOK_SECRET})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(receiver), base_url=RECEIVER) as client:
        return await sandbox.pos_emulator.deliver_webhooks(client)


def pos_level(sandbox, sku: str, store: str) -> int:
    return sandbox.probe.count(sku, store)


def ct_level(sandbox, sku: str, store: str) -> int | None:
    channel = sandbox.loaded.channel_ids[store]
    for entry in sandbox.ct.store.all("inventory-entry"):
        if entry["sku"] == sku and entry.get("supplyChannel", {}).get("id") == channel:
            return int(entry["quantityOnStock"])
    return None


def fast_lane(sandbox, ops: OpsStore):
    return open_fast_lane(load_config(sandbox.env["OMNISYNC_CONFIG"]), secrets_of(sandbox), ops)


def stock_ledger(ops: OpsStore, sku: str, store: str):
    frame = ops.table_frame("ledger")
    return frame[(frame["flow"] == STOCK_FLOW) & (frame["record_ref"] == f"{sku}@{store}")]
