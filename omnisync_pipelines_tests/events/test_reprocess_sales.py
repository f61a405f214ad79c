"""Retrying a rejected store sale after the fix: re-read from the till, imported exactly once.

Contract: a sale paid with a tender nobody mapped ("Klarna") is rejected when the sales snapshot
reads it (field `payments`), and the snapshot's version cursor moves past it, so after the fix
(the tender map in the configuration) no delta_sync reads it again. `reprocess` re-reads the named
sale from the POS with today's configuration and imports it through the sales flow's ledger:
retried before the fix it stays open with the same reason; retried after the fix it becomes one
commercetools order under one applied ledger key, the rejected record is resolved, the audit trail
says who did what, the sale joins the sales snapshot, and neither a second retry (nothing queued)
nor the next delta_sync imports it again.
"""

import uuid
from datetime import UTC, datetime

import duckdb
import pytest
import yaml

from omnisync_pipelines.config import load_config
from omnisync_pipelines.defs.sales_flows import open_sales_retry
from omnisync_pipelines.demo import play_at_tills
from omnisync_pipelines.engine.fast_lane import open_fast_lane
from omnisync_pipelines.engine.reprocess import commercetools_catalog, queue_retry, reprocess
from omnisync_pipelines.runs import run_job
from omnisync_pipelines.sandbox.world import Sale, SaleLine
from omnisync_pipelines.store.audit import frame, rejected_audit
from omnisync_pipelines_tests.events.helpers import ct_orders_of_sale, ops_of, secrets_of
from omnisync_pipelines_tests.events.test_event_lanes import omnisync_resource

SNAPSHOT_FLOW = "snapshot/lightspeed_x/orders"
ORDERS_FLOW = "orders_lightspeed_x_to_commercetools"

pytestmark = pytest.mark.only_pos("lightspeed_x", reason="seeds an X-Series payment type and maps it in the "
                                  "lightspeed_x tender map")


# fixtures -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synced(sandbox, instance):
    outcome = run_job("full_sync", instance=instance)
    assert outcome.success, outcome.summary()
    return sandbox


async def sell_paid_with_klarna(sandbox, sku: str, store: str) -> str:
    """The retailer added "Klarna" at the till last week; nobody told omnisync."""
    payment_type_ids = sandbox.loaded.pos["lightspeed_x"].ids["payment_type_ids"]  # the tills pay with these
    if "klarna" not in payment_type_ids:
        payment_type_ids["klarna"] = sandbox.pos_emulator.seed_payment_type("Klarna", "klarna-type")["id"]
    world = sandbox.world
    price = world.variant(sku).price_at(world.store(store))
    sale = Sale(f"klarna-{uuid.uuid4().hex[:8]}", datetime.now(UTC), store, (SaleLine(sku, 1, price),), (("klarna", price),))
    await play_at_tills([sale], sandbox.loaded, sandbox.server)
    return sandbox.loaded.sale_ids[sale.event_id]


def map_klarna_tender(sandbox) -> None:
    """The fix: the tender map in the configuration file."""
    path = sandbox.env["OMNISYNC_CONFIG"]
    with open(path) as f:
        config = yaml.safe_load(f)
    config["systems"]["lightspeed_x"]["tender_map"] = {"Klarna": "other"}
    with open(path, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)


async def retry_queued(sandbox, ops, actor: str):
    """What the reprocess_rejected job runs, stock and store sales."""
    config, secrets = load_config(sandbox.env["OMNISYNC_CONFIG"]), secrets_of(sandbox)
    pos = config.pos_systems[0]
    async with open_fast_lane(config, secrets, ops) as lane, \
            open_sales_retry(omnisync_resource(sandbox), pos, secrets) as sales:
        return await reprocess(ops, [lane], commercetools_catalog(lane.target.client), actor=actor, sales=[sales])


def ledger_of(ops, sale_id: str):
    ledger = ops.table_frame("ledger")
    return ledger[(ledger["flow"] == ORDERS_FLOW) & (ledger["record_ref"] == sale_id)]


# tests --------------------------------------------------------------------------------------------
def test_a_sale_rejected_for_an_unknown_tender_is_imported_once_after_the_tender_is_mapped(synced, instance):
    sandbox, ops = synced, ops_of(synced)
    sale_id = sandbox.server.run(sell_paid_with_klarna(sandbox, sandbox.world.variants[0].sku, sandbox.world.stores[0].key))
    assert run_job("delta_sync", instance=instance).success
    opened = ops.rejected_frame("open")
    [record] = opened[(opened["flow"] == SNAPSHOT_FLOW) & (opened["record_ref"] == sale_id)].to_dict("records")
    assert record["field"] == "payments" and "unknown tender 'Klarna'" in record["reason"]
    assert ct_orders_of_sale(sandbox, sale_id) == []

    # retried before the fix: still rejected, for the same reason
    assert queue_retry(ops, ids=[record["id"]], actor="ops-anna", reason="is Klarna mapped yet?") == [record["id"]]
    early = sandbox.server.run(retry_queued(sandbox, ops, "ops-anna"))
    assert early.still_rejected == [record["id"]] and early.applied == []
    now = ops.rejected_frame().set_index("id").loc[record["id"]]
    assert now["status"] == "open" and "unknown tender 'Klarna'" in now["reason"]
    assert ct_orders_of_sale(sandbox, sale_id) == []

    # the fix alone does not bring it back: the snapshot's cursor is past the sale
    map_klarna_tender(sandbox)
    assert run_job("delta_sync", instance=instance).success
    assert ct_orders_of_sale(sandbox, sale_id) == []

    assert queue_retry(ops, ids=[record["id"]], actor="ops-anna", reason="Klarna mapped to other") == [record["id"]]
    fixed = sandbox.server.run(retry_queued(sandbox, ops, "ops-anna"))
    assert fixed.applied == [record["id"]] and fixed.still_rejected == []
    [order] = ct_orders_of_sale(sandbox, sale_id)
    assert order["totalPrice"]["centAmount"] == sandbox.world.variants[0].price_at(sandbox.world.stores[0])
    assert list(ledger_of(ops, sale_id)["status"]) == ["applied"]
    done = ops.rejected_frame().set_index("id").loc[record["id"]]
    assert done["status"] == "resolved" and done["attempts"] >= 3
    trail = frame(ops, rejected_audit)
    mine = trail[trail["rejected_id"] == record["id"]]
    assert list(zip(mine["action"], mine["outcome"].fillna(""), mine["actor"], strict=True)) == [
        ("retry_requested", "", "ops-anna"), ("retried", "still_rejected", "ops-anna"),
        ("retry_requested", "", "ops-anna"), ("retried", "applied", "ops-anna")]
    with duckdb.connect(sandbox.env["OMNISYNC_DUCKDB_PATH"], read_only=True) as con:
        methods = con.execute("SELECT method FROM lightspeed_x.order_payments WHERE order_id = ?", [sale_id]).fetchall()
    assert methods == [("other",)]  # in the snapshot now, as the delta read would have mapped it

    # nothing left to retry, and the next delta_sync writes nothing more for it
    assert queue_retry(ops, ids=[record["id"]], actor="ops-anna") == []
    assert run_job("delta_sync", instance=instance).success
    assert len(ct_orders_of_sale(sandbox, sale_id)) == 1
    assert list(ledger_of(ops, sale_id)["status"]) == ["applied"]
