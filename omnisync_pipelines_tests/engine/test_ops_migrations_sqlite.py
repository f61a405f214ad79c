"""The operational store's migrations on SQLite (store/migrations).

A database release 0.1.0 created (its DDL frozen in ops_schema_0_1_0.sqlite.sql, with rows in the
ledger and the rejected records) is brought to head by `OpsStore.from_url`: the rows stay, revision
0002's ledger index is there, and Alembic's autogenerate finds no difference from the current
metadata. A new database is created at head; a database at head costs `from_url` one query; a
0.1.0 database whose lazily created tables never came is completed; a newer release's revision is
left alone; processes opening a new file at once all succeed; 0002 downgrades and upgrades again.
"""

import multiprocessing
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, inspect, text

from omnisync_pipelines.canonical.models import Rejection
from omnisync_pipelines.store import migrations
from omnisync_pipelines.store.ops import OpsStore

FROZEN_0_1_0 = Path(__file__).with_name("ops_schema_0_1_0.sqlite.sql")
LEDGER_ROWS = [  # (key, flow, record_ref, status)
    ("k-open", "stock_x", "TEE@berlin", "retrying"),
    ("k-done", "stock_x", "TEE@berlin", "applied"),
    ("k-other", "orders_x", "1001", "rejected"),
]


def release_0_1_0(path: Path, *, without: tuple[str, ...] = ()) -> str:
    """An ops.sqlite as release 0.1.0 left it (minus the tables `without`), with a few rows."""
    db = sqlite3.connect(path)
    db.executescript(FROZEN_0_1_0.read_text())
    for table in without:
        db.execute(f"DROP TABLE {table}")
    stamp = "2026-11-30 10:00:00.000000+00:00"
    db.executemany("INSERT INTO ledger (idempotency_key, flow, target_system, source_system, record_ref, status, attempts,"
                   " payload, created_at, updated_at) VALUES (?, ?, 'commercetools', 'lightspeed_x', ?, ?, 1, '{}', ?, ?)",
                   [(*row, stamp, stamp) for row in LEDGER_ROWS])
    db.executemany("INSERT INTO rejected (flow, system, entity, record_ref, field, reason, idempotency_key, status,"
                   " attempts, created_at, updated_at) VALUES ('stock_x', 'lightspeed_x', 'stock', ?, ?, 'unknown SKU', ?, 'open', 1, ?, ?)",
                   [("GHOST@berlin", "sku", "k-ghost", stamp, stamp), ("TEE@berlin", "quantity", "k-other", stamp, stamp)])
    db.commit()
    db.close()
    return f"sqlite:///{path}"


def revision_of(url: str) -> str | None:
    engine = create_engine(url)
    try:
        return migrations.current_revision(engine)
    finally:
        engine.dispose()


def test_the_revisions_listed_are_the_scripts_and_ship_in_the_package():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrations.alembic_config())
    assert [rev.revision for rev in reversed(list(script.walk_revisions()))] == list(migrations.REVISIONS)
    assert script.get_current_head() == migrations.HEAD
    for package in (migrations.SCRIPT_LOCATION, migrations.SCRIPT_LOCATION / "versions"):
        assert (package / "__init__.py").exists()  # found by setuptools' packages.find


def test_a_release_0_1_0_database_is_upgraded_with_its_rows(tmp_path):
    url = release_0_1_0(tmp_path / "ops.sqlite")
    assert revision_of(url) is None

    ops = OpsStore.from_url(url)

    assert revision_of(url) == migrations.HEAD
    ledger = ops.table_frame("ledger").set_index("idempotency_key")
    assert ledger.loc[[key for key, *_ in LEDGER_ROWS], "status"].tolist() == [status for *_, status in LEDGER_ROWS]
    assert [e["idempotency_key"] for e in ops.in_flight("stock_x", ["TEE@berlin"])] == ["k-open"]
    assert ops.rejected_frame()[["id", "record_ref", "status"]].to_dict("records") == [
        {"id": 1, "record_ref": "GHOST@berlin", "status": "open"}, {"id": 2, "record_ref": "TEE@berlin", "status": "open"}]
    ops.add_rejections("stock_x", [Rejection("lightspeed_x", "stock", "GHOST@berlin", "sku", "unknown SKU", "{}")])
    ops.add_rejections("stock_x", [Rejection("lightspeed_x", "stock", "NEW@berlin", "sku", "unknown SKU", "{}")])
    assert ops.rejected_frame()[["id", "attempts"]].values.tolist() == [[1, 2], [2, 1], [3, 1]]
    indexes = {index["name"]: index["column_names"] for index in inspect(ops.engine).get_indexes("ledger")}
    assert indexes["ix_ledger_flow_status_record"] == ["flow", "status", "record_ref"]
    assert migrations.differences(ops.engine) == []


