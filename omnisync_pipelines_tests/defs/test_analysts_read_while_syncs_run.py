"""An analyst keeps a `duckdb` session open all day while the scheduled syncs run.

The story: after the nightly full sync an analyst opens the warehouse in the `duckdb` shell (the one
`make venv` installs) and leaves it open. A till sells three units; a full sync and a delta sync run
meanwhile and both succeed. The open session keeps showing one consistent state (the count it first
saw); reopened, it shows the state of the last run, the sale included. The runs' own file is never
the one the analyst holds.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from omnisync_pipelines import systems
from omnisync_pipelines.runs import run_job
from omnisync_pipelines.store import read_copy

pytestmark = pytest.mark.only_pos(systems.DEFAULT_POS, reason="the analysts' copy is the same for every POS")

DUCKDB_SHELL = Path(sys.executable).with_name("duckdb")


class AnalystSession:
    """The `duckdb` shell, read-only, held open on a file; one query at a time."""

    def __init__(self, path: str):
        self.process = subprocess.Popen(
            [str(DUCKDB_SHELL), "-readonly", "-csv", "-noheader", path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        )

    def ask(self, sql: str) -> list[str]:
        self.process.stdin.write(f"{sql.rstrip(';')};\nSELECT '-- end --';\n")
        self.process.stdin.flush()
        lines = []
        for line in self.process.stdout:
            if line.strip() == "-- end --":
                return lines
            lines.append(line.strip())
        raise AssertionError(f"the duckdb shell ended: {lines}")

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


def copy_path(sandbox) -> str:
    return read_copy.analysts_path(sandbox.env["OMNISYNC_DUCKDB_PATH"])


def test_the_duckdb_shell_is_installed_with_the_project():
    assert DUCKDB_SHELL.exists() or shutil.which("duckdb"), "make venv installs duckdb-cli (pyproject)"


def test_an_open_analyst_session_neither_blocks_a_sync_nor_sees_half_a_run(sandbox, instance):
    assert run_job("full_sync", instance=instance).success
    store, sku = sandbox.world.stores[0].key, sandbox.world.variants[0].sku
    before = sandbox.probe.count(sku, store)
    count_sql = f"SELECT on_hand FROM {sandbox.pos}.stock WHERE sku = '{sku}' AND location_key = '{store}'"
    checked_sql = "SELECT count(*), max(checked_at) FROM reconciliation.stock"

    analyst = AnalystSession(copy_path(sandbox))
    try:
        assert analyst.ask(count_sql) == [str(before)]
        first_check = analyst.ask(checked_sql)

        sandbox.probe.adjust_count(sku, store, -3)  # a till sells three units
        assert run_job("full_sync", instance=instance).success
        assert run_job("delta_sync", instance=instance).success

        assert analyst.ask(count_sql) == [str(before)]  # the session still reads the state it opened
        assert analyst.ask(checked_sql) == first_check
    finally:
        analyst.close()

    reopened = AnalystSession(copy_path(sandbox))
    try:
        assert reopened.ask(count_sql) == [str(before - 3)]
        assert reopened.ask(checked_sql) != first_check
    finally:
        reopened.close()


def test_the_copy_keeps_the_tables_names_types_and_views(sandbox, instance):
    """The analysts' SQL reads the copy as it read the runs' file: same schemas, tables and views."""
    import duckdb

    with duckdb.connect(sandbox.env["OMNISYNC_DUCKDB_PATH"], read_only=True) as runs_file:
        expected = runs_file.execute(
            "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = current_database() ORDER BY ALL").fetchall()
    analyst = AnalystSession(copy_path(sandbox))
    try:
        seen = analyst.ask("SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
                           "WHERE database_name = current_database() ORDER BY ALL")
    finally:
        analyst.close()
    assert len(seen) == len(expected) > 50
    assert [line.split(",")[:3] for line in seen] == [[s, t, c] for s, t, c, _ in expected]


def test_a_failed_run_leaves_the_last_published_copy(sandbox, instance):
    path = Path(copy_path(sandbox))
    published = path.stat().st_mtime_ns
    secret = "OMNISYNC_CT_CLIENT_SECRET"
    with pytest.MonkeyPatch.context() as env:
        env.setenv(secret, "wrong")
        outcome = run_job("delta_sync", instance=instance)
    assert not outcome.success
    assert path.stat().st_mtime_ns == published
    assert not list(path.parent.glob(f".{path.name}.*.publishing*"))  # nothing half-published left beside it


def test_a_publish_that_died_halfway_is_cleared_by_the_next(sandbox, instance):
    path = Path(copy_path(sandbox))
    (path.parent / f".{path.name}.4242.publishing").write_bytes(b"half a database")
    assert run_job("reconcile", instance=instance).success
    assert not list(path.parent.glob(f".{path.name}.*.publishing*"))
    analyst = AnalystSession(str(path))
    try:
        assert analyst.ask("SELECT count(*) > 0 FROM reconciliation.stock") == ["true"]
    finally:
        analyst.close()
