"""Conformance: concurrent writers and throttling.

Contract: two writers that read the same inventory entry version both land, the loser of the race
getting a 409 ConcurrentModification, re-reading and retrying (both emulators). A burst of 429s
with Retry-After (our emulator's fault plan) slows the connector down by at least the time the
server asked for, and every write still lands exactly once.
"""

import asyncio
import time

import httpx
import pytest

from omnisync_pipelines.connectors.commercetools.client import build_client
from omnisync_pipelines.rest.retry import RetryPolicy
from omnisync_pipelines_tests.conformance import setup
from omnisync_pipelines_tests.conformance.conftest import settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.conformance]


async def test_two_concurrent_writers_on_one_entry_both_land(ct, uid, calls, monkeypatch):
    supply = await setup.channel(ct, f"{uid}-store")
    sku = f"{uid}-sku"
    await ct.apply_stock_delta(sku, supply["id"], 10, "m-0")

    both_read = asyncio.Barrier(2)
    first_reads = 0
    real_find = ct.find_inventory_entry

    async def find_then_meet(*args):
        nonlocal first_reads
        found = await real_find(*args)
        if first_reads < 2:  # the two writers' first reads see the same version
            first_reads += 1
            await both_read.wait()
        return found

    monkeypatch.setattr(ct, "find_inventory_entry", find_then_meet)
    # removeQuantity (not addQuantity) so the third-party emulator can run it too
    one, two = await asyncio.gather(ct.apply_stock_delta(sku, supply["id"], -2, "m-1"),
                                    ct.apply_stock_delta(sku, supply["id"], -3, "m-2"))
    assert (one.status, two.status) == ("applied", "applied")
    assert (await real_find(sku, supply["id"]))["quantityOnStock"] == 5
    assert sum(1 for c in calls if c["status"] == 409) == 1


@pytest.mark.ours_only(reason="fault injection is a knob of our emulator")
async def test_a_burst_of_429s_slows_the_connector_without_losing_writes(ct_server, ct, uid):
    if ct_server.emulator is None:
        pytest.skip("needs our emulator in this process (not an external server)")
    supply = await setup.channel(ct, f"{uid}-store")
    emulator = ct_server.emulator
    calls, slept = [], []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(seconds)

    client = build_client(settings_for(ct_server, concurrency=4), http=httpx.AsyncClient(timeout=10.0),
                          call_log=calls.append, retry=RetryPolicy(max_attempts=6, base_delay=0.01), sleep=sleep)
    await client.ensure_types()  # token and types first: the burst then meets the stock writes
    emulator.throttle_status, emulator.faults.retry_after_s, emulator.faults.throttle_burst = 429, 0.3, 4
    try:
        started = time.monotonic()
        results = await asyncio.gather(*(client.apply_stock_delta(f"{uid}-{i}", supply["id"], i + 1, f"m-{i}")
                                         for i in range(5)))
        elapsed = time.monotonic() - started
    finally:
        emulator.throttle_status, emulator.faults.throttle_burst, emulator.faults.retry_after_s = 503, 0, 1.0
        await client.aclose()

    throttled = [c for c in calls if c["status"] == 429]
    assert len(throttled) == 4 and {c['path'].split('?')[0].rsplit('/', 1)[-1] for c in throttled} <= {'inventory'}
    assert slept and all(s == pytest.approx(0.3) for s in slept)  # Retry-After honoured, not the 0.01 s backoff
    assert elapsed >= 0.3
    assert all(r.status == "applied" for r in results)
    for i in range(5):  # each write landed exactly once
        assert (await ct.find_inventory_entry(f"{uid}-{i}", supply["id"]))["quantityOnStock"] == i + 1
