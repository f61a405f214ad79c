"""Run a job of the code location as a real Dagster run in the instance named by DAGSTER_HOME."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg


@dataclass
class RunOutcome:
    job: str
    run_id: str
    success: bool
    failures: list[str]
    materialized: int

    def summary(self) -> str:
        state = "succeeded" if self.success else "FAILED"
        text = f"{self.job} {state} (run {self.run_id[:8]}, {self.materialized} materializations)"
        return text + "".join(f"\n  {f}" for f in self.failures)


def load_definitions() -> dg.Definitions:
    from omnisync_pipelines.definitions import defs

    return defs() if callable(defs) and not isinstance(defs, dg.Definitions) else defs


class DagsterHomeMissing(SystemExit):
    """DAGSTER_HOME unset or not a directory. A SystemExit so that the CLI ends with this message on
    stderr and status 1 instead of Dagster's traceback (typer 0.29 formats only its vendored click errors)."""


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
    return dg.DagsterInstance.get()


QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_job(
    job_name: str, instance: dg.DagsterInstance | None = None, tags: dict | None = None, quiet: bool = True
) -> RunOutcome:
    instance = instance or dagster_instance()  # before loading the definitions: a wrong setup fails fast
    definitions = load_definitions()
    job = definitions.resolve_job_def(job_name)
    from omnisync_pipelines.defs.jobs import launch_tags

    tags = launch_tags(instance, job, tags)  # a job with the stock flow's location partitions: every store
    result = job.execute_in_process(instance=instance, raise_on_error=False, tags=tags, run_config=QUIET if quiet else None)
    failures = [
        f"{event.step_key}: {event.event_specific_data.error.message.strip().splitlines()[0]}"
        for event in result.all_events
        if event.event_type_value == "STEP_FAILURE" and event.event_specific_data and event.event_specific_data.error
    ]
    materialized = sum(1 for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION")
    return RunOutcome(job_name, result.run_id, result.success, failures, materialized)
