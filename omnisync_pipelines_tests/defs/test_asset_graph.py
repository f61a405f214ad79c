"""The asset graph reads at a glance (issue 22).

Contract:
- the graph labels a node with the last part of its key only (dagster-webserver 1.13, AssetNode:
  `assetKey.path[assetKey.path.length - 1]`), so a plan and its push share a label; each carries its
  stage as a kind, which every node shows by default, so no two nodes show the same label and kinds;
- every asset has the integration team as owner and a stage and a system tag, both read off its key;
- every asset backed by a declared DuckDB table has that table's columns as its column schema, and a
  snapshot's are its pandera schema's columns;
- every table an asset writes reports its rows as `dagster/row_count`;
- every stock push carries a freshness policy of N minutes (`OMNISYNC_STOCK_FRESHNESS_MINUTES`,
  default 30): PASS right after a push, WARN past half of N, FAIL past N, UNKNOWN before any push;
- the code location runs its jobs with the in-process executor.
"""

import asyncio
import datetime

import dagster as dg
import duckdb
import pytest
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.definitions.freshness_evaluator import FRESHNESS_EVALUATORS_BY_POLICY_TYPE
from dagster._core.loader import LoadingContextForTest
from dagster._core.test_utils import freeze_time

from omnisync_pipelines import systems
from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.defs import freshness
from omnisync_pipelines.defs.asset_policy import EVERY_SYSTEM, OWNER, STAGE_TAG, SYSTEM_TAG
from omnisync_pipelines.defs.jobs import launch_tags
from omnisync_pipelines.defs.specs import MODE_TAG
from omnisync_pipelines.defs.stock_flow import LOCATIONS
from omnisync_pipelines.engine.stock_plan import stock_flow
from omnisync_pipelines.runs import load_definitions
from omnisync_pipelines.store import warehouse_schema
from omnisync_pipelines_tests.defs.conftest import running_sandbox

POS = systems.DEFAULT_POS
STAGES = {"snapshot", "plan", "push", "reconcile", "ops", "analysts"}


# fixtures ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return load_definitions()


@pytest.fixture(scope="module")
def specs(definitions) -> dict[dg.AssetKey, dg.AssetSpec]:
    return {spec.key: spec for spec in definitions.resolve_all_asset_specs()}


@pytest.fixture(scope="module")
def stock_path_run(tmp_path_factory):
    """A full run of the default POS's stock path (its stock snapshot, the commercetools catalog, the
    plan and the push, every store) against a sandbox; yields the sandbox and the run's result."""
    with running_sandbox(tmp_path_factory.mktemp("asset-graph")) as box, dg.instance_for_test() as instance:
        definitions = load_definitions()
        flow = stock_flow(box.pos)
        selection = dg.AssetSelection.assets([box.pos, "stock"], ["commercetools", "catalog"], ["plan", flow], ["push", flow])
        job = definitions.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection=selection.resolve(definitions.resolve_asset_graph()))
        result = job.execute_in_process(instance=instance, tags=launch_tags(instance, job, {MODE_TAG: "full"}),
                                        raise_on_error=False)
        yield box, result


def label(key: dg.AssetKey) -> str:
    """What the asset graph writes on the node."""
    return key.path[-1]


def column_names(spec: dg.AssetSpec) -> list[str]:
    schema = spec.metadata["dagster/column_schema"]
    return [column.name for column in getattr(schema, "schema", schema).columns]


def freshness_state(definitions: dg.Definitions, instance: dg.DagsterInstance, key: dg.AssetKey) -> FreshnessState:
    """The state the Dagster daemon's freshness evaluation gives the asset now."""
    node = definitions.resolve_asset_graph().get(key)
    evaluator = FRESHNESS_EVALUATORS_BY_POLICY_TYPE[type(node.freshness_policy_or_from_metadata)]()
    return asyncio.run(evaluator.evaluate_freshness(LoadingContextForTest(instance), node))


# tests -------------------------------------------------------------------------------------------

def test_a_plan_and_its_push_share_a_label_but_not_their_kinds(specs):
    pairs = [(key, dg.AssetKey(["push", key.path[1]])) for key in specs
             if key.path[0] == "plan" and dg.AssetKey(["push", key.path[1]]) in specs]
    assert pairs
    for plan, push in pairs:
        assert label(plan) == label(push)
        assert "plan" in specs[plan].kinds and "plan" not in specs[push].kinds
        assert "push" in specs[push].kinds and "push" not in specs[plan].kinds


def test_no_two_nodes_show_the_same_label_and_kinds(specs):
    shown = [(label(key), frozenset(spec.kinds)) for key, spec in specs.items()]
    assert len(set(shown)) == len(shown)


def test_every_asset_has_an_owner_a_stage_and_a_system(specs):
    for key, spec in specs.items():
        assert spec.owners == [OWNER], key
        assert spec.tags[STAGE_TAG] in STAGES, key
        assert spec.tags[SYSTEM_TAG] in {*systems.system_ids(), EVERY_SYSTEM}, key


