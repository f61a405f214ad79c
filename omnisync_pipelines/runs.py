"""Run a job of the code location as a real Dagster run in the instance named by DAGSTER_HOME.

Every run started here (`omnisync sync`, `reconcile`, the demo) is created the way the UI creates
one: with the code location's origin (`LOCATION_NAME`, the name the UI and the daemon load it under),
so it is in the UI's run timeline, the run-failure sensor sees it, and it can be re-executed from the
UI. When a daemon serves the instance's run queue, the run is submitted to that queue (its limits and
pools apply; the daemon launches it) and followed from here. Without one (a laptop, the demo), the
run is executed in this process, where it takes the same pool slots from the instance as any run.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import psutil
from dagster._core.events import DagsterEvent

log = logging.getLogger("omnisync.runs")

DEFINITIONS_MODULE = "omnisync_pipelines.definitions"
LOCATION_NAME = "omnisync_pipelines"  # pyproject's [tool.dagster] code_location_name; workspace.yaml's location_name
QUEUE_HEARTBEAT_S = 60  # a queue daemon silent longer than this does not serve the queue


@dataclass
class RunOutcome:
    job: str
    run_id: str
    success: bool
    failures: list[str]
    materialized: int
    assets: dict[str, dict] = field(default_factory=dict)  # "asset/key [partition]" -> its materialization's metadata
    seconds: float = 0.0
    launched: str = "here"  # "here" (this process) or "queue" (the daemon launched it)
    outputs: dict[str, dict] = field(default_factory=dict)  # op step -> its output's metadata (op jobs)

    def summary(self) -> str:
        state = "succeeded" if self.success else "FAILED"
        text = f"{self.job} {state} (run {self.run_id[:8]}, {self.materialized} materializations, {self.seconds:.1f} s)"
        return text + "".join(f"\n  {f}" for f in self.failures)


def load_definitions() -> dg.Definitions:
    from omnisync_pipelines.definitions import defs

    return defs() if callable(defs) and not isinstance(defs, dg.Definitions) else defs


class DagsterHomeMissing(SystemExit):
    """DAGSTER_HOME unset or not a directory. A SystemExit so that a command that does not check the
    setup first (`preflight`, exit 2) still ends with this message instead of Dagster's traceback."""


PROJECT_INSTANCE_YAML = Path(__file__).parent.parent / "dagster.yaml"  # the local instance: pools, run coordinator


def prepare_dagster_home(home: Path) -> Path:
    """A Dagster home for the sandbox (the demo, the live sandbox, tests): the directory, with the
    project's dagster.yaml."""
    home.mkdir(parents=True, exist_ok=True)
    if PROJECT_INSTANCE_YAML.exists() and not (home / "dagster.yaml").exists():
        shutil.copy(PROJECT_INSTANCE_YAML, home / "dagster.yaml")
    return home


def dagster_instance() -> dg.DagsterInstance:
    """The persistent instance of DAGSTER_HOME, where runs, events and schedules are kept."""
    home = os.environ.get("DAGSTER_HOME", "").strip()
    if not home:
        raise DagsterHomeMissing(
            "DAGSTER_HOME is not set: it names the directory of the Dagster instance that records the runs. "
            "Set it to an existing directory holding the project's dagster.yaml, e.g. "
            "`mkdir -p data/dagster_home && cp dagster.yaml data/dagster_home/ && "
            "export DAGSTER_HOME=$PWD/data/dagster_home`."
        )
    if not Path(home).is_dir():
        raise DagsterHomeMissing(
            f"DAGSTER_HOME={home} is not an existing directory: create it (with the project's "
            "dagster.yaml in it) or point DAGSTER_HOME at the instance's directory."
        )
    if not (Path(home) / "dagster.yaml").is_file():
        raise DagsterHomeMissing(
            f"DAGSTER_HOME={home} holds no dagster.yaml: copy the project's dagster.yaml there (its run "
            "coordinator and the DuckDB pool keep runs from failing each other)."
        )
    return dg.DagsterInstance.get()


QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_job(
    job_name: str, instance: dg.DagsterInstance | None = None, tags: dict | None = None, quiet: bool = True,
    on_event: Callable[[DagsterEvent], None] | None = None, run_config: dict | None = None,
) -> RunOutcome:
    """Create the run in the instance as the UI would, run it (the queue's daemon, else this process),
    and follow it to its end; `on_event` sees each of its events as it happens."""
    from omnisync_pipelines.run_coordinator import over_every_store_if_unchosen

    instance = instance or dagster_instance()  # before loading the definitions: a wrong setup fails fast
    started = time.monotonic()
    follower = _Follower(job_name, on_event)
    tags = dict(tags or {})
    with code_location_workspace(instance) as workspace:
        config = {**(QUIET if quiet else {}), **(run_config or {})}
        if queue_is_served(instance):  # the instance's coordinator gives it every store if it chose none
            run = create_run(instance, workspace, job_name, config, tags)
            follower.launched = "queue"
            instance.submit_run(run.run_id, workspace)
            follow_queued(instance, run.run_id, follower)
        else:
            give_back_slots_of_dead_runs(instance)
            run = create_run(instance, workspace, job_name, config, {**tags, **this_process_tags()})
            execute_here(instance, over_every_store_if_unchosen(instance, run, workspace), follower)
    final = instance.get_run_by_id(run.run_id)
    return follower.outcome(run.run_id, final is not None and final.status == dg.DagsterRunStatus.SUCCESS,
                            time.monotonic() - started)


@contextmanager
def code_location_workspace(instance: dg.DagsterInstance) -> Iterator:
    """The code location loaded in this process under the name the UI and daemon give it."""
    from dagster._core.definitions.reconstruct import ReconstructableJob
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    # Dagster keeps the last job it reconstructed in this process; a run must see the configuration and
    # environment (resources, the configured POS) as they are when it starts, not as an earlier run did.
    ReconstructableJob.get_definition.cache_clear()
    ReconstructableJob.get_repository_definition.cache_clear()
    origin = InProcessCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(
            executable_path=sys.executable, module_name=DEFINITIONS_MODULE, working_directory=os.getcwd()),
        location_name=LOCATION_NAME,
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as process:
        workspace = process.create_request_context()
        error = workspace.get_code_location_error(LOCATION_NAME)
        if error is not None:
            raise RuntimeError(f"the code location {LOCATION_NAME} did not load: {error.message.strip()}")
        yield workspace


def create_run(instance: dg.DagsterInstance, workspace, job_name: str, run_config: dict, tags: dict) -> dg.DagsterRun:
    """The run as `dagster job launch` and the UI create it: job and plan snapshots, the location's origin."""
    from dagster._core.definitions.selector import JobSubsetSelector

    location = workspace.get_code_location(LOCATION_NAME)
    (repository,) = location.get_repositories().values()
    remote_job = location.get_job(JobSubsetSelector(
        location_name=LOCATION_NAME, repository_name=repository.name, job_name=job_name, op_selection=None))
    plan = location.get_execution_plan(remote_job, run_config, step_keys_to_execute=None, known_state=None,
                                       instance=instance).execution_plan_snapshot
    return instance.create_run(
        job_name=job_name, run_id=None, run_config=run_config, resolved_op_selection=None,
        step_keys_to_execute=plan.step_keys_to_execute, op_selection=None, status=None, root_run_id=None,
        parent_run_id=None, tags={**remote_job.tags, **tags}, job_snapshot=remote_job.job_snapshot,
        execution_plan_snapshot=plan, parent_job_snapshot=remote_job.parent_job_snapshot,
        remote_job_origin=remote_job.get_remote_origin(), job_code_origin=remote_job.get_python_origin(),
        asset_selection=None, asset_check_selection=None, asset_graph=repository.asset_graph,
    )


def execute_here(instance: dg.DagsterInstance, run: dg.DagsterRun, on_event) -> None:
    """Execute the run in this process. Stopped before its end (Ctrl-C, a crash of this process's own
    code), it is marked canceled and its pool slots are given back: otherwise the next run of any job
    would wait for those slots forever."""
    from dagster._core.execution.api import execute_run_iterator
    from dagster._utils.hosted_user_process import recon_job_from_origin

    try:
        for event in execute_run_iterator(recon_job_from_origin(run.job_code_origin), run, instance):
            on_event(event)
    finally:
        current = instance.get_run_by_id(run.run_id)
        if current is not None and not current.is_finished:
            instance.report_run_canceled(current, message="stopped before its end by the process that ran it")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


# A run executed here names the process executing it, so that a later command can tell it from a run
# still going when that process died (SIGKILL, power loss): nobody else would ever end such a run.
HOST_TAG, PID_TAG, STARTED_TAG = "omnisync/host", "omnisync/pid", "omnisync/pid_started"


