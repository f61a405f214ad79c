"""`omnisync bench --quick --json` is the CI check of the benchmark harness: it runs end to end at
small sizes, prints one JSON object per benchmark (each with its in-run baseline), the API economy
holds for every flow and system that writes (≤ 1.0 write per changed record; for stock also ≥ 100×
fewer calls than a naive full push), and the initial sync says where its time went and read the
POS exactly. Nothing here asserts on time: the machine is shared and the sizes are small."""

import json

import pytest
from typer.testing import CliRunner

from omnisync_pipelines.bench.runner import BENCHMARKS
from omnisync_pipelines.bench.scale import Scale, build_snapshots
from omnisync_pipelines.cli import app


# fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def results():
    outcome = CliRunner().invoke(app, ["bench", "--quick", "--json"])
    assert outcome.exit_code == 0, outcome.output
    return json.loads(outcome.stdout)


# tests ---------------------------------------------------------------------------------------
def test_every_benchmark_reports_figures_and_a_baseline(results):
    assert {r["name"] for r in results} == set(BENCHMARKS)
    for r in results:  # a benchmark that stops measuring (status "gap" or "error") fails CI
        assert r["status"] == "ok", r
        assert r["figures"] and r["baseline"] and r["ratio"] is not None, r


def test_the_delta_run_writes_at_most_once_per_changed_record_and_far_less_than_a_full_push(results):
    [economy] = [r for r in results if r["name"] == "economy" and r["flow"].startswith("stock_")]
    assert economy["flow"] == "stock_lightspeed_x_to_commercetools" and economy["system"] == "commercetools"
    assert 0 < economy["writes_per_changed_record"] <= 1.0
    assert economy["figures"]["applied"] == economy["figures"]["changed_records"]
    assert economy["baseline"]["calls"] >= 100 * economy["figures"]["calls"]


def test_catalog_and_customer_changes_cost_at_most_one_write_each_in_every_direction(results):
    economy = {(r["flow"], r["system"]): r for r in results if r["name"] == "economy"}
    assert set(economy) >= {
        ("catalog_commercetools_to_lightspeed_x", "lightspeed_x"),
        ("customers_lightspeed_x_to_commercetools", "commercetools"),
        ("customers_commercetools_to_lightspeed_x", "lightspeed_x"),
    }
    for r in economy.values():
        changed = r["figures"]["changed_records"]
        assert changed > 0 and r["figures"]["applied"] >= 1, r  # the changes were found and written
        assert 0 < r["writes_per_changed_record"] <= 1.0, r
        assert r["baseline"]["writes"] >= r["baseline"]["records"] > changed, r  # the naive push wrote them all
        assert r["baseline"]["calls"] > r["figures"]["calls"], r


def test_the_initial_sync_reads_the_pos_exactly_and_says_where_the_time_went(results):
    runs = [r for r in results if r["name"] == "initial_sync"]
    assert runs
    for r in runs:
        figures = r["figures"]
        assert figures["snapshot_matches_pos"] is True
        assert set(figures["time_split_s"]) == {"pos_http_client_s", "pos_emulator_s", "rate_limit_wait_s", "engine_s",
                                                "ct_http_client_s", "ct_emulator_s"}
        assert abs(sum(figures["time_split_s"].values()) - figures["seconds"]) < 0.01
        assert figures["pos_calls"] >= 4 and figures["pos_budget_used"] == figures["pos_calls"]
    assert runs[-1]["figures"]["extrapolated_100k_x_50"]["records"] == 5_000_000


def test_delta_and_scaling_find_exactly_the_changed_rows(results):
    for r in results:
        if r["name"] in ("delta", "scaling"):
            assert r["figures"]["planned"] == r["figures"]["changed"] == r["baseline"]["changed"], r


@pytest.mark.parametrize(("skus", "locations", "rate", "changed"), [(1_000, 10, 0.01, 100), (333, 7, 0.001, 2), (50, 2, 0.0, 0)])
def test_the_scale_generator_changes_exactly_the_asked_share(skus, locations, rate, changed):
    import duckdb

    assert build_snapshots(duckdb.connect(), Scale(skus, locations, rate)) == changed


def test_an_unknown_benchmark_is_refused_with_the_list():
    outcome = CliRunner().invoke(app, ["bench", "--only", "nope"])
    assert outcome.exit_code == 2 and "available: delta" in outcome.output
