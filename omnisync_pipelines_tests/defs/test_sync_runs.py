"""Real Dagster runs of full_sync and delta_sync against the emulators over sockets.

Contract: the first full sync aligns commercetools to the POS counts; a trading day's stock
changes reach commercetools through delta_sync as relative changes; running delta_sync again
applies nothing; a malformed POS record is rejected with its field and reason while the other
records of the same run are applied; the stock path can be materialized on its own.
"""

import duckdb
import pandas as pd
import pytest
from dagster import DagsterEventType

from omnisync_pipelines import systems
from omnisync_pipelines.connectors.pos import PosPlugin
from omnisync_pipelines.defs.jobs import launch_tags
from omnisync_pipelines.demo import play_served
from omnisync_pipelines.runs import load_definitions, run_job
from omnisync_pipelines.sandbox.scenario import trading_day
from omnisync_pipelines.store.ops import OpsStore

STOCK_FLOW = "stock_lightspeed_x_to_commercetools"
# one retailer's story in order (first sync, a day, a re-run, bad input): one worker, one sandbox


def query(sandbox, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(sandbox.data_dir / "omnisync.duckdb"), read_only=True) as con:
        return con.execute(sql).df()


def ledger_counts(sandbox) -> dict:
    ops = OpsStore.from_url(sandbox.env["OMNISYNC_OPS_URL"])
    frame = ops.table_frame("ledger")
    return frame.groupby(["flow", "status"]).size().to_dict()


def test_full_sync_then_a_trading_day_then_delta_sync_converge(sandbox, instance):
    outcome = run_job("full_sync", instance=instance)
    assert outcome.success, outcome.summary()
    statuses = query(sandbox, "SELECT status, count(*) AS n FROM reconciliation.stock GROUP BY status")
    assert statuses.set_index("status")["n"].to_dict() == {"match": len(sandbox.world.variants) * 2}

    report = sandbox.server.run(play_served(trading_day(sandbox.world, 3, day=1, sales_per_store=4), sandbox.loaded, sandbox.server))
    outcome = run_job("delta_sync", instance=instance)
    assert outcome.success, outcome.summary()
    recon = query(sandbox, "SELECT sku, location_key, commercetools_on_hand, pos_on_hand, status FROM reconciliation.stock")
    assert set(recon["status"]) == {"match"}
    expected = report.expected_pos_stock
    # a count of 0 at the POS never needs an inventory entry in commercetools: absent means 0 there
    held = {(r.sku, r.location_key): 0 if pd.isna(r.commercetools_on_hand) else int(r.commercetools_on_hand) for r in recon.itertuples()}
    assert held == expected

    sales = query(sandbox, f"SELECT count(*) AS n FROM {sandbox.pos}.orders")["n"][0]
    assert ledger_counts(sandbox)[(f"orders_{sandbox.pos}_to_commercetools", "applied")] == sales
    # a well-formed day leaves nothing for an operator to look at
    open_rejections = OpsStore.from_url(sandbox.env["OMNISYNC_OPS_URL"]).rejected_frame("open")
    assert open_rejections.empty, open_rejections[["record_ref", "field", "reason"]].to_string()


def test_a_second_delta_sync_applies_nothing(sandbox, instance):
    before = ledger_counts(sandbox)
    calls_before = len(OpsStore.from_url(sandbox.env["OMNISYNC_OPS_URL"]).table_frame("api_calls"))
    outcome = run_job("delta_sync", instance=instance)
    assert outcome.success, outcome.summary()
    assert ledger_counts(sandbox) == before
    calls = OpsStore.from_url(sandbox.env["OMNISYNC_OPS_URL"]).table_frame("api_calls").iloc[calls_before:]
    writes = calls[(calls["system"] == "commercetools") & (calls["method"] != "GET") & ~calls["path"].str.contains("oauth")]
    assert len(writes) == 0, writes[["method", "path"]].to_string()


@pytest.mark.only_pos("lightspeed_x", reason="plants malformed records (an unknown product, a fractional "
                                          "count) in the X-Series emulator's rows")
