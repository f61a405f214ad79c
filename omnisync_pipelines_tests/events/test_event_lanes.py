"""Both event lanes against the sandbox over sockets, with real webhook deliveries and real runs.

Contract: a store sale's webhook lands in the inbox; the fast lane applies its stock movement to
commercetools once (a second pass over the same events applies nothing), under the same ledger
key the Dagster push uses, so the delta_sync that follows writes nothing more for it and
commercetools holds the POS count (no double decrement). The sensor lane turns the next sale's
events into one event_sync run (run key per inbox batch) narrowed to the sold SKU; the next tick
requests nothing; the same batch is never requested again, even with the cursor lost.
Latency (webhook delivered -> commercetools updated) is printed for both lanes.
"""

import time

import dagster as dg
import pytest

from omnisync_pipelines.defs.events import event_sync, inbox_sensor
from omnisync_pipelines.defs.resources import OmnisyncResource
from omnisync_pipelines.defs.targets import EVENT_BATCH_TAG, POS_PRODUCTS_TAG
from omnisync_pipelines.engine.fast_lane import drain_inbox
from omnisync_pipelines.runs import QUIET, load_definitions, run_job
from omnisync_pipelines.store.inbox import Inbox
from omnisync_pipelines_tests.events.helpers import (
    ct_level,
    deliver,
    fast_lane,
    ops_of,
    pos_level,
    sell,
    stock_ledger,
    subscribe,
)

pytestmark = pytest.mark.only_pos("lightspeed_x", reason="subscribes to X-Series webhooks and delivers them from "
                                  "the emulator's queue")


# fixtures -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synced(sandbox, instance):
    outcome = run_job("full_sync", instance=instance)
    assert outcome.success, outcome.summary()
    sandbox.server.run(subscribe(sandbox, "sale.update", "inventory.update"))
    return sandbox


def omnisync_resource(sandbox) -> OmnisyncResource:
    env = sandbox.env
    return OmnisyncResource(config_path=env["OMNISYNC_CONFIG"], ops_url=env["OMNISYNC_OPS_URL"],
                            duckdb_path=env["OMNISYNC_DUCKDB_PATH"])


def tick(instance, sandbox, cursor):
    # exited: a context left open keeps the instance it opened from its ref current for Dagster
    with dg.build_sensor_context(instance=instance, cursor=cursor,
                                 resources={"omnisync": omnisync_resource(sandbox)}) as context:
        return inbox_sensor(context), context


# tests --------------------------------------------------------------------------------------------
def test_fast_lane_applies_a_sale_once_and_delta_sync_applies_nothing_more(synced, instance):
    sandbox, ops = synced, ops_of(synced)
    sku, store = sandbox.world.variants[0].sku, "berlin" if "berlin" in sandbox.loaded.store_pos else sandbox.world.stores[0].key
    before = pos_level(sandbox, sku, store)
    assert ct_level(sandbox, sku, store) == before
    sandbox.server.run(sell(sandbox, sku, store, 2))
    assert pos_level(sandbox, sku, store) == before - 2

    async def lane_pass():
        delivered_at = time.perf_counter()
        assert await deliver(sandbox) >= 1
        async with fast_lane(sandbox, ops) as lane:
            first = await drain_inbox(lane, Inbox(ops))
            applied_at = time.perf_counter()
            events = Inbox(ops).after(0, limit=10_000)
            again = await lane.apply_events(events)  # the same events once more: nothing to do
        return first, again, applied_at - delivered_at

    first, again, latency = sandbox.server.run(lane_pass())
    print(f"\nfast lane: webhook delivered -> commercetools updated in {latency * 1000:.0f} ms ({first.summary()})")
    assert first.stats is not None and first.stats.applied == 1, first.summary()
    assert again.planned == 0 and again.stats is None
    assert ct_level(sandbox, sku, store) == before - 2
    ledger = stock_ledger(ops, sku, store)
    key = ops.baseline("lightspeed_x", sku, store)["last_key"]
    assert ledger.set_index("idempotency_key").loc[key, "status"] == "applied"
    assert Inbox(ops).pending() == [] or all(e["system"] != "lightspeed_x" for e in Inbox(ops).pending())

    rows_before = len(ops.table_frame("ledger"))
    outcome = run_job("delta_sync", instance=instance)
    assert outcome.success, outcome.summary()
    assert ct_level(sandbox, sku, store) == before - 2  # not decremented twice
    after = stock_ledger(ops, sku, store)
    assert len(after) == len(ledger) and set(after["status"]) == {"applied"}
    new_rows = ops.table_frame("ledger").iloc[rows_before:]
    assert not (new_rows["flow"] == "stock_lightspeed_x_to_commercetools").any(), new_rows.to_string()


