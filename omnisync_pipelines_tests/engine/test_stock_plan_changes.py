"""The delta stock plan: a run reads only the counts that changed since the last pushed plan.

Contract: `plan_stock_changes` plans exactly what `plan_stock` plans for the snapshot rows whose POS
version is above their location's watermark (same rows, same keys, same rejections), fetching
baselines for those rows only; a plan that was never pushed commits nothing, so the next run plans
the same rows again; each store has its own watermark, and a one-store plan touches only that
store; counts owed from earlier runs (a write still retrying, a held movement) are planned again.
"""

import duckdb
import pandas as pd
import pytest

from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.canonical.models import CatalogItem, Rejection, StockLevel
from omnisync_pipelines.engine.stock_plan import (
    plan_stock,
    plan_stock_changes,
    snapshot_high_water,
    stock_flow,
)
from omnisync_pipelines.store import warehouse

POS = "lightspeed_x"
FLOW = stock_flow(POS)
TEES = ("TEE-S", "TEE-M", "TEE-L")


# fixtures ---------------------------------------------------------------------------------------
@pytest.fixture
def con():
    con = duckdb.connect()
    catalog = [CatalogItem("commercetools", sku, "tee", sku, f"p-{sku}") for sku in TEES]
    warehouse.replace_table(con, "commercetools", "catalog", schemas.frame_from_records("catalog", catalog))
    return con


def pos_counts(con, *levels: tuple[str, str, int, int]) -> None:
    """The POS snapshot as the stock snapshot asset leaves it: (sku, location, on hand, version)."""
    stock = [StockLevel(POS, sku, loc, on_hand, 0, on_hand, f"inv-{sku}-{loc}", version) for sku, loc, on_hand, version in levels]
    warehouse.replace_table(con, POS, "stock", schemas.frame_from_records("stock", stock))


def applied(ops, *baselines: tuple[str, str, int, int]) -> None:
    """Counts whose change reached commercetools: (sku, location, level, version)."""
    for sku, loc, level, version in baselines:
        key = f"{FLOW}|{POS}|{sku}@{loc}|{version}"
        ops.mark_retrying(key, flow=FLOW, target="commercetools", source=POS, record_ref=f"{sku}@{loc}", payload={})
        ops.mark_applied(key, {"status": "applied"}, baseline={"source_system": POS, "sku": sku, "location_key": loc,
                                                               "level": level, "version": version})


def planned_and_pushed(con, ops, locations=None) -> pd.DataFrame:
    """One delta run whose push completed: plan, stage, (push), commit."""
    plan, _, high_water = plan_stock_changes(con, POS, ops, locations=locations)
    ops.stage_plan_watermarks(FLOW, high_water)
    ops.commit_plan_watermarks(FLOW, locations)
    return plan


class Spy:
    """The ops store, remembering which baselines the plan asked for."""

    def __init__(self, ops):
        self.ops, self.asked = ops, []

    def __getattr__(self, name):
        return getattr(self.ops, name)

    def baseline_rows(self, source_system, pairs):
        self.asked += list(pairs)
        return self.ops.baseline_rows(source_system, pairs)


# tests ------------------------------------------------------------------------------------------
def test_the_first_delta_run_plans_every_store_like_the_full_plan(con, ops):
    pos_counts(con, ("TEE-S", "berlin", 5, 101), ("TEE-M", "berlin", 2, 102), ("TEE-S", "hamburg", 9, 103),
               ("MUG-1", "berlin", 4, 104))
    applied(ops, ("TEE-M", "berlin", 4, 90))
    full, full_rejections = plan_stock(con, POS, ops.baselines_frame(POS))
    delta, delta_rejections, high_water = plan_stock_changes(con, POS, ops)
    pd.testing.assert_frame_equal(delta, full)
    assert delta_rejections == full_rejections
    assert high_water == {"berlin": 104, "hamburg": 103}


