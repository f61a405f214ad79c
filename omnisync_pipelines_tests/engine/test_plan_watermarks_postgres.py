"""Plan watermarks and baseline lookups keep their promises on PostgreSQL too: a staged watermark
is committed only by its push and never goes back; baselines are found by (sku, location) key."""

import pytest

from omnisync_pipelines_tests.postgres import pg_server_url, require_pg_server, throwaway_ops_store

pytestmark = pytest.mark.postgres
FLOW = "stock_lightspeed_x_to_commercetools"


@pytest.fixture
def pg_ops():
    url = pg_server_url()
    require_pg_server(url)
    with throwaway_ops_store(url) as ops:
        yield ops


def test_watermarks_are_staged_committed_and_never_go_back(pg_ops):
    older = pg_ops.stage_plan_watermarks(FLOW, {"berlin": 120, "hamburg": 90})
    assert pg_ops.plan_watermarks(FLOW) == {}
    assert pg_ops.commit_plan_watermarks(FLOW, ["berlin"], token=older) == {"berlin": 120}
    pg_ops.stage_plan_watermarks(FLOW, {"berlin": 80, "hamburg": 95})
    assert pg_ops.commit_plan_watermarks(FLOW, token=older) == {}  # replaced by the newer plan
    assert pg_ops.commit_plan_watermarks(FLOW) == {"berlin": 120, "hamburg": 95}


def test_baselines_are_found_by_key_and_owed_counts_listed(pg_ops):
    for n, loc in enumerate(("ber", "ham")):
        pg_ops.mark_retrying(f"k{n}", flow=FLOW, target="commercetools", source="lightspeed_x", record_ref=f"A@{loc}", payload={})
    pg_ops.mark_applied("k0", {}, baseline={"source_system": "lightspeed_x", "sku": "A", "location_key": "ber",
                                            "level": 4, "version": 11})
    assert pg_ops.baselines_for("lightspeed_x", [("A", "ber"), ("A", "ham"), ("B", "ber")]) == {("A", "ber"): (4, 11)}
    assert pg_ops.stock_retry_refs(FLOW, "lightspeed_x") == [("A", "ham")]
    assert pg_ops.baselines_frame("lightspeed_x").to_dict("records") == [{"sku": "A", "location_key": "ber", "level": 4, "version": 11}]
