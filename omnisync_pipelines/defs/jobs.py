"""Jobs and schedules: the same assets, in full or delta mode.

Schedule crons come from the environment (`OMNISYNC_CRON_DELTA_SYNC`, `OMNISYNC_CRON_FULL_SYNC`,
`OMNISYNC_CRON_RECONCILE`, read when the code location loads), else the defaults below.
"""

import os

import dagster as dg

from omnisync_pipelines.defs.specs import MODE_TAG

SYNC_SELECTION = dg.AssetSelection.all() - dg.AssetSelection.groups("reconciliation", "ops")
RECONCILE_SELECTION = dg.AssetSelection.groups("reconciliation", "ops")

full_sync = dg.define_asset_job(
    "full_sync",
    selection=dg.AssetSelection.all(),
    tags={MODE_TAG: "full"},
    description="Re-read every entity of every system, plan against the baselines, push, reconcile.",
)
delta_sync = dg.define_asset_job(
    "delta_sync",
    selection=dg.AssetSelection.all(),
    tags={MODE_TAG: "delta"},
    description="Read what changed since the stored cursors, plan, push, reconcile.",
)
reconcile = dg.define_asset_job(
    "reconcile",
    selection=RECONCILE_SELECTION,
    description="Read both systems fresh, compare stock, orders, returns and customers, record drift "
    "(correcting stock where a store is set to correct_to_pos), without syncing.",
)

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


delta_sync_schedule = dg.ScheduleDefinition(
    name="delta_sync_every_5_minutes", job=delta_sync, cron_schedule=cron_for("delta_sync"),
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
full_sync_schedule = dg.ScheduleDefinition(
    name="full_sync_nightly", job=full_sync, cron_schedule=cron_for("full_sync"),
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
reconcile_schedule = dg.ScheduleDefinition(
    name="reconcile_daily", job=reconcile, cron_schedule=cron_for("reconcile"),
    default_status=dg.DefaultScheduleStatus.STOPPED,
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        jobs=[full_sync, delta_sync, reconcile],
        schedules=[delta_sync_schedule, full_sync_schedule, reconcile_schedule],
    )
