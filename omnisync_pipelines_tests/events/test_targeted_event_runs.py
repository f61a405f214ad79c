"""An event_sync run acts on what its events named, and the next delta_sync catches up on the rest.

Contract: a store sale's webhooks become one event_sync run tagged with that sale; a second sale
made after the tick is read by the run's snapshot (its version cursor moves past it) but neither
imported nor its stock pushed; the next delta_sync imports it and moves its stock. Each sale ends
as exactly one commercetools order under one applied ledger key. The same holds for customers: an
event run about one POS customer's edit updates that customer in commercetools and not another
customer edited after the tick, whom the next delta_sync updates.
"""

import json

import duckdb
import httpx
import pytest

from omnisync_pipelines.canonical.models import normalise_email
from omnisync_pipelines.defs.targets import CUSTOMERS_TAG, SALES_TAG
from omnisync_pipelines.runs import QUIET, load_definitions, run_job
from omnisync_pipelines.store.inbox import Inbox
from omnisync_pipelines_tests.events.helpers import (
    ct_level,
    ct_orders_of_sale,
    deliver,
    ops_of,
    pos_level,
    sell,
    subscribe,
)
from omnisync_pipelines_tests.events.test_event_lanes import tick

ORDERS_FLOW = "orders_lightspeed_x_to_commercetools"
CUSTOMERS_FLOW = "customers_lightspeed_x_to_commercetools"

pytestmark = pytest.mark.only_pos("lightspeed_x", reason="subscribes to X-Series webhooks and delivers them from "
                                  "the emulator's queue")


# fixtures -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synced(sandbox, instance):
    outcome = run_job("full_sync", instance=instance)
    assert outcome.success, outcome.summary()
    sandbox.server.run(subscribe(sandbox, "sale.update", "inventory.update", "customer.update"))
    return sandbox


def run_event_sync(instance, request):
    job = load_definitions().resolve_job_def("event_sync")
    result = job.execute_in_process(instance=instance, run_config=QUIET, raise_on_error=False,
                                    tags={**request.tags, "dagster/run_key": request.run_key})
    assert result.success
    return result


def ledger_of(ops, flow: str, record_ref: str):
    ledger = ops.table_frame("ledger")
    return ledger[(ledger["flow"] == flow) & (ledger["record_ref"] == record_ref)]


async def set_marketing_consent(sandbox, customer_id: str, consent: bool) -> None:
    """A shop assistant ticks (or unticks) "do not email" on the customer's card at the till."""
    headers = {"authorization": f"Bearer {sandbox.env['OMNISYNC_LSX_TOKEN']}"}
    async with httpx.AsyncClient(base_url=sandbox.server.base_url("lightspeed_x"), headers=headers) as api:
        response = await api.put(f"/api/2.0/customers/{customer_id}", json={"do_not_email": not consent})
        assert response.status_code == 200, response.text


def ct_consent(sandbox, email: str):
    [customer] = [c for c in sandbox.ct.store.all("customer") if (c.get("email") or "").lower() == email.lower()]
    return ((customer.get("custom") or {}).get("fields") or {}).get("consentMarketing")


