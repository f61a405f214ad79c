"""The operational store keeps the same promises on PostgreSQL as on SQLite.

Same expectations as engine/test_ops_store.py: applying a key advances its stock baseline in the
same transaction and leaves nothing in flight; a record rejected twice is one row with two
attempts; applying a rejected key resolves its rejection; cursors advance and keep their evidence.
Each test's tables live in a schema of its own (the search_path comes from `connect_args`).
The store goes through psycopg 3 (`postgresql://`), and through psycopg2 when a URL names it.
"""

import pytest
from sqlalchemy import text

from omnisync_pipelines.canonical.models import Rejection

pytestmark = pytest.mark.postgres


def test_the_store_lives_in_the_tests_own_schema(pg_ops):
    with pg_ops.engine.connect() as conn:
        schema = conn.execute(text("select current_schema()")).scalar()
        tables = set(conn.execute(text("select tablename from pg_tables where schemaname = :s"), {"s": schema}).scalars())
    assert schema.startswith("omnisync_test_")
    assert {"ledger", "stock_baseline", "cursors", "rejected", "api_calls", "inbox"} <= tables


def test_applied_advances_the_baseline_in_the_same_transaction(pg_ops):
    ops = pg_ops
    ops.mark_retrying("k1", flow="f", target="commercetools", source="lightspeed_x", record_ref="A@ber", payload={"delta": -1})
    assert ops.ledger_status("k1") == "retrying"
    assert [e["idempotency_key"] for e in ops.in_flight("f")] == ["k1"]
    ops.mark_retrying("k1", flow="f", target="commercetools", source="lightspeed_x", record_ref="A@ber", payload={"delta": -1})
    assert ops.in_flight("f")[0]["attempts"] == 2
    ops.mark_applied("k1", {"status": "applied"}, baseline={"source_system": "lightspeed_x", "sku": "A", "location_key": "ber", "level": 4, "version": 11})
    assert ops.ledger_status("k1") == "applied"
    assert ops.ledger_statuses(["k1", "missing"]) == {"k1": "applied"}
    assert ops.in_flight("f") == []
    assert ops.baseline("lightspeed_x", "A", "ber")["level"] == 4
    assert ops.baselines_frame("lightspeed_x").to_dict("records") == [{"sku": "A", "location_key": "ber", "level": 4, "version": 11}]


def test_a_record_rejected_twice_is_one_row_with_two_attempts(pg_ops):
    rejection = Rejection("lightspeed_x", "stock", "A@ber", "sku", "unknown SKU", "{}")
    pg_ops.add_rejections("f", [rejection])
    pg_ops.add_rejections("f", [rejection])
    frame = pg_ops.rejected_frame("open")
    assert frame[["record_ref", "field", "attempts"]].to_dict("records") == [{"record_ref": "A@ber", "field": "sku", "attempts": 2}]


def test_applying_a_rejected_key_resolves_its_rejection(pg_ops):
    ops = pg_ops
    ops.mark_retrying("k1", flow="f", target="commercetools", source="lightspeed_x", record_ref="A@ber", payload={})
    ops.mark_failed("k1", "rejected", "400")
    ops.add_rejections("f", [Rejection("lightspeed_x", "stock", "A@ber", "quantity", "400", "{}")], key="k1")
    ops.mark_applied("k1", {"status": "applied"})
    assert ops.rejected_frame("resolved")["idempotency_key"].tolist() == ["k1"]


def test_cursors_keep_their_evidence(pg_ops):
    assert pg_ops.get_cursor("lightspeed_x/stock") is None
    pg_ops.set_cursor("lightspeed_x/stock", "120", {"records": 3})
    pg_ops.set_cursor("lightspeed_x/stock", "150", {"records": 1})
    assert pg_ops.get_cursor("lightspeed_x/stock") == "150"
    assert pg_ops.table_frame("cursors")["evidence"].tolist() == ['{"records": 1}']


def test_the_store_goes_through_psycopg_3_and_psycopg2_only_when_named(pg_ops, pg_ops_server):
    """`postgresql://` means psycopg 3, whose executemany (the ledger's many-row UPDATE) runs in
    pipeline mode; a URL naming psycopg2 keeps it, with its batched executemany."""
    import psycopg

    from omnisync_pipelines.store.ops import OpsStore

    assert pg_ops.engine.dialect.driver == "psycopg" and psycopg.Pipeline.is_supported()
    with pg_ops.engine.connect() as conn:
        schema = conn.execute(text("select current_schema()")).scalar()
    base = pg_ops_server.render_as_string(hide_password=False).partition("://")[2]
    for scheme, driver in (("postgresql", "psycopg"), ("postgresql+psycopg2", "psycopg2")):
        ops = OpsStore.from_url(f"{scheme}://{base}", create=False, connect_args={"options": f"-csearch_path={schema}"})
        try:
            assert ops.engine.dialect.driver == driver
            if driver == "psycopg2":
                assert ops.engine.dialect.executemany_mode is not None
            assert ops.ledger_statuses(["nothing"]) == {}
        finally:
            ops.engine.dispose()
