"""Every emulator injects every kind of fault, and the connectors' clients survive each one.

Contract, for commercetools and lightspeed_x alike: added latency, 5xx, 429 bursts with
Retry-After, timeouts, dropped connections, a full outage window, 409 on stale versions and a
truncated JSON body are each injected (and counted in `FaultPlan.injected`); a read under any of
them still returns every record once (retries, re-reads); a write under a dropped connection or a
409 is applied exactly once; `omnisync demo --faults RATE` maps RATE onto every rate-based kind.
"""

import asyncio
import time

import httpx
import pytest
from pydantic import SecretStr

from omnisync_pipelines.connectors.commercetools.client import build_client as build_ct
from omnisync_pipelines.connectors.commercetools.settings import CommercetoolsSettings
from omnisync_pipelines.connectors.lightspeed_x.client import build_client as build_lsx
from omnisync_pipelines.connectors.lightspeed_x.settings import LightspeedXSettings
from omnisync_pipelines.rest.retry import RetryPolicy
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
from omnisync_pipelines.sandbox.faults import FaultPlan
from omnisync_pipelines.sandbox.transport import EmulatorTransport

pytestmark = pytest.mark.anyio
BASE = "http://emulator.test"
READ_KINDS = {
    "error": {"error_rate": 1.0},
    "throttle": {"throttle_rate": 1.0},
    "timeout": {"timeout_rate": 1.0, "hang_s": 5.0},
    "drop": {"drop_rate": 1.0},
    "truncate": {"truncate_rate": 1.0},
}


# fixtures ------------------------------------------------------------------------------------------
async def no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


def ct_client(emu: CommercetoolsEmulator, calls: list):
    creds = emu.credentials(BASE)
    settings = CommercetoolsSettings(api_url=BASE, auth_url=BASE, project_key=creds["project_key"],
                                     client_id=creds["client_id"], client_secret=SecretStr(creds["client_secret"]),
                                     timeout_s=0.5)
    http = httpx.AsyncClient(transport=EmulatorTransport(emu.app), base_url=BASE, timeout=0.5)
    return build_ct(settings, http=http, call_log=calls.append, retry=RetryPolicy(max_attempts=6), sleep=no_sleep)


def lsx_client(emu: LightspeedXEmulator, calls: list):
    creds = emu.credentials(BASE)
    settings = LightspeedXSettings(domain_prefix=creds["domain_prefix"], base_url=BASE,
                                   personal_token=creds["personal_token"], timeout_s=0.5)
    return build_lsx(settings, transport=EmulatorTransport(emu.app, default_timeout_s=0.5), call_log=calls.append,
                     sleep=no_sleep)


async def ct_channels(client) -> list[str]:
    page = await client.call("GET", client.url("channels"), params={"limit": 500})
    return sorted(c["key"] for c in page["results"])


async def lsx_outlets(client) -> list[str]:
    return sorted(row["name"] for rows, _ in [x async for x in client.iter_pages("/api/2.0/outlets")] for row in rows)


def seeded_ct() -> CommercetoolsEmulator:
    emu = CommercetoolsEmulator(seed=1)
    for key in ("store-a", "store-b", "store-c"):
        emu.store.put("channel", {"id": f"id-{key}", "version": 1, "key": key, "roles": ["InventorySupply"]})
    return emu


def seeded_lsx() -> LightspeedXEmulator:
    emu = LightspeedXEmulator(seed=1)
    for name in ("Berlin", "Munich", "Hamburg"):
        emu.seed_outlet(name)
    return emu