def this_process_tags() -> dict[str, str]:
    me = psutil.Process()
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(me.pid), STARTED_TAG: f"{me.create_time():.2f}"}


def give_back_slots_of_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Runs executed on this machine by a process that is gone: marked failed, their pool slots given
    back. Without this, the DuckDB slot a killed command held would keep every later run waiting."""
    reaped = []
    unfinished = instance.get_runs(filters=dg.RunsFilter(
        statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED], tags={HOST_TAG: socket.gethostname()}))
    for run in unfinished:
        if not _process_alive(int(run.tags.get(PID_TAG, 0)), run.tags.get(STARTED_TAG, "")):
            instance.report_run_failed(run, message=f"the process {run.tags.get(PID_TAG)} that executed this run "
                                                    "is gone (killed or crashed) before the run ended")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            reaped.append(run.run_id)
            log.warning("run %s of %s: its process is gone; marked failed, its pool slots given back",
                        run.run_id, run.job_name)
    return reaped


def _process_alive(pid: int, started: str) -> bool:
    try:
        return f"{psutil.Process(pid).create_time():.2f}" == started  # not a later process given the same pid
    except (psutil.NoSuchProcess, ValueError):
        return False


def queue_is_served(instance: dg.DagsterInstance) -> bool:
    """Whether a daemon dequeues this instance's queued runs (its heartbeat is recent)."""
    from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator

    if not isinstance(instance.run_coordinator, QueuedRunCoordinator):
        return False
    beat = instance.get_daemon_heartbeats().get("QUEUED_RUN_COORDINATOR")
    return beat is not None and time.time() - beat.timestamp < QUEUE_HEARTBEAT_S


def follow_queued(instance: dg.DagsterInstance, run_id: str, on_event, poll_s: float = 0.5) -> None:
    """Feed `on_event` the run's events from the event log until the run has finished."""
    cursor = None
    while True:
        finished = instance.get_run_by_id(run_id).is_finished
        while True:
            page = instance.get_records_for_run(run_id, cursor=cursor, limit=500)
            cursor = page.cursor
            for record in page.records:
                if record.event_log_entry.dagster_event is not None:
                    on_event(record.event_log_entry.dagster_event)
            if not page.has_more:
                break
        if finished:
            return
        time.sleep(poll_s)


class _Follower:
    """Collects the outcome of a run from its events, passing each on."""

    def __init__(self, job: str, on_event):
        self.job, self.on_event, self.launched = job, on_event, "here"
        self.failures: list[str] = []
        self.assets: dict[str, dict] = {}
        self.outputs: dict[str, dict] = {}
        self.materialized = 0

    def __call__(self, event: DagsterEvent) -> None:
        # This runs inside the run's own steps (in-process executor): a fault here must not fail them.
        try:
            self._collect(event)
            if self.on_event is not None:
                self.on_event(event)
        except Exception:
            log.exception("following the run of %s failed at a %s event", self.job, event.event_type_value)

    def _collect(self, event: DagsterEvent) -> None:
        if event.event_type_value == "STEP_FAILURE" and event.event_specific_data and event.event_specific_data.error:
            self.failures.append(f"{event.step_key}: {first_line(event.event_specific_data.error)}")
        elif event.event_type_value == "STEP_OUTPUT" and event.step_output_data.metadata:
            self.outputs[event.step_key] = metadata_values(event.step_output_data.metadata)
        elif event.event_type_value == "ASSET_MATERIALIZATION":
            self.materialized += 1
            materialization = event.event_specific_data.materialization
            partition = f" [{materialization.partition}]" if materialization.partition else ""
            self.assets[materialization.asset_key.to_user_string() + partition] = metadata_values(
                materialization.metadata)

    def outcome(self, run_id: str, success: bool, seconds: float) -> RunOutcome:
        return RunOutcome(self.job, run_id, success, self.failures, self.materialized, self.assets, seconds,
                          self.launched, self.outputs)


def metadata_values(metadata) -> dict:
    """Dagster metadata entries as the plain values they hold."""
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


def first_line(error) -> str:
    """The first line of the innermost error: the asset's own exception, not Dagster's wrapper."""
    while error.cause is not None:
        error = error.cause
    return (error.message.strip().splitlines() or ["unknown error"])[0]