@pytest.mark.parametrize(("key", "stage", "system"), [
    ([POS, "stock"], "snapshot", POS),
    (["commercetools", "catalog"], "snapshot", "commercetools"),
    (["plan", stock_flow(POS)], "plan", POS),
    (["push", stock_flow(POS)], "push", POS),
    (["push", "availability_to_commercetools"], "push", "commercetools"),
    (["reconciliation", "stock"], "reconcile", EVERY_SYSTEM),
    (["drift", "stock_history"], "reconcile", EVERY_SYSTEM),
    (["ops", "ledger"], "ops", EVERY_SYSTEM),
    (["analysts", "warehouse"], "analysts", EVERY_SYSTEM),
])
def test_stage_and_system_are_read_off_the_key(specs, key, stage, system):
    tags = specs[dg.AssetKey(key)].tags
    assert (tags[STAGE_TAG], tags[SYSTEM_TAG]) == (stage, system)


def test_a_snapshot_lists_the_columns_of_its_pandera_schema(specs):
    snapshots = [key for key, spec in specs.items() if spec.tags[STAGE_TAG] == "snapshot"]
    assert snapshots
    for key in snapshots:
        _, model = schemas.REGISTRY[key.path[1]]
        assert sorted(column_names(specs[key])) == sorted(model.to_schema().columns), key


def test_every_declared_table_carries_its_column_schema(specs):
    declared = {key: warehouse_schema.declared(*key.path) for key in specs}
    assert sum(table is not None for table in declared.values()) == len(specs) - 1  # all but the analysts' file
    for key, table in declared.items():
        if table is not None:
            assert column_names(specs[key]) == table.names, key


def test_every_table_written_reports_its_row_count(stock_path_run):
    box, result = stock_path_run
    assert result.success
    flow = stock_flow(box.pos)
    materializations = result.get_asset_materialization_events()
    keys = {tuple(event.asset_key.path) for event in materializations}
    assert keys == {(box.pos, "stock"), ("commercetools", "catalog"), ("plan", flow), ("push", flow)}
    with duckdb.connect(str(box.data_dir / "omnisync.duckdb"), read_only=True) as con:
        held = {key: con.execute(f"SELECT count(*) FROM {key[0]}.{key[1]}").fetchone()[0] for key in keys}
    assert held[("push", flow)] == held[("plan", flow)] > 0  # every planned count pushed, every store
    for event in materializations:  # the partitioned plan and push: one per store, the rows of the run
        metadata = event.step_materialization_data.materialization.metadata
        assert metadata["dagster/row_count"].value == held[tuple(event.asset_key.path)], event.asset_key


def test_every_stock_push_carries_the_freshness_policy(specs):
    pushes = {key for key, spec in specs.items() if spec.freshness_policy is not None}
    assert pushes == {key for key, spec in specs.items() if key.path[0] == "push" and spec.group_name == "stock"}
    minutes = freshness.DEFAULT_MINUTES
    for key in pushes:
        policy = specs[key].freshness_policy
        assert policy.fail_window.to_timedelta() == datetime.timedelta(minutes=minutes)
        assert policy.warn_window.to_timedelta() == datetime.timedelta(minutes=minutes / 2)


def test_a_stock_push_is_fresh_after_a_push_then_warns_then_fails(definitions):
    push = dg.AssetKey(["push", stock_flow(POS)])
    with dg.instance_for_test() as instance:
        assert freshness_state(definitions, instance, push) == FreshnessState.UNKNOWN  # never pushed
        instance.add_dynamic_partitions(LOCATIONS.name, ["a-store"])
        instance.report_runless_asset_event(dg.AssetMaterialization(push, partition="a-store"))
        pushed = datetime.datetime.now(datetime.UTC)
        assert freshness_state(definitions, instance, push) == FreshnessState.PASS
        for minutes, state in ((freshness.DEFAULT_MINUTES / 2 + 1, FreshnessState.WARN),
                               (freshness.DEFAULT_MINUTES + 1, FreshnessState.FAIL)):
            with freeze_time(pushed + datetime.timedelta(minutes=minutes)):
                assert freshness_state(definitions, instance, push) == state, minutes


def test_the_freshness_window_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(freshness.ENV, "10")
    policy = freshness.stock_freshness_policy()
    assert (policy.fail_window.to_timedelta(), policy.warn_window.to_timedelta()) == (
        datetime.timedelta(minutes=10), datetime.timedelta(minutes=5))
    monkeypatch.setenv(freshness.ENV, "ten")
    with pytest.raises(ValueError, match=freshness.ENV):
        freshness.stock_freshness_policy()


def test_every_job_runs_in_process(definitions):
    for job in ("full_sync", "delta_sync", "reconcile", "stock_sync"):
        assert definitions.resolve_job_def(job).executor_def.name == dg.in_process_executor.name, job
