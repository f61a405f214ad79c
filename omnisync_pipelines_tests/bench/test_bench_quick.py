"""`omnisync bench --quick --json` is the CI check of the benchmark harness: it runs end to end at
small sizes, prints one JSON object per benchmark (each with its in-run baseline), and the API
economy holds (≤ 1.0 write per changed record, ≥ 100× fewer calls than a naive full push).
Nothing here asserts on time: the machine is shared and the sizes are small."""

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
    [economy] = [r for r in results if r["name"] == "economy"]
    assert economy["flow"] == "stock_lightspeed_x_to_commercetools" and economy["system"] == "commercetools"
    assert 0 < economy["writes_per_changed_record"] <= 1.0
    assert economy["figures"]["applied"] == economy["figures"]["changed_records"]
    assert economy["baseline"]["calls"] >= 100 * economy["figures"]["calls"]


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
