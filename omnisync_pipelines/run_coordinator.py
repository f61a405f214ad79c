"""The instance's run coordinator: Dagster's run queue, plus "no store chosen means every store".

A job holding the stock flow's location partitions (full_sync, delta_sync, stock_sync, an asset
selection that includes the stock plan or push) cannot run without a partition or range once the
plan has been materialized: Dagster then stops at the push with "Cannot access partition_key for a
non-partitioned run". The schedules give their runs the range of all configured stores; this
coordinator does the same for whatever else submits one without (the UI's Launchpad or Materialize,
a sensor, `dagster job launch`, `omnisync sync` through the queue) before it is queued, and
`runs.run_job` applies the same rule to a run a command executes itself.

dagster.yaml and dagster.postgres.yaml name it as `run_coordinator`. Its settings are those of
Dagster's QueuedRunCoordinator.
"""

from __future__ import annotations

import logging

from dagster._core.run_coordinator.base import SubmitRunContext
from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

log = logging.getLogger("omnisync.run_coordinator")


class EveryStoreRunCoordinator(QueuedRunCoordinator):
    """QueuedRunCoordinator that gives a run over the location partitions, submitted with none
    chosen, the range of every configured store."""

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = over_every_store_if_unchosen(self._instance, context.dagster_run, context.workspace)
        return super().submit_run(SubmitRunContext(run, context.workspace))


def over_every_store_if_unchosen(instance, run: DagsterRun, workspace) -> DagsterRun:
    """The run, given the range of every configured store when it holds the location partitions and
    chose none. Also applied by `runs.run_job` to the runs a command executes itself."""
    if _chose_partitions(run) or not _holds_location_partitions(run, workspace):
        return run
    from omnisync_pipelines.defs.jobs import every_configured_location_tags

    tags = every_configured_location_tags(instance)
    if not tags:
        return run
    instance.add_run_tags(run.run_id, tags)
    log.info("run %s of %s names no store: it runs over every configured store", run.run_id, run.job_name)
    return instance.get_run_by_id(run.run_id) or run


def _chose_partitions(run: DagsterRun) -> bool:
    return run.partitions_subset is not None or any(
        tag in run.tags for tag in (PARTITION_NAME_TAG, ASSET_PARTITION_RANGE_START_TAG))


def _holds_location_partitions(run: DagsterRun, workspace) -> bool:
    """Whether the run's job is partitioned by the stock flow's location partitions."""
    from omnisync_pipelines.defs.stock_flow import LOCATIONS

    origin = run.remote_job_origin
    if origin is None or workspace is None:
        return False
    repository = origin.repository_origin
    try:
        location = workspace.get_code_location(repository.code_location_origin.location_name)
        remote_repo = location.get_repository(repository.repository_name)
        partition_sets = [p for p in remote_repo.get_partition_sets() if p.job_name == run.job_name]
        return any(p.has_partitions_definition() and getattr(p.get_partitions_definition(), "name", None) == LOCATIONS.name
                   for p in partition_sets)
    except Exception:  # a location that does not load: Dagster itself reports that at launch
        log.debug("could not inspect the job of run %s", run.run_id, exc_info=True)
        return False
