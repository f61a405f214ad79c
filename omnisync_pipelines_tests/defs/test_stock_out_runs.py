"""A store whose goods are booked in at commercetools: the `reconcile` job adds them to the till's count.

The story: after a full sync, the ERP books 12 units of a SKU in at a store, in commercetools only.
The store is set to `reconciliation.correction: send_to_pos`. The next reconciliation finds the drift
and adds the 12 to the POS count (once, however often it runs), the delta sync that follows carries
nothing back to commercetools, and the reconciliation after it finds the store in step.
"""

import pytest

from omnisync_pipelines import systems
from omnisync_pipelines.runs import run_job
from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines_tests.defs.test_planted_discrepancies import (
    clerk_adds_units_in_commercetools_only,
    materializations,
    query,
    reconciliation_configured,
)

WRITERS = [pos for pos in systems.pos_ids() if systems.pos_plugin(pos).writes_stock()]
pytestmark = pytest.mark.only_pos(*WRITERS, reason="needs a POS that takes stock writes (PosPlugin.stock_writer)")


def count_in_commercetools(sandbox, sku: str, store: str) -> int:
    return int(query(sandbox, f"SELECT on_hand FROM commercetools.stock WHERE sku = '{sku}' AND location_key = '{store}'")
               ["on_hand"][0])


def test_goods_booked_in_at_commercetools_reach_the_till_once(sandbox, instance):
    assert run_job("full_sync", instance=instance).success
    store = sandbox.world.stores[0].key
    sku = sandbox.world.variants[0].sku
    on_the_till = sandbox.probe.count(sku, store)
    sandbox.server.run(clerk_adds_units_in_commercetools_only(sandbox, sku, store, 12))

    with reconciliation_configured(sandbox, correction={store: "send_to_pos"}):
        first = run_job("reconcile", instance=instance)
        assert first.success
        assert sandbox.probe.count(sku, store) == on_the_till + 12
        assert run_job("reconcile", instance=instance).success
        assert sandbox.probe.count(sku, store) == on_the_till + 12  # the second run finds nothing to send

        assert run_job("delta_sync", instance=instance).success
        assert count_in_commercetools(sandbox, sku, store) == on_the_till + 12  # nothing carried back
        assert run_job("reconcile", instance=instance).success
    row = query(sandbox, f"SELECT status, difference FROM reconciliation.stock WHERE sku = '{sku}' AND location_key = '{store}'")
    assert (row["status"][0], row["difference"][0]) == ("match", 0)

    ledger = OpsStore.from_url(sandbox.env["OMNISYNC_OPS_URL"]).table_frame("ledger")
    sent = ledger[ledger["flow"] == f"stock_commercetools_to_{sandbox.pos}"]
    assert sent[["record_ref", "status"]].values.tolist() == [[f"{sku}@{store}", "applied"]]
    metadata = materializations(instance, first.run_id)[("reconciliation", "stock")]
    assert (metadata["sent_to_pos"].value, metadata["units_sent_to_pos"].value) == (1, 12)