def test_inbox_sensor_requests_one_targeted_run_per_batch_and_never_twice(synced, instance, monkeypatch):
    sandbox, ops = synced, ops_of(synced)
    monkeypatch.setenv("OMNISYNC_INBOX_SETTLE_S", "0")
    inbox = Inbox(ops)
    cursor = str(inbox.last_id())
    sku, store = sandbox.world.variants[1].sku, sandbox.world.stores[0].key
    before = pos_level(sandbox, sku, store)
    sandbox.server.run(sell(sandbox, sku, store, 1))
    delivered_at = time.perf_counter()
    assert sandbox.server.run(deliver(sandbox)) >= 1

    result, context = tick(instance, sandbox, cursor)
    [request] = result.run_requests
    first, last = request.tags[EVENT_BATCH_TAG].split("-")
    assert request.run_key == f"inbox:{first}-{last}" and int(first) > int(cursor)
    assert result.cursor == last == str(inbox.last_id())
    assert sandbox.probe.product(sku)["id"] in request.tags[POS_PRODUCTS_TAG]

    job = load_definitions().resolve_job_def("event_sync")
    assert job.name == event_sync.name
    run = job.execute_in_process(instance=instance, run_config=QUIET, raise_on_error=False,
                                 tags={**request.tags, "dagster/run_key": request.run_key})
    applied_at = time.perf_counter()
    assert run.success
    print(f"\nsensor lane: webhook delivered -> commercetools updated in {(applied_at - delivered_at) * 1000:.0f} ms "
          "(tick + event_sync run; add up to the tick interval, 30 s)")
    assert ct_level(sandbox, sku, store) == before - 1
    assert set(stock_ledger(ops, sku, store)["status"]) == {"applied"}

    again, _ = tick(instance, sandbox, result.cursor)
    assert not again.run_requests and "no inbox events after id" in again.skip_reason.skip_message
    replay, _ = tick(instance, sandbox, cursor)  # the cursor lost: the batch already ran
    assert not replay.run_requests and request.run_key in replay.skip_reason.skip_message


async def add_to_commercetools_catalog(sandbox, sku: str) -> None:
    """The fix an operator makes: the SKU the tills sell is added to (and published in) commercetools."""
    import httpx

    from omnisync_pipelines.sandbox.loader_commercetools import CommercetoolsLoader

    async with httpx.AsyncClient(base_url=sandbox.server.base_url("commercetools"), timeout=30) as ct:
        loader = CommercetoolsLoader(ct, sandbox.loaded.ct_credentials)
        project = sandbox.loaded.ct_credentials["project_key"]
        product_type = (await ct.get(f"/{project}/product-types/key=apparel", headers=await loader._headers())).json()
        product = await loader._post("products", {
            "key": sku.lower(), "productType": {"typeId": "product-type", "id": product_type["id"]},
            "name": {"en": sku}, "slug": {"en": sku.lower()},
            "masterVariant": {"sku": sku, "prices": [{"value": {"currencyCode": "EUR", "centAmount": 1000}, "country": "DE"}]},
        })
        await loader._post(f"products/{product['id']}", {"version": product["version"], "actions": [{"action": "publish"}]})