def test_after_a_pushed_run_only_changed_counts_are_read_and_planned(con, ops):
    pos_counts(con, ("TEE-S", "berlin", 5, 101), ("TEE-M", "berlin", 2, 103), ("TEE-L", "berlin", 7, 102))
    planned_and_pushed(con, ops)
    applied(ops, ("TEE-S", "berlin", 5, 101), ("TEE-M", "berlin", 2, 103), ("TEE-L", "berlin", 7, 102))
    # a till sells one TEE-M (new version); TEE-L's stored count is scrambled without a new version,
    # which only a plan that re-reads untouched rows would notice (the watermark's own version, 103,
    # is read again: a POS whose versions are times of a second may have changed it later in that second)
    pos_counts(con, ("TEE-S", "berlin", 5, 101), ("TEE-M", "berlin", 1, 140), ("TEE-L", "berlin", 99, 102))
    spy = Spy(ops)
    delta, _, high_water = plan_stock_changes(con, POS, spy)
    assert spy.asked == [("TEE-M", "berlin")]
    assert delta[["idempotency_key", "expected_delta", "baseline_level", "kind"]].to_dict("records") == [
        {"idempotency_key": f"{FLOW}|{POS}|TEE-M@berlin|140", "expected_delta": -1, "baseline_level": 2, "kind": "level_change"}
    ]
    full, _ = plan_stock(con, POS, ops.baselines_frame(POS))
    assert full[full["sku"] == "TEE-M"].reset_index(drop=True).equals(delta)  # the same row as the full plan's
    assert high_water == {"berlin": 140}


def test_a_crash_between_plan_and_push_plans_the_same_rows_again(con, ops):
    pos_counts(con, ("TEE-S", "berlin", 5, 101), ("TEE-M", "berlin", 2, 102))
    planned_and_pushed(con, ops)
    applied(ops, ("TEE-S", "berlin", 5, 101), ("TEE-M", "berlin", 2, 102))
    pos_counts(con, ("TEE-S", "berlin", 3, 150), ("TEE-M", "berlin", 2, 102))
    first, _, high_water = plan_stock_changes(con, POS, ops)
    ops.stage_plan_watermarks(FLOW, high_water)  # ... and the run dies before its push
    again, _, _ = plan_stock_changes(con, POS, ops)
    assert again.equals(first)
    assert again["idempotency_key"].tolist() == [f"{FLOW}|{POS}|TEE-S@berlin|150"]
    assert ops.plan_watermarks(FLOW) == {"berlin": 102}


def test_each_store_keeps_its_own_watermark(con, ops):
    pos_counts(con, ("TEE-S", "berlin", 5, 101), ("TEE-S", "hamburg", 6, 102))
    planned_and_pushed(con, ops)
    applied(ops, ("TEE-S", "berlin", 5, 101), ("TEE-S", "hamburg", 6, 102))
    pos_counts(con, ("TEE-S", "berlin", 4, 130), ("TEE-S", "hamburg", 6, 102))
    planned_and_pushed(con, ops, locations=["berlin"])
    applied(ops, ("TEE-S", "berlin", 4, 130))
    # hamburg receives stock (version 120 < berlin's watermark 130): still above hamburg's own
    pos_counts(con, ("TEE-S", "berlin", 4, 130), ("TEE-S", "hamburg", 10, 120))
    delta, _, high_water = plan_stock_changes(con, POS, ops)
    assert delta[["location_key", "expected_delta"]].to_dict("records") == [{"location_key": "hamburg", "expected_delta": 4}]
    assert ops.plan_watermarks(FLOW) == {"berlin": 130, "hamburg": 102}
    assert high_water == {"hamburg": 120, "berlin": 130}  # berlin: its watermark row, diffed again, unchanged


