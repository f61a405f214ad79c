"""Operations without a sandbox: the run-failure alert and configurable schedule crons.

Contract: a failed run is recorded in the operational store (`run_failures`: run, job, failing
step, error) and one alert line names the failing asset step and its error; schedule crons come
from OMNISYNC_CRON_<JOB>, and a bad cron is refused naming the variable.
"""

import logging

import dagster as dg
import pytest

from omnisync_pipelines.defs.jobs import DEFAULT_CRONS, cron_for
from omnisync_pipelines.defs.operations import run_failure_alert
from omnisync_pipelines.defs.resources import OmnisyncResource
from omnisync_pipelines.store.audit import frame, run_failures


# fixtures -----------------------------------------------------------------------------------------
@dg.asset(key=["push", "stock_demo"])
def broken_push() -> None:
    raise RuntimeError("commercetools answered 503 three times")


@pytest.fixture
def ops_url(tmp_path):
    return f"sqlite:///{tmp_path / 'ops.sqlite'}"


# tests --------------------------------------------------------------------------------------------
def test_a_failed_run_is_recorded_and_alerted_with_its_asset_and_error(ops_url, caplog):
    with dg.instance_for_test() as instance:
        result = dg.materialize([broken_push], instance=instance, raise_on_error=False)
        assert not result.success
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alert", dagster_instance=instance, dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(), resources={"omnisync": OmnisyncResource(ops_url=ops_url)},
        ).for_run_failure()
        with caplog.at_level(logging.ERROR, logger="omnisync.alerts"):
            run_failure_alert(context)
    from omnisync_pipelines.store.ops import OpsStore

    [row] = frame(OpsStore.from_url(ops_url), run_failures).to_dict("records")
    assert row["run_id"] == result.run_id and row["step_key"] == "push__stock_demo"
    assert "503 three times" in row["error"]
    [alert] = [r.getMessage() for r in caplog.records if r.name == "omnisync.alerts"]
    assert alert.startswith("ALERT") and "push__stock_demo" in alert and "503 three times" in alert


def test_schedule_crons_come_from_the_environment(monkeypatch):
    assert cron_for("delta_sync") == DEFAULT_CRONS["delta_sync"]
    monkeypatch.setenv("OMNISYNC_CRON_DELTA_SYNC", "*/2 * * * *")
    assert cron_for("delta_sync") == "*/2 * * * *"
    monkeypatch.setenv("OMNISYNC_CRON_FULL_SYNC", "every night")
    with pytest.raises(ValueError, match="OMNISYNC_CRON_FULL_SYNC"):
        cron_for("full_sync")
