"""Operations: the run-failure alert sensor and the `reprocess_rejected` job."""

import asyncio
import logging
from contextlib import AsyncExitStack

import dagster as dg

from omnisync_pipelines.connectors.registry import open_connector
from omnisync_pipelines.defs.resources import OmnisyncResource, estate_secrets, resource_keys
from omnisync_pipelines.defs.sales_flows import open_sales_retry
from omnisync_pipelines.defs.specs import configured_pos
from omnisync_pipelines.engine.fast_lane import open_fast_lanes
from omnisync_pipelines.engine.reprocess import commercetools_catalog, reprocess
from omnisync_pipelines.store.audit import record_run_failure
from omnisync_pipelines.store.ops import CallLogBuffer

alert_log = logging.getLogger("omnisync.alerts")


def failure_steps(context: dg.RunFailureSensorContext) -> list[tuple[str | None, str]]:
    """(failing step, first line of its error) for each failed step of the run."""
    from omnisync_pipelines.runs import first_line

    steps = []
    for event in context.get_step_failure_events():
        error = event.event_specific_data.error if event.event_specific_data else None
        steps.append((event.step_key, first_line(error) if error else "unknown error"))
    if not steps and context.failure_event.message:
        steps.append((None, context.failure_event.message.strip().splitlines()[0]))
    return steps


@dg.run_failure_sensor(name="run_failure_alert", monitor_all_code_locations=False,
                       default_status=dg.DefaultSensorStatus.RUNNING)
def run_failure_alert(context: dg.RunFailureSensorContext, omnisync: OmnisyncResource) -> None:
    """Records every failed run in the operational store (`run_failures`) and logs one alert line
    per failing asset step, naming it and its error."""
    run = context.dagster_run
    steps = failure_steps(context)
    record_run_failure(omnisync.ops_store(), run.run_id, run.job_name, steps)
    for step, error in steps:
        line = f"ALERT omnisync run {run.run_id[:8]} of {run.job_name} failed: {step or 'run'}: {error}"
        alert_log.error(line)
        context.log.error(line)


class ReprocessConfig(dg.Config):
    actor: str = "dagster"


def build_reprocess_job(pos_systems: tuple[str, ...]) -> dg.JobDefinition:
    @dg.op(description="Retry the rejected records queued with `omnisync rejected retry` through the same ledger.",
           required_resource_keys=resource_keys(*pos_systems))
    def reprocess_rejected_records(context: dg.OpExecutionContext, config: ReprocessConfig) -> dict:
        omnisync: OmnisyncResource = context.resources.omnisync
        ops = omnisync.ops_store()
        settings = omnisync.load_config()
        call_log = CallLogBuffer(ops)
        systems = settings.pos_systems

        async def main():
            secrets = estate_secrets(context, settings)
            async with AsyncExitStack() as stack:
                lanes = await stack.enter_async_context(
                    open_fast_lanes(settings, secrets, ops, call_log=call_log, systems=systems))
                ct = await stack.enter_async_context(
                    open_connector("commercetools", settings, secrets["commercetools"], call_log=call_log))
                sales = [await stack.enter_async_context(open_sales_retry(omnisync, pos, secrets, call_log=call_log))
                         for pos in systems]
                return await reprocess(ops, lanes, commercetools_catalog(ct.client), actor=config.actor, sales=sales)

        try:
            outcome = asyncio.run(main())
        finally:
            call_log.flush()
        context.log.info(outcome.summary())
        ids = {"applied": outcome.applied, "still_rejected": outcome.still_rejected, "unsupported": outcome.unsupported}
        context.add_output_metadata({"applied": len(outcome.applied), "still_rejected": len(outcome.still_rejected),
                                     "left_to_flow": len(outcome.unsupported), "record_ids": dg.MetadataValue.json(ids)})
        return ids

    @dg.job(description="Retry queued rejected records after a fix; each outcome is in rejected_audit.")
    def reprocess_rejected():
        reprocess_rejected_records()

    return reprocess_rejected


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[build_reprocess_job(configured_pos())], sensors=[run_failure_alert])
