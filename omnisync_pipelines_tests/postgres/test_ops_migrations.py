"""The operational store's migrations on PostgreSQL (store/migrations).

A schema release 0.1.0 created (its DDL frozen in ops_schema_0_1_0.postgresql.sql, with rows in the
ledger and the rejected records) is brought to head by `OpsStore.from_url`: the rows stay, the
rejected ids continue from their sequence, revision 0002's ledger index is there and Alembic's
autogenerate finds no difference from the current metadata. A new database is created at head,
through psycopg 3 and through an explicit psycopg2 URL; two processes opening a new database at
once both succeed (the advisory lock lets one migrate, the other finds it done).
"""

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from omnisync_pipelines.canonical.models import Rejection
from omnisync_pipelines.store import migrations
from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines_tests.postgres import throwaway_database, throwaway_schema

pytestmark = pytest.mark.postgres

FROZEN_0_1_0 = Path(__file__).with_name("ops_schema_0_1_0.postgresql.sql")
LEDGER_ROWS = [  # (key, flow, record_ref, status)
    ("k-open", "stock_x", "TEE@berlin", "retrying"),
    ("k-done", "stock_x", "TEE@berlin", "applied"),
    ("k-other", "orders_x", "1001", "rejected"),
]


def release_0_1_0(url: str, connect_args: dict) -> None:
    """The schema as release 0.1.0 left it, with a few rows (ids from their sequences)."""
    statements = [part.strip() for part in FROZEN_0_1_0.read_text().split(";")]
    engine = create_engine(url, connect_args=connect_args)
    try:
        with engine.begin() as conn:
            for statement in statements:
                body = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
                if body:
                    conn.exec_driver_sql(body)
            conn.execute(text(
                "INSERT INTO ledger (idempotency_key, flow, target_system, source_system, record_ref, status, attempts,"
                " payload, created_at, updated_at) VALUES (:key, :flow, 'commercetools', 'lightspeed_x', :ref, :status, 1,"
                " '{}', now(), now())"), [dict(zip(("key", "flow", "ref", "status"), row, strict=True)) for row in LEDGER_ROWS])
            conn.execute(text(
                "INSERT INTO rejected (flow, system, entity, record_ref, field, reason, idempotency_key, status, attempts,"
                " created_at, updated_at) VALUES ('stock_x', 'lightspeed_x', 'stock', :ref, :field, 'unknown SKU', :key,"
                " 'open', 1, now(), now())"),
                [{"ref": "GHOST@berlin", "field": "sku", "key": "k-ghost"}, {"ref": "TEE@berlin", "field": "quantity", "key": "k-other"}])
    finally:
        engine.dispose()


def test_a_release_0_1_0_schema_is_upgraded_with_its_rows(pg_ops_server):
    url = pg_ops_server.render_as_string(hide_password=False)
    with throwaway_schema(pg_ops_server) as connect_args:
        release_0_1_0(url, connect_args)
        ops = OpsStore.from_url(url, create=False, connect_args=connect_args)
        assert migrations.current_revision(ops.engine) is None
        assert migrations.differences(ops.engine)  # the 0002 index, at least
        ops.engine.dispose()

        ops = OpsStore.from_url(url, connect_args=connect_args)
        try:
            assert ops.engine.dialect.driver == "psycopg"
            assert migrations.current_revision(ops.engine) == migrations.HEAD
            ledger = ops.table_frame("ledger").set_index("idempotency_key")
            assert ledger.loc[[key for key, *_ in LEDGER_ROWS], "status"].tolist() == [status for *_, status in LEDGER_ROWS]
            assert [e["idempotency_key"] for e in ops.in_flight("stock_x", ["TEE@berlin"])] == ["k-open"]
            ops.add_rejections("stock_x", [Rejection("lightspeed_x", "stock", "GHOST@berlin", "sku", "unknown SKU", "{}")])
            ops.add_rejections("stock_x", [Rejection("lightspeed_x", "stock", "NEW@berlin", "sku", "unknown SKU", "{}")])
            rows = ops.rejected_frame()[["id", "record_ref", "attempts"]].values.tolist()
            assert rows[:2] == [[1, "GHOST@berlin", 2], [2, "TEE@berlin", 1]]
            assert rows[2][1:] == ["NEW@berlin", 1] and rows[2][0] > 2  # the id sequence goes on (an upsert takes one too)
            indexes = {index["name"]: index["column_names"] for index in inspect(ops.engine).get_indexes("ledger")}
            assert indexes["ix_ledger_flow_status_record"] == ["flow", "status", "record_ref"]
            assert migrations.differences(ops.engine) == []
        finally:
            ops.engine.dispose()


@pytest.mark.parametrize("driver", ["postgresql", "postgresql+psycopg2"])
def test_a_new_database_is_created_at_head(pg_ops_server, driver):
    with throwaway_database(pg_ops_server) as db_url:
        url = db_url.render_as_string(hide_password=False).replace("postgresql+psycopg://", f"{driver}://")
        ops = OpsStore.from_url(url)
        try:
            assert ops.engine.dialect.driver == ("psycopg2" if driver.endswith("psycopg2") else "psycopg")
            assert migrations.current_revision(ops.engine) == migrations.HEAD
            assert migrations.differences(ops.engine) == []
            tables = set(inspect(ops.engine).get_table_names())
            assert {"ledger", "rejected", "crosswalk", "rejected_audit", migrations.VERSION_TABLE} <= tables
            assert "alembic_version" not in tables  # left to Dagster's storage, should it share the database
        finally:
            ops.engine.dispose()


def _open(url: str, barrier, results) -> None:
    barrier.wait()
    try:
        ops = OpsStore.from_url(url)
        results.put(migrations.current_revision(ops.engine))
        ops.engine.dispose()
    except Exception as exc:  # reported to the test, not lost in the child
        results.put(repr(exc))


def test_two_processes_opening_a_new_database_at_once_both_succeed(pg_ops_server):
    with throwaway_database(pg_ops_server) as db_url:
        url = db_url.render_as_string(hide_password=False)
        context = multiprocessing.get_context("fork")
        barrier, results = context.Barrier(2), context.Queue()
        workers = [context.Process(target=_open, args=(url, barrier, results)) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert [results.get(timeout=5) for _ in workers] == [migrations.HEAD] * 2
        ops = OpsStore.from_url(url)
        try:
            assert migrations.differences(ops.engine) == []
            with ops.engine.connect() as conn:
                assert conn.execute(text(f"SELECT count(*) FROM {migrations.VERSION_TABLE}")).scalar() == 1
        finally:
            ops.engine.dispose()