def test_malformed_pos_records_are_rejected_and_the_rest_applied(sandbox, instance):
    x_store, ids = sandbox.pos_emulator.store, sandbox.loaded.pos["lightspeed_x"].ids
    berlin = ids["outlet_ids"]["berlin"]
    # a product sold at the till whose SKU commercetools does not know
    ghost = x_store.bump("products", {"id": "ghost-product", "name": "Ghost", "sku": "GHOST-1", "variant_options": [],
                                      "product_codes": [], "active": True, "deleted_at": None})
    x_store.set_stock(ghost["id"], berlin, 3)
    # a count with a fraction of a unit, as a buggy integration might leave it
    sku = sandbox.world.variants[0].sku
    bad = dict(x_store.inventory_row(ids["product_ids"][sku], berlin))
    bad["inventory_level"] = 2.5
    x_store.bump("inventory", bad)
    # and an ordinary change that must still be applied
    good_sku = sandbox.world.variants[1].sku
    sandbox.probe.adjust_count(good_sku, "berlin", +5)  # found in the back office
    pos_level = sandbox.probe.count(good_sku, "berlin")

    outcome = run_job("delta_sync", instance=instance)
    assert outcome.success, outcome.summary()
    rejected = OpsStore.from_url(sandbox.env["OMNISYNC_OPS_URL"]).rejected_frame("open")
    found = {(r.record_ref, r.field) for r in rejected.itertuples()}
    assert ("GHOST-1@berlin", "sku") in found
    assert (bad["id"], "inventory_level") in found
    reasons = " ".join(rejected["reason"])
    assert "not in the commercetools catalog" in reasons and "2.5 is not a whole number" in reasons
    recon = query(sandbox, f"SELECT commercetools_on_hand FROM reconciliation.stock WHERE sku = '{good_sku}' AND location_key = 'berlin'")
    assert recon["commercetools_on_hand"][0] == pos_level


def test_the_stock_path_materializes_on_its_own(sandbox, instance):
    import dagster as dg

    # a damaged unit written off at Berlin is the only change since the last run
    probe, loaded = sandbox.probe, sandbox.loaded
    sku = sandbox.world.variants[2].sku
    before = probe.count(sku, "berlin")
    probe.adjust_count(sku, "berlin", -1)
    written_off = probe.count(sku, "berlin")

    definitions = load_definitions()
    stock_flow = f"stock_{sandbox.pos}_to_commercetools"
    selection = dg.AssetSelection.assets(
        [sandbox.pos, "stock"], ["commercetools", "catalog"], ["plan", stock_flow], ["push", stock_flow]
    )
    job = definitions.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=selection.resolve(definitions.resolve_asset_graph())
    )
    tags = launch_tags(instance, job, {"omnisync/mode": "delta"})  # every store's partition
    result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
    assert result.success
    materialized = {tuple(e.asset_key.path) for e in result.get_asset_materialization_events()}
    assert ("push", stock_flow) in materialized and ("plan", stock_flow) in materialized

    plan = query(sandbox, "SELECT sku, location_key, pos_level, baseline_level, expected_delta, kind "
                          f"FROM plan.{stock_flow}")
    assert plan.to_dict("records") == [{"sku": sku, "location_key": "berlin", "pos_level": before - 1,
                                        "baseline_level": before, "expected_delta": -1,
                                        "kind": "level_change"}]
    pushed = query(sandbox, f"SELECT sku, expected_delta, status FROM push.{stock_flow}")
    assert pushed.to_dict("records") == [{"sku": sku, "expected_delta": -1, "status": "applied"}]
    channel = loaded.channel_ids["berlin"]
    [entry] = [e for e in sandbox.ct.store.all("inventory-entry")
               if e["sku"] == sku and (e.get("supplyChannel") or {}).get("id") == channel]
    assert entry["quantityOnStock"] == written_off == before - 1


def test_a_full_sync_tells_what_its_reads_cost_where_the_api_has_a_budget(sandbox, instance):
    """R-Series charges every request against a leaky bucket: a full read says beforehand how long it
    will take at the account's rate (sized by what the snapshot holds), and records what it cost."""
    outcome = run_job("full_sync", instance=instance)
    assert outcome.success, outcome.summary()
    budgeted = type(systems.pos_plugin(sandbox.pos)).request_estimate is not PosPlugin.request_estimate
    costs = {tuple(e.asset_materialization.asset_key.path): e.asset_materialization.metadata.get("api_budget")
             for e in instance.all_logs(outcome.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)}
    stock_cost = costs[(sandbox.pos, "stock")]
    said = [e.message for e in instance.all_logs(outcome.run_id) if "reading about" in (e.message or "")]
    if not budgeted:
        assert stock_cost is None and not said
        return
    assert "calls" in stock_cost.value and "at the drip rate" in stock_cost.value
    held = query(sandbox, f"SELECT count(*) AS n FROM {sandbox.pos}.stock")["n"][0]
    assert any(f"{sandbox.pos} stock: reading about {held} records" in m for m in said), said
