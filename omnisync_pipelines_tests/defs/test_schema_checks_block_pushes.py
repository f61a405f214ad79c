"""A snapshot that fails its canonical schema stops the sync before anything is pushed.

The story: a Berlin store's counts are in commercetools. Then the POS feed starts returning a
second inventory record for one product at Berlin (a botched outlet migration), while a
clerk's genuine +5 on another product waits to be synced. The stock path runs: the POS stock
snapshot fails `matches_canonical_schema` (two counts for one SKU in one store), the failure is
recorded as a failed asset check, no plan or push runs, commercetools is untouched, and the
snapshot table keeps its last valid contents. Once the feed is fixed, the next run picks the
held-back +5 up (the cursor did not move past it).
"""

import dagster as dg
import duckdb
import pandas as pd
import pytest

from omnisync_pipelines.defs.jobs import launch_tags
from omnisync_pipelines.defs.snapshots import SCHEMA_CHECK
from omnisync_pipelines.defs.specs import MODE_TAG
from omnisync_pipelines.runs import load_definitions
from omnisync_pipelines.store.ops import OpsStore

STOCK_FLOW = "stock_lightspeed_x_to_commercetools"
POS_STOCK = dg.AssetKey(["lightspeed_x", "stock"])
CT_CATALOG = dg.AssetKey(["commercetools", "catalog"])
PLAN, PUSH = dg.AssetKey(["plan", STOCK_FLOW]), dg.AssetKey(["push", STOCK_FLOW])


def stock_path(pos: str) -> tuple[dg.AssetKey, dg.AssetKey, dg.AssetKey]:
    """The POS's stock snapshot, plan and push."""
    flow = f"stock_{pos}_to_commercetools"
    return dg.AssetKey([pos, "stock"]), dg.AssetKey(["plan", flow]), dg.AssetKey(["push", flow])
STORE = "berlin"
X_SERIES_MIGRATION = "plants a second inventory record in the X-Series emulator (a botched outlet migration)"


def run_stock_path(instance, mode: str, pos: str = "lightspeed_x") -> dg.ExecuteInProcessResult:
    definitions = load_definitions()
    selection = dg.AssetSelection.assets(*stock_path(pos), CT_CATALOG)
    job = definitions.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=selection.resolve(definitions.resolve_asset_graph())
    )
    tags = launch_tags(instance, job, {MODE_TAG: mode})  # every store's partition
    return job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)


def materialized(result: dg.ExecuteInProcessResult) -> set[dg.AssetKey]:
    return {e.asset_key for e in result.get_asset_materialization_events()}


def schema_checks(result: dg.ExecuteInProcessResult) -> dict[dg.AssetKey, dg.AssetCheckEvaluation]:
    return {e.asset_key: e for e in result.get_asset_check_evaluations() if e.check_name == SCHEMA_CHECK}


def pos_count(sandbox, sku: str) -> int:
    return sandbox.probe.count(sku, STORE)


def ct_count(sandbox, sku: str) -> int | None:
    channel = sandbox.loaded.channel_ids[STORE]
    entry = next((e for e in sandbox.ct.store.all("inventory-entry")
                  if e["sku"] == sku and (e.get("supplyChannel") or {}).get("id") == channel), None)
    return None if entry is None else entry["quantityOnStock"]


def pos_stock_table(sandbox) -> pd.DataFrame:
    with duckdb.connect(str(sandbox.data_dir / "omnisync.duckdb"), read_only=True) as con:
        return con.execute("SELECT sku, location_key, on_hand FROM lightspeed_x.stock").df()


def ops(sandbox) -> OpsStore:
    return OpsStore.from_url(sandbox.env["OMNISYNC_OPS_URL"])


@pytest.fixture(scope="module")
def skus(sandbox):
    doubled, adjusted = (v.sku for v in sandbox.world.variants[:2])
    return doubled, adjusted


def test_the_stores_counts_reach_commercetools_first(sandbox, instance, skus):
    result = run_stock_path(instance, "full", sandbox.pos)
    assert result.success
    assert set(stock_path(sandbox.pos)) <= materialized(result)
    for sku in skus:
        assert ct_count(sandbox, sku) == pos_count(sandbox, sku)


@pytest.mark.only_pos("lightspeed_x", reason=X_SERIES_MIGRATION)
def test_a_duplicated_pos_count_fails_the_schema_check_and_nothing_is_pushed(sandbox, instance, skus):
    doubled, adjusted = skus
    x_store, ids = sandbox.pos_emulator.store, sandbox.loaded.pos["lightspeed_x"].ids
    # the migration rewrites the genuine record and adds a second one: both are in the next delta read
    genuine = dict(x_store.inventory_row(ids["product_ids"][doubled], ids["outlet_ids"][STORE]))
    x_store.bump("inventory", genuine)
    x_store.bump("inventory", {**genuine, "id": "migrated-inventory-record", "inventory_level": 99, "current_amount": 99})
    sandbox.probe.adjust_count(adjusted, STORE, +5)  # a clerk's genuine +5
    ct_before = {sku: ct_count(sandbox, sku) for sku in skus}
    table_before = pos_stock_table(sandbox)
    ledger_before = len(ops(sandbox).table_frame("ledger"))
    cursor_before = ops(sandbox).get_cursor("lightspeed_x/stock")

    result = run_stock_path(instance, "delta")

    assert not result.success
    checks = schema_checks(result)
    assert not checks[POS_STOCK].passed
    assert checks[POS_STOCK].severity == dg.AssetCheckSeverity.ERROR
    assert "one_row_per_sku_and_location" in checks[POS_STOCK].metadata["failure_cases"].value
    assert checks[CT_CATALOG].passed
    # the failed read is not written, and nothing downstream of it ran
    assert materialized(result) == {CT_CATALOG}
    [failure] = result.get_step_failure_events()
    assert failure.step_key == "snapshot_lightspeed_x_stock"
    assert f"lightspeed_x/stock: {SCHEMA_CHECK}" in failure.step_failure_data.error.message
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert not any(STOCK_FLOW in step for step in started), started
    # commercetools, the ledger, the analysts' table and the cursor are as they were
    assert {sku: ct_count(sandbox, sku) for sku in skus} == ct_before
    assert ct_before[adjusted] == pos_count(sandbox, adjusted) - 5
    assert len(ops(sandbox).table_frame("ledger")) == ledger_before
    pd.testing.assert_frame_equal(
        pos_stock_table(sandbox).sort_values(["sku", "location_key"]).reset_index(drop=True),
        table_before.sort_values(["sku", "location_key"]).reset_index(drop=True),
    )
    assert ops(sandbox).get_cursor("lightspeed_x/stock") == cursor_before


@pytest.mark.only_pos("lightspeed_x", reason=X_SERIES_MIGRATION)
def test_once_the_feed_is_fixed_the_held_back_change_is_pushed(sandbox, instance, skus):
    doubled, adjusted = skus
    del sandbox.pos_emulator.store.rows["inventory"]["migrated-inventory-record"]

    result = run_stock_path(instance, "delta")

    assert result.success
    assert all(check.passed for check in schema_checks(result).values())
    assert {POS_STOCK, PLAN, PUSH} <= materialized(result)
    assert ct_count(sandbox, adjusted) == pos_count(sandbox, adjusted)
    assert ct_count(sandbox, doubled) == pos_count(sandbox, doubled)