def test_tables_release_0_1_0_created_only_on_first_use_are_created(tmp_path):
    url = release_0_1_0(tmp_path / "ops.sqlite", without=("rejected_audit", "run_failures", "crosswalk"))
    ops = OpsStore.from_url(url)
    assert {"rejected_audit", "run_failures", "crosswalk"} <= set(inspect(ops.engine).get_table_names())
    assert migrations.differences(ops.engine) == []
    assert len(ops.table_frame("ledger")) == len(LEDGER_ROWS)


def test_a_new_database_is_created_at_head(tmp_path):
    ops = OpsStore.from_url(f"sqlite:///{tmp_path / 'data' / 'ops.sqlite'}")
    assert migrations.current_revision(ops.engine) == migrations.HEAD
    assert migrations.differences(ops.engine) == []


def test_a_database_at_head_costs_from_url_one_query(tmp_path):
    from sqlalchemy.engine import Engine

    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    OpsStore.from_url(url).engine.dispose()
    statements = []
    listener = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    event.listen(Engine, "before_cursor_execute", listener)
    try:
        OpsStore.from_url(url).engine.dispose()
    finally:
        event.remove(Engine, "before_cursor_execute", listener)
    assert statements == [f"SELECT version_num FROM {migrations.VERSION_TABLE}"]


def test_a_newer_releases_revision_is_left_alone(tmp_path):
    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    with OpsStore.from_url(url).engine.begin() as conn:
        conn.execute(text(f"UPDATE {migrations.VERSION_TABLE} SET version_num = '9999'"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ops = OpsStore.from_url(url)
    assert any("9999" in str(w.message) for w in caught)
    assert migrations.current_revision(ops.engine) == "9999"
    ops.mark_retrying("k", flow="f", target="commercetools", source="lightspeed_x", record_ref="A@ber", payload={})
    assert ops.ledger_status("k") == "retrying"


def test_0002_downgrades_and_upgrades_again(tmp_path):
    url = release_0_1_0(tmp_path / "ops.sqlite")
    ops = OpsStore.from_url(url)
    migrations.upgrade(ops.engine, "0001")  # a no-op: already past it
    assert migrations.current_revision(ops.engine) == migrations.HEAD
    from alembic import command

    with ops.engine.connect() as conn:
        config = migrations.alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
        conn.commit()
    assert "ix_ledger_flow_status_record" not in {i["name"] for i in inspect(ops.engine).get_indexes("ledger")}
    assert migrations.current_revision(ops.engine) == "0001"
    ops.engine.dispose()
    ops = OpsStore.from_url(url)
    assert migrations.differences(ops.engine) == []
    assert len(ops.table_frame("ledger")) == len(LEDGER_ROWS)


def test_the_command_line_upgrades_and_reports_the_revision(tmp_path):
    url = release_0_1_0(tmp_path / "ops.sqlite")
    cli = [sys.executable, "-m", "omnisync_pipelines.store.migrations", "-x", f"url={url}"]
    subprocess.run([*cli, "upgrade", "head"], check=True, capture_output=True, text=True)
    current = subprocess.run([*cli, "current"], check=True, capture_output=True, text=True)
    assert f"{migrations.HEAD} (head)" in current.stdout


def _open(url: str, barrier, results) -> None:
    barrier.wait()
    try:
        ops = OpsStore.from_url(url)
        results.put(migrations.current_revision(ops.engine))
    except Exception as exc:  # reported to the test, not lost in the child
        results.put(repr(exc))


@pytest.mark.parametrize("legacy", [False, True], ids=["new", "release_0_1_0"])
def test_processes_opening_the_store_at_once_all_succeed(tmp_path, legacy):
    path = tmp_path / "ops.sqlite"
    url = release_0_1_0(path) if legacy else f"sqlite:///{path}"
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(3), context.Queue()
    workers = [context.Process(target=_open, args=(url, barrier, results)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert sorted(results.get(timeout=5) for _ in workers) == [migrations.HEAD] * 3
    ops = OpsStore.from_url(url)
    assert migrations.differences(ops.engine) == []
    assert len(ops.table_frame("ledger")) == (len(LEDGER_ROWS) if legacy else 0)
