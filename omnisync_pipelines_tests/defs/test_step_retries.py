"""Step retries instead of run retries: a step that calls an API and meets an outage is tried again
within the run; a configuration problem fails the step at once, because a retry would fail the same
way. Proven on the policy the sync jobs get (`defs.jobs.step_retry_policy`) with tiny assets."""

import dagster as dg

from omnisync_pipelines.defs.jobs import full_sync, step_retry_policy
from omnisync_pipelines.defs.resources import OmnisyncResource

RETRYING = {"OMNISYNC_STEP_RETRIES": "2", "OMNISYNC_STEP_RETRY_DELAY_S": "0"}


def test_the_sync_jobs_retry_their_steps_not_their_runs():
    assert full_sync.op_retry_policy is not None
    assert step_retry_policy({}).max_retries == 2 and step_retry_policy({}).delay == 60


def test_an_outage_is_retried_within_the_run(tmp_path):
    calls = []

    @dg.asset
    def store_counts() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("the POS answered 503 to every attempt of the HTTP layer")

    job = dg.define_asset_job("outage", op_retry_policy=step_retry_policy(RETRYING))
    defs = dg.Definitions(assets=[store_counts], jobs=[job])
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("outage").execute_in_process(instance=instance, raise_on_error=False)

    assert result.success
    assert len(calls) == 2


def test_a_configuration_problem_fails_at_once(tmp_path):
    config = tmp_path / "omnisync.yaml"
    config.write_text("pos: [not, a, pos]\n")
    calls = []

    @dg.asset
    def store_counts(omnisync: OmnisyncResource) -> None:
        calls.append(1)
        omnisync.load_config()

    job = dg.define_asset_job("misconfigured", op_retry_policy=step_retry_policy(RETRYING))
    defs = dg.Definitions(assets=[store_counts], jobs=[job],
                          resources={"omnisync": OmnisyncResource(config_path=str(config))})
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("misconfigured").execute_in_process(instance=instance, raise_on_error=False)

    assert not result.success
    assert len(calls) == 1
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "omnisync.yaml" in failure.event_specific_data.error.message
