"""Jobs and schedules: the same assets, in full or delta mode.

Schedule crons come from the environment (`OMNISYNC_CRON_DELTA_SYNC`, `OMNISYNC_CRON_FULL_SYNC`,
`OMNISYNC_CRON_RECONCILE`, read when the code location loads), else the defaults below.

The stock plan and push are partitioned by location. A full_sync, delta_sync or event_sync run is one
run over the whole partition range (`launch_tags`): nobody picks partitions, and every store is
synced in that run. Launching one registers the configured stores as partitions first, so a store
added to omnisync.yaml is in that very run. `stock_sync` re-syncs the stores of its partition only.
"""

import os
from collections.abc import Iterable, Mapping

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from omnisync_pipelines.config import ConfigError, load_config
from omnisync_pipelines.defs.resources import OmnisyncResource
from omnisync_pipelines.defs.specs import MODE_TAG, configured_pos
from omnisync_pipelines.defs.stock_flow import LOCATIONS


# The steps of the sync jobs call APIs: an outage longer than the HTTP layer's own retries (seconds)
# fails the step, which is tried again (`OMNISYNC_STEP_RETRIES`, default 2) after a delay that doubles
# (`OMNISYNC_STEP_RETRY_DELAY_S`, default 60) before the run fails. What cannot succeed on a retry (a
# configuration, location-map or mode problem) raises `dg.Failure(allow_retries=False)` and fails at
# once. There are no instance-wide run retries (dagster.yaml): they repeated whole runs that had
# failed on a configuration problem.
def step_retry_policy(env=os.environ) -> dg.RetryPolicy:
    retries, delay = env.get("OMNISYNC_STEP_RETRIES", "2"), env.get("OMNISYNC_STEP_RETRY_DELAY_S", "60")
    if not retries.strip().isdigit():
        raise ValueError(f"OMNISYNC_STEP_RETRIES={retries!r} is not a whole number of retries")
    try:
        seconds = float(delay)
    except ValueError:
        raise ValueError(f"OMNISYNC_STEP_RETRY_DELAY_S={delay!r} is not a number of seconds") from None
    return dg.RetryPolicy(max_retries=int(retries), delay=seconds, backoff=dg.Backoff.EXPONENTIAL,
                          jitter=dg.Jitter.PLUS_MINUS)


API_STEP_RETRY = step_retry_policy()

SYNC_SELECTION = dg.AssetSelection.all() - dg.AssetSelection.groups("reconciliation", "ops")
# Every job ends with the analysts' copy (group "analysts"; `defs/analysts_copy.py`).
RECONCILE_SELECTION = dg.AssetSelection.groups("reconciliation", "ops", "analysts")

full_sync = dg.define_asset_job(
    "full_sync",
    selection=dg.AssetSelection.all(),
    tags={MODE_TAG: "full"},
    op_retry_policy=API_STEP_RETRY,
    description="Re-read every entity of every system, plan against the baselines, push, reconcile.",
)
delta_sync = dg.define_asset_job(
    "delta_sync",
    selection=dg.AssetSelection.all(),
    tags={MODE_TAG: "delta"},
    op_retry_policy=API_STEP_RETRY,
    description="Read what changed since the stored cursors, plan, push, reconcile.",
)
reconcile = dg.define_asset_job(
    "reconcile",
    selection=RECONCILE_SELECTION,
    op_retry_policy=API_STEP_RETRY,
    description="Read both systems fresh, compare stock, orders, returns and customers, record drift "
    "(correcting stock where a store is set to correct_to_pos), without syncing.",
)


def build_stock_sync(pos_systems: tuple[str, ...]):
    return dg.define_asset_job(
        "stock_sync",
        selection=dg.AssetSelection.assets(*[[pos, "stock"] for pos in pos_systems])
        | dg.AssetSelection.groups("stock", "analysts"),
        tags={MODE_TAG: "delta"},
        op_retry_policy=API_STEP_RETRY,
    description="Re-sync the stock of one store (pick its partition) or several (a backfill: one run per "
        "store): read the POS stock since the cursor, then plan and push only those stores' counts.",
    )


def register_locations(instance: dg.DagsterInstance, location_keys: Iterable[str]) -> None:
    """Add the stores not yet known as partitions (a store that opened); known ones stay as they are."""
    known = set(instance.get_dynamic_partitions(LOCATIONS.name))
    new = [key for key in dict.fromkeys(location_keys) if key not in known]
    if new:
        instance.add_dynamic_partitions(LOCATIONS.name, new)


def every_location_tags(instance: dg.DagsterInstance, location_keys: Iterable[str] = ()) -> dict[str, str]:
    """Run tags for one run over every location partition, after registering `location_keys` (the
    configured stores). No store known at all (no configuration yet): no tags."""
    register_locations(instance, location_keys)
    keys = instance.get_dynamic_partitions(LOCATIONS.name)
    if not keys:
        return {}
    return {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}


def every_configured_location_tags(instance: dg.DagsterInstance, config_path: str | None = None) -> dict[str, str]:
    """`every_location_tags` for the stores of the configuration file (default: `OMNISYNC_CONFIG`).
    An unreadable file registers nothing: the run then stops at its first asset, naming the problem."""
    try:
        stores = [location.key for location in load_config(config_path).locations]
    except ConfigError:
        stores = []
    return every_location_tags(instance, stores)


def launch_tags(instance: dg.DagsterInstance, job: dg.JobDefinition, tags: Mapping[str, str] | None = None) -> dict[str, str]:
    """The tags to launch `job` with: a job holding the location partitions that is given no partition
    or range of its own runs over every configured store."""
    tags = dict(tags or {})
    if job.partitions_def is None or PARTITION_NAME_TAG in tags or ASSET_PARTITION_RANGE_START_TAG in tags:
        return tags
    return {**every_configured_location_tags(instance), **tags}


DEFAULT_CRONS = {"delta_sync": "*/5 * * * *", "full_sync": "30 2 * * *", "reconcile": "0 6 * * *"}


def cron_for(job: str) -> str:
    """The job's cron: `OMNISYNC_CRON_<JOB>` when set (validated), else the default."""
    env = f"OMNISYNC_CRON_{job.upper()}"
    cron = os.environ.get(env, "").strip() or DEFAULT_CRONS[job]
    if not _valid_cron(cron):
        raise ValueError(f"{env}={cron!r} is not a cron expression (five fields, e.g. '*/5 * * * *')")
    return cron


def _valid_cron(cron: str) -> bool:
    from dagster._utils.schedules import is_valid_cron_string

    return is_valid_cron_string(cron)


def _every_location_schedule(name: str, job) -> dg.ScheduleDefinition:
    @dg.schedule(name=name, job=job, cron_schedule=cron_for(job.name), default_status=dg.DefaultScheduleStatus.STOPPED)
    def _schedule(context: dg.ScheduleEvaluationContext, omnisync: OmnisyncResource) -> dg.RunRequest:
        return dg.RunRequest(tags=every_configured_location_tags(context.instance, omnisync.config_path))

    return _schedule


delta_sync_schedule = _every_location_schedule("delta_sync_every_5_minutes", delta_sync)
full_sync_schedule = _every_location_schedule("full_sync_nightly", full_sync)
reconcile_schedule = dg.ScheduleDefinition(
    name="reconcile_daily", job=reconcile, cron_schedule=cron_for("reconcile"),
    default_status=dg.DefaultScheduleStatus.STOPPED,
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        jobs=[full_sync, delta_sync, reconcile, build_stock_sync(configured_pos())],
        schedules=[delta_sync_schedule, full_sync_schedule, reconcile_schedule],
    )
