"""`omnisync bench --quick --json` is the CI check of the benchmark harness, for every registered POS: it
runs end to end at small sizes, prints one JSON object per benchmark (each with its in-run baseline),
the API economy holds for every flow and system that writes (≤ 1.0 write per changed record; for stock
also ≥ 100× fewer calls than a naive full push), no POS budget refused a request (the connector's
scheduler paces itself), and the initial sync says where its time went and read the POS exactly.
Nothing here asserts on time: the machine is shared and the sizes are small."""

import json

import pytest
from typer.testing import CliRunner

from omnisync_pipelines import systems
from omnisync_pipelines.bench import cli as bench_cli
from omnisync_pipelines.bench.pos_hooks import connector_bench
from omnisync_pipelines.bench.runner import BENCHMARKS
from omnisync_pipelines.bench.scale import Scale, build_snapshots
from omnisync_pipelines.cli import app


# fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=systems.pos_ids())
def pos(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def results(pos):
    if pos == systems.DEFAULT_POS:  # the command as CI runs it
        outcome = CliRunner().invoke(app, ["bench", "--quick", "--json"])
        assert outcome.exit_code == 0, outcome.output
        return json.loads(outcome.stdout)
    printed: list[str] = []
    assert bench_cli.main(quick=True, as_json=True, only=None, echo=printed.append, pos=pos) == 0, printed
    return json.loads(printed[-1])


# tests ---------------------------------------------------------------------------------------
def test_every_benchmark_reports_figures_and_a_baseline(results, pos):
    assert {r["name"] for r in results} == set(BENCHMARKS)
    for r in results:  # a benchmark that stops measuring (status "gap" or "error") fails CI
        if r["name"] == "latency" and not systems.pos_plugin(pos).capabilities.fast_lane:
            assert r["status"] == "gap" and "fast lane" in r["bounds"], r  # polled: no webhook to time
            continue
        assert r["status"] == "ok", r
        assert r["figures"] and r["baseline"] and r["ratio"] is not None, r


def test_no_pos_budget_refused_a_request_in_any_run(results, pos):
    for r in results:
        for side in (r["figures"], r["baseline"]):
            assert side.get("throttled_429", 0) == 0 and not side.get("refused_by_budget"), r
            assert not side.get("pos_refused_by_budget"), r


def test_the_delta_run_writes_at_most_once_per_changed_record_and_far_less_than_a_full_push(results, pos):
    [economy] = [r for r in results if r["name"] == "economy" and r["flow"].startswith("stock_")]
    assert economy["flow"] == f"stock_{pos}_to_commercetools" and economy["system"] == "commercetools"
    assert 0 < economy["writes_per_changed_record"] <= 1.0
    assert economy["figures"]["applied"] == economy["figures"]["changed_records"]
    assert economy["baseline"]["calls"] >= 100 * economy["figures"]["calls"]


def test_catalog_and_customer_changes_cost_at_most_one_write_each_in_every_direction(results, pos):
    economy = {(r["flow"], r["system"]): r for r in results if r["name"] == "economy"}
    assert set(economy) >= {
        (f"catalog_commercetools_to_{pos}", pos),
        (f"customers_{pos}_to_commercetools", "commercetools"),
        (f"customers_commercetools_to_{pos}", pos),
    }
    for r in economy.values():
        changed = r["figures"]["changed_records"]
        assert changed > 0 and r["figures"]["applied"] >= 1, r  # the changes were found and written
        assert 0 < r["writes_per_changed_record"] <= 1.0, r
        assert r["baseline"]["writes"] >= r["baseline"]["records"] > changed, r  # the naive push wrote them all
        assert r["baseline"]["calls"] > r["figures"]["calls"], r
        if "budget_units_per_changed_record" in r:  # a budget in units: the delta spends far fewer than the push
            assert 0 < r["budget_units_per_changed_record"] < r["baseline"]["budget_units_per_changed_record"] / 10, r


def test_the_initial_sync_reads_the_pos_exactly_and_says_where_the_time_went(results, pos):
    runs = [r for r in results if r["name"] == "initial_sync"]
    assert runs
    for r in runs:
        figures = r["figures"]
        assert figures["snapshot_matches_pos"] is True
        assert set(figures["time_split_s"]) == {"pos_http_client_s", "pos_emulator_s", "rate_limit_wait_s", "engine_s",
                                                "ct_http_client_s", "ct_emulator_s"}
        assert abs(sum(figures["time_split_s"].values()) - figures["seconds"]) < 0.01
        if figures["pos_budget_unit"] == "units":  # a leaky bucket: charged what the read cost model prices
            cost = connector_bench(pos).read_cost(r["scale"]["skus"], r["scale"]["locations"])
            assert figures["pos_budget_used"] == cost.figures["pos_units"] and figures["pos_calls"] > cost.requests
        else:
            assert figures["pos_calls"] >= 4 and figures["pos_budget_used"] == figures["pos_calls"]
    extrapolated = runs[-1]["figures"]["extrapolated_100k_x_50"]
    assert extrapolated["records"] == 5_000_000
    floors = extrapolated["rate_limit_floor_s"]  # the worst account first: fewer registers, less budget
    assert list(floors) == ["one_register", "one_register_per_store"] and floors["one_register"] >= floors[
        "one_register_per_store"]


def test_a_delta_read_costs_what_moved_not_the_catalog(results, pos):
    """Each Dagster step's connector starts with nothing in memory: a delta read must not rebuild a SKU
    index of the whole catalog (R-Series: 1,000 requests of drip at 100,000 SKUs)."""
    [r] = [r for r in results if r["name"] == "delta_read"]
    assert r["figures"]["rows_read"] == r["figures"]["moved"] == r["baseline"]["rows_read"], r
    assert r["figures"]["skus"] == 4 * r["baseline"]["skus"]
    assert r["figures"]["requests"] < r["figures"]["full_read"]["requests"], r
    assert r["met"] and r["ratio"] <= 1.3, r


def test_delta_and_scaling_find_exactly_the_changed_rows(results, pos):
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