# tests --------------------------------------------------------------------------------------------
def test_an_event_run_imports_only_the_named_sale_and_the_next_delta_sync_the_other(synced, instance, monkeypatch):
    sandbox, ops = synced, ops_of(synced)
    monkeypatch.setenv("OMNISYNC_INBOX_SETTLE_S", "0")
    store = sandbox.world.stores[0].key
    named_sku, later_sku = sandbox.world.variants[0].sku, sandbox.world.variants[1].sku
    later_before = pos_level(sandbox, later_sku, store)
    cursor = str(Inbox(ops).last_id())

    named = sandbox.server.run(sell(sandbox, named_sku, store, 1))
    assert sandbox.server.run(deliver(sandbox)) >= 1
    result, _ = tick(instance, sandbox, cursor)
    [request] = result.run_requests
    assert json.loads(request.tags[SALES_TAG]) == [f"lightspeed_x:{named}"]

    later = sandbox.server.run(sell(sandbox, later_sku, store, 1))  # after the tick: in no batch
    run_event_sync(instance, request)
    assert len(ct_orders_of_sale(sandbox, named)) == 1
    assert ct_orders_of_sale(sandbox, later) == []
    assert ledger_of(ops, ORDERS_FLOW, later).empty
    assert ct_level(sandbox, later_sku, store) == later_before  # its stock waits too
    with duckdb.connect(sandbox.env["OMNISYNC_DUCKDB_PATH"], read_only=True) as con:
        read = {row[0] for row in con.execute("SELECT order_id FROM lightspeed_x.orders").fetchall()}
    assert {named, later} <= read  # read (the cursor is past it), kept in the snapshot, not pushed

    outcome = run_job("delta_sync", instance=instance)
    assert outcome.success, outcome.summary()
    assert len(ct_orders_of_sale(sandbox, named)) == 1
    assert len(ct_orders_of_sale(sandbox, later)) == 1
    assert ct_level(sandbox, later_sku, store) == later_before - 1
    for sale in (named, later):
        assert list(ledger_of(ops, ORDERS_FLOW, sale)["status"]) == ["applied"], sale


def test_an_event_run_updates_only_the_named_customer_and_the_next_delta_sync_the_other(synced, instance, monkeypatch):
    sandbox, ops = synced, ops_of(synced)
    monkeypatch.setenv("OMNISYNC_INBOX_SETTLE_S", "0")
    def emails(rows) -> list[str]:
        return [normalise_email(c.get("email")) for c in rows if not c.get("deleted_at")]

    ct_emails, pos_emails = emails(sandbox.ct.store.all("customer")), emails(sandbox.probe.customers())
    pos_customer_ids = sandbox.loaded.pos["lightspeed_x"].ids["pos_customer_ids"]  # shopper key -> X customer id
    # one customer on each side: a suspected duplicate is never written until an operator decides
    shoppers = [s for s in sandbox.world.shoppers if s.email and s.key in pos_customer_ids
                and ct_emails.count(normalise_email(s.email)) == 1 and pos_emails.count(normalise_email(s.email)) == 1]
    first, second = shoppers[:2]
    first_id, second_id = (pos_customer_ids[s.key] for s in (first, second))
    # flip what the till has (the X-Series "do not email" flag): consent is the POS's to own
    wanted = {s.key: bool(sandbox.pos_emulator.store.get("customers", pos_customer_ids[s.key])["do_not_email"])
              for s in (first, second)}
    sandbox.server.run(deliver(sandbox))  # anything still queued from earlier tests
    cursor = str(Inbox(ops).last_id())
    second_writes = len(ledger_of(ops, CUSTOMERS_FLOW, second_id))

    sandbox.server.run(set_marketing_consent(sandbox, first_id, wanted[first.key]))
    assert sandbox.server.run(deliver(sandbox)) >= 1
    result, _ = tick(instance, sandbox, cursor)
    [request] = result.run_requests
    assert json.loads(request.tags[CUSTOMERS_TAG]) == [f"lightspeed_x:{first_id}"]
    assert SALES_TAG not in request.tags

    sandbox.server.run(set_marketing_consent(sandbox, second_id, wanted[second.key]))  # after the tick
    run_event_sync(instance, request)
    assert ct_consent(sandbox, first.email) is wanted[first.key]
    assert ct_consent(sandbox, second.email) is not wanted[second.key]
    assert len(ledger_of(ops, CUSTOMERS_FLOW, second_id)) == second_writes  # nothing sent for them yet

    outcome = run_job("delta_sync", instance=instance)
    assert outcome.success, outcome.summary()
    assert ct_consent(sandbox, first.email) is wanted[first.key]
    assert ct_consent(sandbox, second.email) is wanted[second.key]
