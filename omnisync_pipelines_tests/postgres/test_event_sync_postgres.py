"""Production shape on PostgreSQL: Dagster instance and operational store both on the test server.

Contract: full_sync then a store sale then delta_sync run with runs/events in PostgreSQL (Dagster)
and ledger/inbox/cursors in PostgreSQL (ops store, OMNISYNC_OPS_URL), and commercetools ends at
the POS count; the sale's webhook lands in the PostgreSQL inbox and one inbox-sensor tick
requests one event_sync run, the next tick none; two processes writing the inbox at once while
a cursor reader follows it (as the sensor does, with the settle window) lose no event and see
none twice.
"""

import multiprocessing
import os
import time

import dagster as dg
import pytest
from dagster_postgres import PostgresRunStorage

from omnisync_pipelines.runs import run_job
from omnisync_pipelines.store.inbox import Inbox, InboxEvent
from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines_tests.defs.conftest import Sandbox
from omnisync_pipelines_tests.events.helpers import ct_level, deliver, pos_level, sell, subscribe
from omnisync_pipelines_tests.events.test_event_lanes import tick
from omnisync_pipelines_tests.postgres import pg_server_url, require_pg_server, throwaway_database

pytestmark = [pytest.mark.postgres]


# fixtures -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pg_sandbox(tmp_path_factory):
    url = pg_server_url()
    require_pg_server(url)
    with throwaway_database(url) as ops_db, throwaway_database(url) as dagster_db:
        box = Sandbox(tmp_path_factory.mktemp("omnisync_pg"))
        box.env["OMNISYNC_OPS_URL"] = ops_db.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        saved = {k: os.environ.get(k) for k in box.env}
        os.environ.update(box.env)
        storage = {"postgres": {"postgres_url": dagster_db.render_as_string(hide_password=False)}}
        try:
            with dg.instance_for_test(overrides={"storage": storage}) as instance:
                yield box, instance
                instance.run_storage.dispose()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            box.stop()


# tests --------------------------------------------------------------------------------------------
def test_delta_sync_and_a_sensor_tick_with_instance_and_ops_store_on_postgres(pg_sandbox, monkeypatch):
    sandbox, instance = pg_sandbox
    assert isinstance(instance.run_storage, PostgresRunStorage)
    ops = OpsStore.from_url(sandbox.env["OMNISYNC_OPS_URL"])
    assert ops.engine.dialect.name == "postgresql"
    assert run_job("full_sync", instance=instance).success
    sandbox.server.run(subscribe(sandbox, "sale.update", "inventory.update"))
    sku, store = sandbox.world.variants[0].sku, sandbox.world.stores[0].key
    before = pos_level(sandbox, sku, store)
    sandbox.server.run(sell(sandbox, sku, store, 1))
    assert sandbox.server.run(deliver(sandbox)) >= 1

    outcome = run_job("delta_sync", instance=instance)
    assert outcome.success, outcome.summary()
    assert instance.get_run_by_id(outcome.run_id).status == dg.DagsterRunStatus.SUCCESS
    assert ct_level(sandbox, sku, store) == before - 1
    assert set(ops.table_frame("ledger")["status"]) <= {"applied", "superseded"}

    monkeypatch.setenv("OMNISYNC_INBOX_SETTLE_S", "0")
    result, _ = tick(instance, sandbox, "0")
    [request] = result.run_requests
    assert request.run_key == f"inbox:1-{Inbox(ops).last_id()}"
    again, _ = tick(instance, sandbox, result.cursor)
    assert not again.run_requests


def _write(url: str, prefix: str, count: int, barrier) -> None:
    inbox = Inbox(OpsStore.from_url(url))
    barrier.wait()
    for i in range(count):
        inbox.add(InboxEvent("lightspeed_x", f"{prefix}-{i}", "sale.update", "{}"))
    inbox.ops.engine.dispose()


def test_two_processes_writing_the_inbox_while_a_cursor_reader_follows(pg_sandbox):
    sandbox, _ = pg_sandbox
    url = sandbox.env["OMNISYNC_OPS_URL"]
    inbox = Inbox(OpsStore.from_url(url))
    start = inbox.last_id()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    writers = [ctx.Process(target=_write, args=(url, f"w{n}", 150, barrier)) for n in range(2)]
    for w in writers:
        w.start()
    seen: list[str] = []
    cursor = start
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = not any(w.is_alive() for w in writers)
        batch = inbox.after(cursor, limit=50, settle_s=0.5)
        seen += [e["event_id"] for e in batch]
        cursor = batch[-1]["id"] if batch else cursor
        if done and not batch and not inbox.after(cursor, limit=1):
            break
        time.sleep(0.05)
    for w in writers:
        w.join(10)
        assert w.exitcode == 0
    expected = {f"w{n}-{i}" for n in range(2) for i in range(150)}
    assert len(seen) == len(set(seen)) and set(seen) == expected