# tests ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(READ_KINDS))
@pytest.mark.parametrize("system", ["commercetools", "lightspeed_x"])
async def test_a_read_survives_each_fault_kind(system, kind):
    emu = seeded_ct() if system == "commercetools" else seeded_lsx()
    calls: list = []
    client = ct_client(emu, calls) if system == "commercetools" else lsx_client(emu, calls)
    read = ct_channels if system == "commercetools" else lsx_outlets
    try:
        clean = await read(client)
        emu.faults.configure(FaultPlan(**READ_KINDS[kind], budget=2, retry_after_s=0.01))
        started = time.monotonic()
        assert await read(client) == clean
    finally:
        await client.aclose()
    assert emu.faults.injected == {kind: 2}
    failed = [c for c in calls if c.get("error")]
    assert len(failed) >= 2, calls  # each injected fault is an attempt the call log shows
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("system", ["commercetools", "lightspeed_x"])
async def test_a_429_burst_sends_retry_after_and_is_waited_out(system):
    emu = seeded_ct() if system == "commercetools" else seeded_lsx()
    if system == "commercetools":
        emu.throttle_status = 429
    calls: list = []
    client = ct_client(emu, calls) if system == "commercetools" else lsx_client(emu, calls)
    read = ct_channels if system == "commercetools" else lsx_outlets
    try:
        emu.faults.configure(FaultPlan(throttle_burst=3, retry_after_s=0.01))
        assert len(await read(client)) == 3
    finally:
        await client.aclose()
    throttled = [c for c in calls if c["status"] == 429]
    assert len(throttled) == 3 and emu.faults.injected == {"throttle": 3}


@pytest.mark.parametrize("system", ["commercetools", "lightspeed_x"])
async def test_an_outage_window_fails_everything_until_it_ends(system):
    emu = seeded_ct() if system == "commercetools" else seeded_lsx()
    calls: list = []
    client = ct_client(emu, calls) if system == "commercetools" else lsx_client(emu, calls)
    read = ct_channels if system == "commercetools" else lsx_outlets
    try:
        await read(client)
        emu.faults.outage(0.3)
        with pytest.raises(Exception):  # noqa: B017, PT011 - any typed API error: the run fails loudly
            await read(client)  # the client's sleeps are stubbed: its retries all land inside the window
        time.sleep(0.35)
        assert len(await read(client)) == 3
    finally:
        await client.aclose()
    assert emu.faults.injected["outage"] >= 6


async def test_a_409_on_a_stale_version_is_re_read_and_applied_once():
    emu = CommercetoolsEmulator(seed=1)
    emu.store.put("channel", {"id": "ch-1", "version": 1, "key": "store-a", "roles": ["InventorySupply"]})
    calls: list = []
    client = ct_client(emu, calls)
    try:
        await client.apply_stock_delta("SKU-1", "ch-1", 5, "k-1")
        emu.faults.configure(FaultPlan(conflict_rate=1.0, budget=2))
        result = await client.apply_stock_delta("SKU-1", "ch-1", -2, "k-2")
        again = await client.apply_stock_delta("SKU-1", "ch-1", -2, "k-2")
    finally:
        await client.aclose()
    [entry] = emu.store.all("inventory-entry")
    assert entry["quantityOnStock"] == 3  # 5 - 2, once
    assert result.status == "applied" and again.status == "already_applied"
    assert emu.faults.injected == {"conflict": 2}
    assert [c["status"] for c in calls].count(409) == 2


async def test_a_dropped_write_is_applied_exactly_once():
    emu = CommercetoolsEmulator(seed=1)
    emu.store.put("channel", {"id": "ch-1", "version": 1, "key": "store-a", "roles": ["InventorySupply"]})
    calls: list = []
    client = ct_client(emu, calls)
    try:
        await client.apply_stock_delta("SKU-1", "ch-1", 5, "k-1")
        for i in range(8):  # the drop lets the write through half the time: both halves must come out once
            emu.faults.configure(FaultPlan(drop_rate=1.0, only_writes=True, budget=1, seed=i))
            emu.faults.injected.clear()
            await client.apply_stock_delta("SKU-1", "ch-1", -1, f"k-drop-{i}")
    finally:
        await client.aclose()
    [entry] = emu.store.all("inventory-entry")
    assert entry["quantityOnStock"] == 5 - 8


async def test_latency_is_added_to_every_request():
    emu = seeded_lsx()
    client = lsx_client(emu, [])
    try:
        emu.faults.configure(FaultPlan(latency_s=0.05))
        started = time.monotonic()
        await lsx_outlets(client)
        await lsx_outlets(client)
    finally:
        await client.aclose()
    assert time.monotonic() - started >= 0.1


