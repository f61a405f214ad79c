"""The R-Series client against the emulator over HTTP: V3 cursor paging to the end, a missing record
is None, and the leaky bucket charged the documented cost before each request, so a burst of reads
waits at the drip rate instead of drawing 429s."""

from __future__ import annotations

import asyncio

import httpx

from omnisync_pipelines.connectors.lightspeed_r.client import build_client
from omnisync_pipelines.connectors.lightspeed_r.connector import LightspeedRConnector
from omnisync_pipelines.connectors.lightspeed_r.request_plan import plan_reads, request_cost
from omnisync_pipelines.connectors.lightspeed_r.settings import LightspeedRSettings
from omnisync_pipelines.sandbox.emulators.lightspeed_r import LightspeedREmulator


class Clock:
    def __init__(self):
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def client_of(emu, clock=None, call_log=None, registers: int = 1):
    settings = LightspeedRSettings(account_id=str(emu.account_id), base_url="http://r.test", client_id="sandbox-client",
                                   client_secret="sandbox-secret", refresh_token=emu.issue_tokens()["refresh_token"],
                                   registers=registers)
    timing = {"clock": clock, "sleep": clock.sleep} if clock else {}
    return build_client(settings, transport=httpx.ASGITransport(app=emu.app), call_log=call_log, **timing)


def test_a_catalog_of_250_items_is_read_in_three_pages_by_following_next():
    emu = LightspeedREmulator(seed=1, burst_limit=None)
    for n in range(250):
        emu.seed_item(f"Sock {n}", f"SOCK-{n:03d}", 4.5)
    calls = []

    async def scenario():
        client = client_of(emu, call_log=calls.append)
        pages = [len(page) async for page in client.iter_pages("Item", relations=["ItemShops"])]
        missing = await client.one("Item", 99999)
        await client.aclose()
        return pages, missing

    pages, missing = asyncio.run(scenario())
    assert pages == [100, 100, 50] and missing is None
    assert [c["status"] for c in calls] == [200, 200, 200, 404]
    assert "after=" in calls[1]["path"] and "load_relations" in calls[2]["path"]


def test_a_burst_of_reads_waits_for_the_bucket_and_never_draws_a_429():
    clock = Clock()
    emu = LightspeedREmulator(seed=2, clock=clock, burst_limit=None)
    emu.seed_item("Mug", "MUG-1", 9.0)
    calls = []

    async def scenario():
        client = client_of(emu, clock, calls.append)
        for _ in range(120):  # 120 units into a bucket of 90 draining 1 a second
            await client.one("Item", 1)
        level = client.throttle.bucket.level
        await client.aclose()
        return level

    started = clock.now
    level = asyncio.run(scenario())
    assert [c["status"] for c in calls].count(429) == 0 and len(calls) == 120
    assert clock.now - started >= 29  # the 30 units past the bucket drained at 1 a second
    assert abs(level - emu.bucket.current()) < 1.01  # the client's level follows the server's


def test_request_costs_follow_the_vendor_price_list():
    sale = {"completed": True, "SaleLines": {"SaleLine": [{"itemID": 1}, {"itemID": 2}]},
            "SalePayments": {"SalePayment": {"paymentTypeID": 1, "amount": 5}}}
    assert request_cost("GET", "Item") == 1
    assert request_cost("GET", "Item", relations=["ItemShops"]) == 1.4  # to-many, doubled on a list
    assert request_cost("GET", "Item/5", relations=["Category"]) == 1.1
    assert request_cost("POST", "Sale", body=sale) == 2 + 3 + 1.5
    assert request_cost("POST", "Sale/5/refund", body={}) == 10
    assert request_cost("GET", "Item", {"count": "1"}) == 10
    plan = plan_reads({"catalog": 250, "stock": 250}, registers=3)
    assert (plan.calls, plan.units, plan.bucket, plan.drip_per_s) == (6, 7.2, 110, 2)  # 3 Item pages, 3 more with ItemShops
    assert plan.describe().startswith("6 calls, 7.2 units, ~4 s at the drip rate")


def test_a_first_catalog_push_says_how_long_its_writes_take_at_the_drip_rate():
    """100,000 items to write on a one-register account: each `PUT Item` with its prices costs 2.5 units
    (1 + 0.5 × 3 nested), so the push takes about 250,000 s (≈ 69 h) at 1 unit/s: worth saying before it starts."""
    connector = LightspeedRConnector(client=None, location_map={}, currency_of_location={}, registers=1)
    plan = connector.plan({}, {"catalog": 100_000})
    assert (plan.calls, plan.units, plan.drip_per_s) == (100_000, 250_000.0, 1)
    assert plan.describe().startswith("100000 calls, 250000 units, ~250000 s at the drip rate")