def test_a_rejected_unknown_sku_is_applied_once_after_the_fix_and_released_records_are_never_retried(synced, instance):
    from omnisync_pipelines.engine.reprocess import queue_retry, release
    from omnisync_pipelines.store.audit import frame, rejected_audit

    sandbox, ops = synced, ops_of(synced)
    store = sandbox.world.stores[0].key
    x_store, outlet = sandbox.pos_emulator.store, sandbox.loaded.pos["lightspeed_x"].ids["outlet_ids"][store]
    for sku in ("GHOST-1", "GHOST-2"):
        ghost = x_store.bump("products", {"id": f"{sku.lower()}-product", "name": sku, "sku": sku, "variant_options": [],
                                          "product_codes": [], "active": True, "deleted_at": None})
        x_store.set_stock(ghost["id"], outlet, 3)
    assert run_job("delta_sync", instance=instance).success
    opened = ops.rejected_frame("open")
    ids = {sku: int(opened[(opened["record_ref"] == f"{sku}@{store}") & (opened["field"] == "sku")]["id"].iloc[0])
           for sku in ("GHOST-1", "GHOST-2")}

    sandbox.server.run(add_to_commercetools_catalog(sandbox, "GHOST-1"))
    assert queue_retry(ops, ids=[ids["GHOST-1"]], actor="ops-anna", reason="GHOST-1 added to the catalog") == [ids["GHOST-1"]]
    job = load_definitions().resolve_job_def("reprocess_rejected")
    run_config = {**QUIET, "ops": {"reprocess_rejected_records": {"config": {"actor": "ops-anna"}}}}
    result = job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False)
    assert result.success
    assert result.output_for_node("reprocess_rejected_records")["applied"] == [ids["GHOST-1"]]
    assert ct_level(sandbox, "GHOST-1", store) == 3
    assert list(stock_ledger(ops, "GHOST-1", store)["status"]) == ["applied"]
    record = ops.rejected_frame().set_index("id").loc[ids["GHOST-1"]]
    assert record["status"] == "resolved" and record["attempts"] >= 2
    trail = frame(ops, rejected_audit)
    mine = trail[trail["rejected_id"] == ids["GHOST-1"]]
    assert list(zip(mine["action"], mine["outcome"].fillna(""), mine["actor"], strict=True)) == [
        ("retry_requested", "", "ops-anna"), ("retried", "applied", "ops-anna")]

    # retried again, or the next delta_sync: nothing more is written for it
    assert queue_retry(ops, ids=[ids["GHOST-1"]], actor="ops-anna") == []
    assert run_job("delta_sync", instance=instance).success
    assert ct_level(sandbox, "GHOST-1", store) == 3
    assert list(stock_ledger(ops, "GHOST-1", store)["status"]) == ["applied"]

    # a released record is never queued for retry
    release(ops, ids["GHOST-2"], actor="ops-ben", reason="store-only line, never sold online")
    assert queue_retry(ops, ids=[ids["GHOST-2"]], actor="ops-anna") == []
    assert queue_retry(ops, flow="stock_lightspeed_x_to_commercetools", actor="ops-anna") == []
    assert ops.rejected_frame().set_index("id").loc[ids["GHOST-2"], "status"] == "released"
    trail = frame(ops, rejected_audit)
    released = trail[trail["rejected_id"] == ids["GHOST-2"]]
    assert list(released["action"]) == ["released"] and released["reason"].iloc[0].startswith("store-only")


def test_every_api_call_is_logged_without_secrets_tokens_emails_or_names(synced, instance):
    import duckdb

    sandbox, ops = synced, ops_of(synced)
    calls = ops.table_frame("api_calls")
    assert len(calls) > 50 and set(calls["system"]) == {"commercetools", "lightspeed_x"}
    for column in ("method", "path", "attempt", "correlation_id", "latency_ms", "created_at"):
        assert calls[column].notna().all(), column
    assert calls["status"].notna().mean() > 0.99
    assert (calls["request_body"].notna() | calls["response_body"].notna()).any()
    with duckdb.connect(sandbox.env["OMNISYNC_DUCKDB_PATH"], read_only=True) as con:
        copied = con.execute("SELECT * FROM ops.api_calls").df()
    assert len(copied) > 50
    env = sandbox.env
    secrets = [env["OMNISYNC_CT_CLIENT_SECRET"], env["OMNISYNC_LSX_TOKEN"], sandbox.loaded.pos["lightspeed_x"].ids["till_token"],
               *sandbox.ct.auth.tokens.keys()]
    emails = [shopper.email for shopper in sandbox.world.shoppers if shopper.email]
    assert secrets and emails
    for stored in (calls, copied):
        text = stored.to_csv(index=False)
        leaked = [s for s in secrets if s and s in text] + [e for e in emails if e in text or e.lower() in text.lower()]
        assert not leaked, f"{len(leaked)} secrets/emails stored in the API call log"
        assert "Bearer " not in text
    names = {f'"{shopper.last_name}"' for shopper in sandbox.world.shoppers}  # as a JSON value, not inside a word
    bodies = " ".join(str(b) for b in (*calls["request_body"].dropna(), *calls["response_body"].dropna()))
    assert '"lastName"' in bodies or '"last_name"' in bodies  # customers were read and written, and logged
    assert not [n for n in names if n in bodies], "shopper names stored in the API call log"


