"""The inbox sensor cutting a busy inbox into several event_sync runs (no sandbox: real inbox, real sensor).

Contract: with `OMNISYNC_EVENT_BATCH=1`, N new events give N run requests with distinct run keys
`inbox:<id>-<id>`, each tagged with its own event's sale, products or customer only; the cursor
ends at the last event; a second tick from that cursor requests nothing; a tick with the cursor
lost requests nothing either, because every key already ran on the instance. With a batch size of
2, three events give two runs, the second holding the odd one out.
"""

import json

import dagster as dg
import pytest

from omnisync_pipelines.defs.events import event_sync, inbox_sensor
from omnisync_pipelines.defs.resources import OmnisyncResource
from omnisync_pipelines.defs.targets import CUSTOMERS_TAG, EVENT_BATCH_TAG, POS_PRODUCTS_TAG, SALES_TAG
from omnisync_pipelines.store.inbox import Inbox, InboxEvent
from omnisync_pipelines.store.ops import OpsStore


# fixtures -----------------------------------------------------------------------------------------
@pytest.fixture
def ops_url(tmp_path, monkeypatch):
    monkeypatch.setenv("OMNISYNC_INBOX_SETTLE_S", "0")
    for name in ("OMNISYNC_CT_CLIENT_ID", "OMNISYNC_CT_CLIENT_SECRET", "OMNISYNC_LSX_TOKEN"):
        monkeypatch.setenv(name, "not-used-no-run-executes")  # the job's resources need them to create a run
    return f"sqlite:///{tmp_path / 'ops.sqlite'}"


def till_sale(inbox: Inbox, sale_id: str, product_id: str) -> None:
    payload = {"id": sale_id, "status": "CLOSED", "line_items": [{"product_id": product_id, "quantity": 1}]}
    inbox.add(InboxEvent("lightspeed_x", f"sale-{sale_id}", "sale.update", json.dumps(payload)))


def customer_edit(inbox: Inbox, customer_id: str) -> None:
    payload = {"id": customer_id, "email": "shopper@example.org"}
    inbox.add(InboxEvent("lightspeed_x", f"customer-{customer_id}", "customer.update", json.dumps(payload)))


def tick(instance, ops_url: str, cursor: str | None) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"omnisync": OmnisyncResource(ops_url=ops_url)}) as context:
        return inbox_sensor(context)


def launched(instance, request: dg.RunRequest) -> None:
    """What the daemon does first with a request: it creates the event_sync run carrying the run key."""
    from omnisync_pipelines.runs import load_definitions

    job = load_definitions().resolve_job_def(event_sync.name)
    instance.create_run_for_job(job, tags={**request.tags, "dagster/run_key": request.run_key})


# tests --------------------------------------------------------------------------------------------
def test_one_run_per_event_with_a_batch_size_of_one_and_none_on_the_next_tick(ops_url, monkeypatch):
    monkeypatch.setenv("OMNISYNC_EVENT_BATCH", "1")
    inbox = Inbox(OpsStore.from_url(ops_url))
    till_sale(inbox, "sale-1", "product-a")
    till_sale(inbox, "sale-2", "product-b")
    customer_edit(inbox, "customer-9")
    till_sale(inbox, "sale-3", "product-a")
    ids = [e["id"] for e in inbox.after(0)]
    assert len(ids) == 4

    with dg.instance_for_test() as instance:
        result = tick(instance, ops_url, None)
        requests = result.run_requests
        assert [r.run_key for r in requests] == [f"inbox:{i}-{i}" for i in ids]
        assert len({r.run_key for r in requests}) == 4
        assert [r.tags[EVENT_BATCH_TAG] for r in requests] == [f"{i}-{i}" for i in ids]
        assert result.cursor == str(ids[-1])
        assert [json.loads(r.tags.get(SALES_TAG, "[]")) for r in requests] == [
            ["lightspeed_x:sale-1"], ["lightspeed_x:sale-2"], [], ["lightspeed_x:sale-3"]]
        assert [json.loads(r.tags.get(POS_PRODUCTS_TAG, "[]")) for r in requests] == [
            ["product-a"], ["product-b"], [], ["product-a"]]
        assert json.loads(requests[2].tags[CUSTOMERS_TAG]) == ["lightspeed_x:customer-9"]

        for request in requests:
            launched(instance, request)
        again = tick(instance, ops_url, result.cursor)
        assert not again.run_requests
        assert f"no inbox events after id {ids[-1]}" in again.skip_reason.skip_message
        lost_cursor = tick(instance, ops_url, None)
        assert not lost_cursor.run_requests
        assert all(r.run_key in lost_cursor.skip_reason.skip_message for r in requests)

        till_sale(inbox, "sale-4", "product-c")  # only what is new becomes a run
        [fresh] = tick(instance, ops_url, result.cursor).run_requests
        new_id = inbox.last_id()
        assert fresh.run_key == f"inbox:{new_id}-{new_id}" and json.loads(fresh.tags[SALES_TAG]) == ["lightspeed_x:sale-4"]


def test_a_batch_size_of_two_cuts_three_events_into_two_runs(ops_url, monkeypatch):
    monkeypatch.setenv("OMNISYNC_EVENT_BATCH", "2")
    inbox = Inbox(OpsStore.from_url(ops_url))
    for n in (1, 2, 3):
        till_sale(inbox, f"sale-{n}", f"product-{n}")
    first, second, third = (e["id"] for e in inbox.after(0))
    with dg.instance_for_test() as instance:
        result = tick(instance, ops_url, None)
    assert [r.run_key for r in result.run_requests] == [f"inbox:{first}-{second}", f"inbox:{third}-{third}"]
    assert [json.loads(r.tags[SALES_TAG]) for r in result.run_requests] == [
        ["lightspeed_x:sale-1", "lightspeed_x:sale-2"], ["lightspeed_x:sale-3"]]