def test_a_one_store_plan_touches_only_that_store(con, ops):
    pos_counts(con, ("TEE-S", "berlin", 5, 101), ("TEE-M", "berlin", 2, 102), ("TEE-S", "hamburg", 9, 103))
    full_berlin, _ = plan_stock(con, POS, ops.baselines_frame(POS), locations=["berlin"])
    spy = Spy(ops)
    delta, _, high_water = plan_stock_changes(con, POS, spy, locations=["berlin"])
    assert set(full_berlin["location_key"]) == set(delta["location_key"]) == {"berlin"}
    assert delta.equals(full_berlin)
    assert {loc for _, loc in spy.asked} == {"berlin"}
    ops.stage_plan_watermarks(FLOW, high_water)
    ops.commit_plan_watermarks(FLOW, ["berlin"])
    assert ops.plan_watermarks(FLOW) == {"berlin": 102}
    hamburg, _, _ = plan_stock_changes(con, POS, ops, locations=["hamburg"])  # never planned: all of it
    assert hamburg["sku"].tolist() == ["TEE-S"]


def test_a_store_first_seen_after_others_were_pushed_is_planned_whole(con, ops):
    pos_counts(con, ("TEE-S", "berlin", 5, 101))
    planned_and_pushed(con, ops)
    applied(ops, ("TEE-S", "berlin", 5, 101))
    # a new store: one count changed today, the others carry versions older than berlin's watermark
    pos_counts(con, ("TEE-S", "berlin", 5, 101), ("TEE-S", "munich", 3, 90), ("TEE-M", "munich", 8, 160))
    delta, _, high_water = plan_stock_changes(con, POS, ops)
    assert sorted(delta["sku"]) == ["TEE-M", "TEE-S"] and set(delta["location_key"]) == {"munich"}
    assert high_water == {"munich": 160, "berlin": 101}  # berlin: its watermark row, diffed again, unchanged


def test_counts_owed_from_earlier_runs_are_planned_again(con, ops):
    pos_counts(con, ("TEE-S", "berlin", 5, 101), ("TEE-M", "berlin", 2, 102), ("TEE-L", "berlin", 7, 103))
    planned_and_pushed(con, ops)
    # TEE-S: its write timed out (still retrying); TEE-M: held for review by the negative-stock policy
    ops.mark_retrying(f"{FLOW}|{POS}|TEE-S@berlin|101", flow=FLOW, target="commercetools", source=POS,
                      record_ref="TEE-S@berlin", payload={})
    ops.add_rejections(FLOW, [Rejection(POS, "stock", "TEE-M@berlin", "quantity", "held", "{}")], status="held")
    applied(ops, ("TEE-L", "berlin", 7, 103))
    delta, _, _ = plan_stock_changes(con, POS, ops)
    assert delta["idempotency_key"].tolist() == [f"{FLOW}|{POS}|TEE-M@berlin|102", f"{FLOW}|{POS}|TEE-S@berlin|101"]


def test_an_unknown_sku_is_rejected_once_per_change_and_planned_once_commercetools_knows_it(con, ops):
    pos_counts(con, ("MUG-1", "berlin", 4, 101))
    _, rejections, _ = plan_stock_changes(con, POS, ops)
    ops.add_rejections(FLOW, rejections)
    ops.stage_plan_watermarks(FLOW, {"berlin": 101})
    ops.commit_plan_watermarks(FLOW)
    assert [r.record_ref for r in rejections] == ["MUG-1@berlin"]
    catalog = [CatalogItem("commercetools", sku, "p", sku, f"p-{sku}") for sku in (*TEES, "MUG-1")]
    warehouse.replace_table(con, "commercetools", "catalog", schemas.frame_from_records("catalog", catalog))
    delta, rejections, _ = plan_stock_changes(con, POS, ops)  # the open rejection brings it back
    assert rejections == [] and delta["kind"].tolist() == ["initial"]


def test_the_full_plan_can_stage_what_it_covered(con, ops):
    pos_counts(con, ("TEE-S", "berlin", 5, 101), ("TEE-S", "hamburg", 9, 107), ("TEE-M", "hamburg", 1, 104))
    assert snapshot_high_water(con, POS) == {"berlin": 101, "hamburg": 107}
    assert snapshot_high_water(con, POS, locations=["hamburg"]) == {"hamburg": 107}