def test_demo_faults_rate_reaches_every_rate_based_kind_on_both_emulators():
    plan = FaultPlan.uniform(0.2, seed=1)
    rates = {k: getattr(plan, f"{k}_rate") for k in ("error", "throttle", "drop", "conflict", "truncate")}
    assert all(rate > 0 for rate in rates.values()) and sum(rates.values()) == pytest.approx(0.2)
    for emu in (CommercetoolsEmulator(), LightspeedXEmulator()):
        assert emu.faults.configure(plan).truncate_rate == plan.truncate_rate


async def test_a_till_sale_whose_answer_is_lost_is_not_sent_twice():
    """X-Series does not deduplicate register sales: a create whose connection dropped (applied or
    not) must not be resent by the client's retries; the caller looks for it by its source id."""
    from omnisync_pipelines.rest.errors import ApiTransportError

    emu = seeded_lsx()
    outlet = next(iter(emu.store.rows["outlets"].values()))
    register = emu.seed_register(outlet["id"], "Till 1")
    user = emu.seed_user("omnisync")
    client = lsx_client(emu, [])
    lost = 0
    try:
        for i in range(8):  # the drop lets the write through half the time: both halves must come out once at most
            emu.faults.configure(FaultPlan(drop_rate=1.0, only_writes=True, budget=1, seed=i))
            emu.faults.injected.clear()
            payload = {"register_id": register["id"], "user_id": user["id"], "status": "AWAITING_PICKUP",
                       "source": "omnisync", "source_id": f"order-{i}", "register_sale_products": [],
                       "register_sale_payments": []}
            try:
                await client.register_sale(payload)
            except ApiTransportError:
                lost += 1
    finally:
        await client.aclose()
    made = [s.get("source_id") for s in emu.store.rows["sales"].values()]
    assert lost == 8 and all(made.count(f"order-{i}") <= 1 for i in range(8)), made
    assert 0 < len(made) < 8  # some drops happened after the write, some before


async def statuses_under(emu: LightspeedXEmulator, plan: FaultPlan | None, reads: int = 24) -> list[int]:
    """The status of each of `reads` raw outlet reads (no client retries), under `plan` if given."""
    if plan is not None:
        emu.faults.configure(plan)
    headers = {"Authorization": f"Bearer {emu.credentials(BASE)['personal_token']}"}
    async with httpx.AsyncClient(transport=EmulatorTransport(emu.app), base_url=BASE, headers=headers) as http:
        return [(await http.get("/api/2.0/outlets")).status_code for _ in range(reads)]


async def test_the_same_seed_gives_the_same_fault_schedule_and_another_seed_another():
    """A failing property example is only worth something if its fault schedule can be replayed."""
    plan = {"error_rate": 0.3, "throttle_rate": 0.3, "retry_after_s": 0.01}
    first = await statuses_under(seeded_lsx(), FaultPlan(**plan, seed=11))
    again = await statuses_under(LightspeedXEmulator(seed=5), FaultPlan(**plan, seed=11))
    other = await statuses_under(seeded_lsx(), FaultPlan(**plan, seed=12))
    assert first == again
    assert first != other
    assert {200, 429, 503} <= set(first)  # the schedule mixes clean answers, throttles and errors


async def test_faults_paused_and_configured_back_carry_on_where_they_stopped():
    """`omnisync demo` saves each plan with `FaultPlan().configure(plan)` while the tills trade and
    configures it back: the schedule continues instead of replaying its first faults."""
    plan = {"error_rate": 0.5, "retry_after_s": 0.01}
    whole = await statuses_under(seeded_lsx(), FaultPlan(**plan, seed=3), reads=24)
    emu = seeded_lsx()
    head = await statuses_under(emu, FaultPlan(**plan, seed=3), reads=12)
    saved = FaultPlan().configure(emu.faults)
    emu.faults.clear()
    await statuses_under(emu, None, reads=5)  # the pause: no faults, the emulator's own sequence moves on
    tail = await statuses_under(emu, saved, reads=12)
    assert head + tail == whole
