"""Run a job of the code location as a real Dagster run in the instance named by DAGSTER_HOME."""

from __future__ import annotations

from dataclasses import dataclass

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


QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_job(
    job_name: str, instance: dg.DagsterInstance | None = None, tags: dict | None = None, quiet: bool = True
) -> RunOutcome:
    definitions = load_definitions()
    job = definitions.resolve_job_def(job_name)
    instance = instance or dg.DagsterInstance.get()
    result = job.execute_in_process(instance=instance, raise_on_error=False, tags=tags, run_config=QUIET if quiet else None)
    failures = [
        f"{event.step_key}: {event.event_specific_data.error.message.strip().splitlines()[0]}"
        for event in result.all_events
        if event.event_type_value == "STEP_FAILURE" and event.event_specific_data and event.event_specific_data.error
    ]
    materialized = sum(1 for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION")
    return RunOutcome(job_name, result.run_id, result.success, failures, materialized)
