"""Jobs and schedules: the same assets, in full or delta mode."""


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
    description="Compare both systems' counts now and record drift, without syncing.",
)

delta_sync_schedule = dg.ScheduleDefinition(
    name="delta_sync_every_5_minutes", job=delta_sync, cron_schedule="*/5 * * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
full_sync_schedule = dg.ScheduleDefinition(
    name="full_sync_nightly", job=full_sync, cron_schedule="30 2 * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
reconcile_schedule = dg.ScheduleDefinition(
    name="reconcile_daily", job=reconcile, cron_schedule="0 6 * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        jobs=[full_sync, delta_sync, reconcile],
        schedules=[delta_sync_schedule, full_sync_schedule, reconcile_schedule],
    )
