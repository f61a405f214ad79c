"""dagster.postgres.yaml is a working production instance config, not just valid YAML.

A DagsterInstance loaded from that file (in a temporary DAGSTER_HOME, DAGSTER_PG_* pointing at a
fresh database on the test server) stores runs, events and schedules in PostgreSQL via psycopg2,
keeps dagster.yaml's concurrency pool and run retries, and executes a job whose run and events
are then read back from PostgreSQL.
"""

import shutil
from pathlib import Path

import dagster as dg
import pytest
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from omnisync_pipelines.run_coordinator import EveryStoreRunCoordinator
from omnisync_pipelines_tests.postgres import throwaway_database

pytestmark = pytest.mark.postgres

REPO_ROOT = Path(__file__).resolve().parents[2]


@dg.op
def say_hello() -> str:
    return "hello"


@dg.job
def tiny_job():
    say_hello()


def test_the_production_instance_config_runs_a_job_on_postgres(pg_url, tmp_path, monkeypatch):
    shutil.copy(REPO_ROOT / "dagster.postgres.yaml", tmp_path / "dagster.yaml")
    with throwaway_database(pg_url) as db_url:
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
        monkeypatch.setenv("DAGSTER_PG_HOST", db_url.host)
        monkeypatch.setenv("DAGSTER_PG_PORT", str(db_url.port or 5432))
        monkeypatch.setenv("DAGSTER_PG_USER", db_url.username)
        monkeypatch.setenv("DAGSTER_PG_PASSWORD", db_url.password or "unused-with-trust-auth")
        monkeypatch.setenv("DAGSTER_PG_DB", db_url.database)

        with dg.DagsterInstance.get() as instance:
            assert isinstance(instance.run_storage, PostgresRunStorage)
            assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
            assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
            assert instance.run_storage.postgres_url.startswith("postgresql+psycopg2://")
            assert instance.get_concurrency_config().pool_config.default_pool_limit == 8  # the lake takes writers at once
            assert not instance.run_retries_enabled  # the API-calling steps retry, not whole runs
            assert isinstance(instance.run_coordinator, EveryStoreRunCoordinator)

            result = tiny_job.execute_in_process(instance=instance)

            assert result.success
            assert result.output_for_node("say_hello") == "hello"
            stored = instance.get_run_by_id(result.run_id)
            assert stored is not None and stored.status == dg.DagsterRunStatus.SUCCESS
            step_events = [e.dagster_event.event_type_value for e in instance.all_logs(result.run_id) if e.is_dagster_event]
            assert "STEP_SUCCESS" in step_events
