"""Runs as operators start them, on the instance they share with the UI and the daemon.

Stories: a sync started from the terminal is a run of the code location (in the UI's timeline, with
every store); a full_sync launched from the UI with no store chosen runs over every store instead of
failing at the stock push; a failed terminal run raises the failure alert the daemon's sensor sends.
One sandbox (the default POS) for the module: this is about Dagster plumbing, not about a POS.
"""

import socket
import subprocess
import sys

import dagster as dg
import psutil
import pytest
import yaml
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from omnisync_pipelines.defs.operations import run_failure_alert
from omnisync_pipelines.defs.resources import OmnisyncResource
from omnisync_pipelines.run_coordinator import EveryStoreRunCoordinator
from omnisync_pipelines.runs import (
    HOST_TAG,
    LOCATION_NAME,
    PID_TAG,
    STARTED_TAG,
    code_location_workspace,
    create_run,
    give_back_slots_of_dead_runs,
    load_definitions,
    run_job,
)
from omnisync_pipelines.store.audit import frame, run_failures
from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines_tests.defs.conftest import environment, running_sandbox

INSTANCE = {
    "run_coordinator": {"module": "omnisync_pipelines.run_coordinator", "class": "EveryStoreRunCoordinator"},
    # what the daemon's launcher does, but in this process: the run worker executes the queued run
    "run_launcher": {"module": "dagster._core.launcher.sync_in_memory_run_launcher", "class": "SyncInMemoryRunLauncher"},
}


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with running_sandbox(tmp_path_factory.mktemp("launches")) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def instance(box):
    with dg.instance_for_test(overrides=INSTANCE) as test_instance:
        yield test_instance


def stores(box) -> list[str]:
    return [location["key"] for location in yaml.safe_load((box.data_dir / "omnisync.yaml").read_text())["locations"]]


def failure_sensor_tick(instance, box, cursor):
    """One evaluation of the run-failure sensor as the daemon makes it: in the code location's name."""
    origin = InProcessCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(module_name="omnisync_pipelines.definitions"),
        location_name=LOCATION_NAME)
    context = dg.SensorEvaluationContext(
        instance_ref=None, last_tick_completion_time=None, last_run_key=None, cursor=cursor,
        repository_name="__repository__", instance=instance, code_location_origin=origin,
        repository_def=load_definitions().get_repository_def(),
        resources={"omnisync": OmnisyncResource(ops_url=box.env["OMNISYNC_OPS_URL"])},
    )
    return run_failure_alert.evaluate_tick(context)


def test_a_sync_from_the_terminal_is_a_run_of_the_code_location_over_every_store(box, instance):
    outcome = run_job("full_sync", instance=instance)

    assert outcome.success, outcome.failures
    run = instance.get_run_by_id(outcome.run_id)
    assert run.remote_job_origin.repository_origin.code_location_origin.location_name == LOCATION_NAME
    assert run.tags["dagster/code_location"] == LOCATION_NAME
    assert (run.tags[ASSET_PARTITION_RANGE_START_TAG], run.tags[ASSET_PARTITION_RANGE_END_TAG]) == (
        stores(box)[0], stores(box)[-1])
    assert outcome.launched == "here"  # no daemon serves this instance's queue
    assert outcome.assets["reconciliation/stock"]["drift"] == 0


def test_a_full_sync_launched_from_the_ui_with_no_store_chosen_runs_over_every_store(box, instance):
    with code_location_workspace(instance) as workspace:
        run = create_run(instance, workspace, "full_sync", {}, tags={})  # as the Launchpad makes it
        assert ASSET_PARTITION_RANGE_START_TAG not in run.tags
        assert isinstance(instance.run_coordinator, EveryStoreRunCoordinator)

        instance.submit_run(run.run_id, workspace)
        queued = instance.get_run_by_id(run.run_id)
        assert queued.status == dg.DagsterRunStatus.QUEUED
        assert (queued.tags[ASSET_PARTITION_RANGE_START_TAG], queued.tags[ASSET_PARTITION_RANGE_END_TAG]) == (
            stores(box)[0], stores(box)[-1])

        instance.launch_run(run.run_id, workspace)  # the daemon takes it from the queue

    finished = instance.get_run_by_id(run.run_id)
    assert finished.status == dg.DagsterRunStatus.SUCCESS, [
        e.message for e in instance.all_logs(run.run_id) if e.dagster_event and e.dagster_event.is_step_failure]


def test_a_failed_run_from_the_terminal_raises_the_failure_alert(box, instance, tmp_path):
    first = failure_sensor_tick(instance, box, cursor=None)  # the sensor starts watching now
    broken = tmp_path / "omnisync.yaml"
    broken.write_text((box.data_dir / "omnisync.yaml").read_text().replace("locations:", "locatons:", 1))

    with environment({"OMNISYNC_CONFIG": str(broken)}):
        outcome = run_job("reconcile", instance=instance)

    assert not outcome.success
    assert any("locatons" in failure or "locations" in failure for failure in outcome.failures), outcome.failures
    tick = failure_sensor_tick(instance, box, cursor=first.cursor)
    assert tick.cursor != first.cursor
    recorded = frame(OpsStore.from_url(box.env["OMNISYNC_OPS_URL"]), run_failures)
    assert outcome.run_id in set(recorded["run_id"])



def test_a_run_stopped_at_the_terminal_gives_back_its_pool_slot(box, instance):
    def ctrl_c_once_a_step_runs(event):
        if event.event_type_value == "STEP_START":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job("reconcile", instance=instance, on_event=ctrl_c_once_a_step_runs)

    [stopped] = instance.get_runs(filters=dg.RunsFilter(job_name="reconcile"), limit=1)
    assert stopped.is_finished and stopped.status != dg.DagsterRunStatus.SUCCESS
    held = instance.event_log_storage.get_concurrency_info("duckdb").claimed_slots
    assert [slot for slot in held if slot.run_id == stopped.run_id] == []
    after = run_job("reconcile", instance=instance)
    assert after.success, after.failures  # the next run is not left waiting for the slot


def test_the_pool_slot_of_a_run_whose_process_was_killed_goes_to_the_next_command(box, instance):
    terminal = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # the command's process
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(terminal.pid),
            STARTED_TAG: f"{psutil.Process(terminal.pid).create_time():.2f}"}
    with code_location_workspace(instance) as workspace:
        killed = create_run(instance, workspace, "reconcile", {}, tags)
    instance.report_dagster_event(DagsterEvent(DagsterEventType.RUN_START.value, job_name="reconcile"), run_id=killed.run_id)
    instance.event_log_storage.claim_concurrency_slot("duckdb", killed.run_id, "reconciliation_stock")

    assert give_back_slots_of_dead_runs(instance) == []  # its process still runs: its slot is its own
    terminal.kill()
    terminal.wait()
    after = run_job("reconcile", instance=instance)

    assert after.success, after.failures
    assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
    assert all(slot.run_id != killed.run_id for slot in instance.event_log_storage.get_concurrency_info("duckdb").claimed_slots)