async def change_order_state(sandbox, order: dict, state: str) -> None:
    import httpx

    from omnisync_pipelines.sandbox.loader_commercetools import CommercetoolsLoader

    async with httpx.AsyncClient(base_url=sandbox.server.base_url("commercetools"), timeout=30) as ct:
        loader = CommercetoolsLoader(ct, sandbox.loaded.ct_credentials)
        await loader._post(f"orders/{order['id']}", {"version": order["version"],
                                                     "actions": [{"action": "changeOrderState", "orderState": state}]})


def test_commercetools_messages_are_polled_into_the_inbox_from_a_persisted_cursor(synced, instance, monkeypatch):
    from omnisync_pipelines.defs.events import commercetools_messages_sensor
    from omnisync_pipelines.defs.resources import CommercetoolsCredentials
    from omnisync_pipelines.defs.targets import SALES_TAG
    from omnisync_pipelines.webhooks.polling import MESSAGES_CURSOR

    sandbox, ops = synced, ops_of(synced)
    env = sandbox.env
    resources = {"omnisync": omnisync_resource(sandbox), "commercetools": CommercetoolsCredentials(
        client_id=env["OMNISYNC_CT_CLIENT_ID"], client_secret=env["OMNISYNC_CT_CLIENT_SECRET"])}

    def poll() -> str:
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            return commercetools_messages_sensor(context).skip_message

    poll()  # the first poll looks back a few minutes and stores the cursor
    assert ops.get_cursor(MESSAGES_CURSOR)
    inbox_before = Inbox(ops).last_id()
    order = sandbox.ct.store.all("order")[0]
    sandbox.server.run(change_order_state(sandbox, order, "Confirmed" if order.get("orderState") != "Confirmed" else "Open"))
    assert "1 new in the inbox" in poll()
    assert "0 new in the inbox" in poll()  # the overlap re-reads it; the inbox dedupe ignores it
    [event] = Inbox(ops).after(inbox_before)
    assert (event["system"], event["event_type"]) == ("commercetools", "OrderStateChanged")

    monkeypatch.setenv("OMNISYNC_INBOX_SETTLE_S", "0")
    result, _ = tick(instance, sandbox, str(inbox_before))
    [request] = result.run_requests
    assert f"commercetools:{order['id']}" in request.tags[SALES_TAG]


def test_the_fast_lane_command_runs_until_stopped(synced):
    import signal
    import subprocess
    import sys
    import threading

    sandbox, ops = synced, ops_of(synced)
    sku, store = sandbox.world.variants[2].sku, sandbox.world.stores[-1].key
    before = pos_level(sandbox, sku, store)
    process = subprocess.Popen([sys.executable, "-m", "omnisync_pipelines.cli", "fastlane", "run", "--poll", "0.05"],
                               env={**__import__("os").environ, **sandbox.env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []  # read on a thread: a start line that never comes fails at the deadline, never hangs
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any("stock events from the inbox" in line for line in lines) and time.monotonic() < deadline:
            assert process.poll() is None, "".join(lines)
            time.sleep(0.02)
        sandbox.server.run(sell(sandbox, sku, store, 1))
        delivered = time.perf_counter()
        sandbox.server.run(deliver(sandbox))
        while ct_level(sandbox, sku, store) != before - 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        latency = time.perf_counter() - delivered
        assert ct_level(sandbox, sku, store) == before - 1
        while Inbox(ops).pending(system="lightspeed_x") and time.monotonic() < deadline:
            time.sleep(0.01)  # the sale's own event may land after the inventory event that moved the count
        print(f"\nfast lane process: webhook stored -> commercetools updated in {latency * 1000:.0f} ms")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        reader.join(timeout=5)
    assert process.returncode == 0, "".join(lines)
    assert Inbox(ops).pending(system="lightspeed_x") == []
