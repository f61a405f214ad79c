"""Warehouse tables have the types and comments `store/warehouse_schema.py` declares, whatever the data.

Contract: a declared table written while empty has its declared types (no VARCHAR stand-ins); lists
are LISTs, timestamps TIMESTAMP WITH TIME ZONE (a naive timestamp is taken as UTC); every declared
table and column carries its comment; a table an older version wrote with other types is migrated
in place on the next write, its rows kept; a frame column the declaration lacks is an error in
strict mode; and every table a real sync writes is declared, with exactly its declared columns.
"""

import re

import duckdb
import pandas as pd
import pytest

from omnisync_pipelines import systems
from omnisync_pipelines.store import warehouse
from omnisync_pipelines.store import warehouse_schema as ws

TZ = "TIMESTAMP WITH TIME ZONE"


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    monkeypatch.setenv(warehouse.STRICT_ENV, "1")


def every_declared_table(pos_ids=("lightspeed_x", "some_new_pos")) -> list[tuple[str, str, ws.TableSchema]]:
    tables = [(schema, name, t) for schema, by_name in ws.FIXED.items() for name, t in by_name.items()]
    for system in (systems.COMMERCETOOLS, *pos_ids):
        tables += [(system, entity, t) for entity, t in ws.SNAPSHOTS.items()]
    for (schema, pattern), t in ws.PLAN_PUSH.items():
        for pos in pos_ids:
            tables.append((schema, re.sub(r"\(\?P<pos>[^)]*\)", pos, pattern), t))
    return sorted(set(tables), key=lambda x: (x[0], x[1]))


def columns_of(con, schema, table) -> list[tuple[str, str]]:
    return con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
                       "ORDER BY column_index", [schema, table]).fetchall()


def empty_frame(t: ws.TableSchema) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series(dtype=object) for c in t.columns})


def test_every_declared_table_written_empty_has_its_declared_types_and_comments():
    con = duckdb.connect()
    tables = every_declared_table()
    for schema, name, t in tables:
        assert ws.declared(schema, name) is t, f"{schema}.{name}"
        warehouse.replace_table(con, schema, name, empty_frame(t))
        assert columns_of(con, schema, name) == [(c.name, c.type) for c in t.columns], f"{schema}.{name}"
    comments = dict(((s, n), c) for s, n, c in con.execute(
        "SELECT schema_name, table_name, comment FROM duckdb_tables()").fetchall())
    column_comments = {(s, n, c): text for s, n, c, text in con.execute(
        "SELECT schema_name, table_name, column_name, comment FROM duckdb_columns()").fetchall()}
    for schema, name, t in tables:
        assert comments[(schema, name)] == t.comment
        for column in t.columns:
            assert column_comments[(schema, name, column.name)] == column.comment, f"{schema}.{name}.{column.name}"
            assert column.comment.strip(), f"{schema}.{name}.{column.name} has an empty comment"


def test_an_empty_ops_copy_has_time_zone_timestamps_and_a_time_filter_works():
    from omnisync_pipelines.store.ops import OpsStore

    ops = OpsStore.from_url("sqlite://")
    con = duckdb.connect()
    warehouse.replace_table(con, "ops", "rejected", ops.table_frame("rejected"))
    types = dict(columns_of(con, "ops", "rejected"))
    assert (types["created_at"], types["updated_at"], types["id"], types["attempts"]) == (TZ, TZ, "BIGINT", "BIGINT")
    assert con.execute("SELECT count(*) FROM ops.rejected WHERE created_at > now() - INTERVAL 1 DAY").fetchall() == [(0,)]


def test_a_naive_timestamp_is_stored_as_utc():
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")  # the session's zone must not shift it
    frame = pd.DataFrame({"name": ["lightspeed_x/stock"], "value": ["41"], "evidence": [None],
                          "updated_at": [pd.Timestamp("2026-11-29 10:00:00")]})
    warehouse.replace_table(con, "ops", "cursors", frame)
    assert dict(columns_of(con, "ops", "cursors"))["updated_at"] == TZ
    stored = con.execute("SELECT epoch(updated_at) FROM ops.cursors").fetchall()[0][0]
    assert stored == pd.Timestamp("2026-11-29 10:00:00", tz="UTC").timestamp()


def test_lists_are_lists():
    from omnisync_pipelines.engine import availability as av

    con = duckdb.connect()
    counts = pd.DataFrame({"sku": ["TEE", "TEE"], "location_key": ["berlin", "hamburg"], "on_hand": [3, 1]})
    rules = av.AvailabilityRules(channels={"online-eu": ["berlin"], "online-de": ["berlin"]})
    warehouse.replace_table(con, "availability", "sellable_stock", av.sellable_stock(counts, {}, {}, rules))
    assert dict(columns_of(con, "availability", "sellable_stock"))["channels"] == "VARCHAR[]"
    assert con.execute("SELECT location_key, channels FROM availability.sellable_stock ORDER BY ALL").fetchall() == [
        ("berlin", ["online-de", "online-eu"]), ("hamburg", [])]
    assert con.execute("SELECT location_key FROM availability.sellable_stock "
                       "WHERE list_contains(channels, 'online-eu')").fetchall() == [("berlin",)]

    returns = pd.DataFrame({"return_id": ["r1", "r2"], "problems": ["", "not_recorded,refund_missing"],
                            "status": ["match", "missing_in_commercetools"]})
    warehouse.replace_table(con, "reconciliation", "returns", returns)
    assert dict(columns_of(con, "reconciliation", "returns"))["problems"] == "VARCHAR[]"
    assert con.execute("SELECT return_id, problems FROM reconciliation.returns ORDER BY 1").fetchall() == [
        ("r1", []), ("r2", ["not_recorded", "refund_missing"])]
    warehouse.replace_table(con, "reconciliation", "returns", returns.iloc[:0])
    assert dict(columns_of(con, "reconciliation", "returns"))["problems"] == "VARCHAR[]"


def test_money_and_counts_are_bigint_even_when_the_frame_has_none():
    con = duckdb.connect()
    frame = pd.DataFrame({"idempotency_key": [], "sku": [], "channel_key": [], "target": [], "current": [],
                          "delta": [], "status": []}, dtype=object)
    warehouse.replace_table(con, "push", "availability_to_commercetools", frame)
    types = dict(columns_of(con, "push", "availability_to_commercetools"))
    assert (types["target"], types["current"], types["delta"]) == ("BIGINT", "BIGINT", "BIGINT")


def test_customers_reconciliation_has_a_status_column():
    con = duckdb.connect()
    warehouse.replace_table(con, "reconciliation", "customers", pd.DataFrame({"issue": ["missing_in_pos"],
                                                                              "status": ["missing_in_pos"]}))
    assert "status" in dict(columns_of(con, "reconciliation", "customers"))


def test_an_old_varchar_table_is_migrated_on_its_next_write():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA drift")
    # as an older version left it: written empty, every column VARCHAR, then rows appended as text
    con.execute("CREATE TABLE drift.stock_runs (run_id VARCHAR, checked_at VARCHAR, rows VARCHAR, match VARCHAR, "
                "explained VARCHAR, drift VARCHAR, above_threshold VARCHAR)")
    con.execute("INSERT INTO drift.stock_runs VALUES ('r1', '2026-11-29 10:00:00+00', '4', '3', '0', '1', '1')")
    from omnisync_pipelines.defs.reconciliation import append_history

    append_history(con, "stock_runs", pd.DataFrame([{
        "run_id": "r2", "checked_at": pd.Timestamp("2026-11-30 10:00:00", tz="UTC"), "rows": 4, "match": 4,
        "explained": 0, "drift": 0, "above_threshold": 0}]))
    assert columns_of(con, "drift", "stock_runs") == [(c.name, c.type) for c in ws.DRIFT["stock_runs"].columns]
    rows = con.execute("SELECT run_id, checked_at, rows, drift FROM drift.stock_runs ORDER BY 1").df()
    assert rows["checked_at"].dt.tz is not None
    assert rows[["run_id", "rows", "drift"]].values.tolist() == [["r1", 4, 1], ["r2", 4, 0]]
    assert rows["checked_at"].dt.tz_convert("UTC").tolist() == [pd.Timestamp("2026-11-29 10:00", tz="UTC"),
                                                                pd.Timestamp("2026-11-30 10:00", tz="UTC")]
    assert con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'stock_runs'").fetchall() == [
        (ws.DRIFT["stock_runs"].comment,)]


def test_an_old_snapshot_is_migrated_by_a_delta_and_by_a_location_replace():
    from omnisync_pipelines.canonical import schemas
    from omnisync_pipelines.canonical.models import Return

    con = duckdb.connect()
    con.execute("CREATE SCHEMA commercetools")
    # an empty first snapshot as an older version wrote it: every column VARCHAR
    con.execute("CREATE TABLE commercetools.returns AS SELECT * FROM (SELECT " + ", ".join(
        f"NULL::VARCHAR AS {c}" for c in ws.SNAPSHOTS["returns"].names) + ") WHERE false")
    later = schemas.frame_from_records("returns", [Return("commercetools", "r1", "EUR", 1999, pd.Timestamp("2026-11-02", tz="UTC"))])
    warehouse.upsert_table(con, "commercetools", "returns", later, ["return_id"])
    assert columns_of(con, "commercetools", "returns") == [(c.name, c.type) for c in ws.SNAPSHOTS["returns"].columns]
    assert con.execute("SELECT return_id, refund_total FROM commercetools.returns").fetchall() == [("r1", 1999)]

    con.execute("CREATE SCHEMA plan")
    con.execute("CREATE TABLE plan.stock_lightspeed_x_to_commercetools (idempotency_key VARCHAR, source_system VARCHAR, "
                "sku VARCHAR, location_key VARCHAR, pos_level VARCHAR, pos_version VARCHAR, baseline_level VARCHAR, "
                "expected_delta VARCHAR, kind VARCHAR)")
    con.execute("INSERT INTO plan.stock_lightspeed_x_to_commercetools VALUES ('k1', 'lightspeed_x', 'TEE', 'hamburg', "
                "'3', '7', '2', '1', 'level_change')")
    berlin = pd.DataFrame([{"idempotency_key": "k2", "source_system": "lightspeed_x", "sku": "TEE", "location_key": "berlin",
                            "pos_level": 5, "pos_version": 9, "baseline_level": None, "expected_delta": 5, "kind": "initial"}])
    warehouse.replace_location_rows(con, "plan", "stock_lightspeed_x_to_commercetools", berlin, ["berlin"])
    assert columns_of(con, "plan", "stock_lightspeed_x_to_commercetools") == [
        (c.name, c.type) for c in ws.PLAN_PUSH[("plan", "stock_(?P<pos>[a-z][a-z0-9_]*)_to_commercetools")].columns]
    assert con.execute("SELECT location_key, pos_level, baseline_level FROM plan.stock_lightspeed_x_to_commercetools "
                       "ORDER BY 1").fetchall() == [("berlin", 5, None), ("hamburg", 3, 2)]


def test_a_column_the_declaration_lacks_is_an_error_in_strict_mode_and_kept_otherwise(monkeypatch):
    con = duckdb.connect()
    frame = pd.DataFrame({"sku": ["TEE"], "location_key": ["berlin"], "on_hand": [1], "colour": ["red"]})
    with pytest.raises(warehouse.UndeclaredColumnError, match=r"lightspeed_x.stock: columns \['colour'\]"):
        warehouse.replace_table(con, "lightspeed_x", "stock", frame)
    monkeypatch.setenv(warehouse.STRICT_ENV, "0")
    warehouse.replace_table(con, "lightspeed_x", "stock", frame)
    assert con.execute("SELECT sku, on_hand, colour FROM lightspeed_x.stock").fetchall() == [("TEE", 1, "red")]


def test_a_failed_write_leaves_the_table_as_it_was():
    con = duckdb.connect()
    warehouse.replace_table(con, "lightspeed_x", "stock", pd.DataFrame({"sku": ["TEE"], "location_key": ["b"], "on_hand": [1]}))
    with pytest.raises(duckdb.ConversionException):
        warehouse.replace_table(con, "lightspeed_x", "stock", pd.DataFrame({"sku": ["TEE"], "location_key": ["b"],
                                                                            "on_hand": ["many"]}))
    assert con.execute("SELECT sku, on_hand FROM lightspeed_x.stock").fetchall() == [("TEE", 1)]


def test_every_table_a_real_sync_writes_is_declared(tmp_path):
    """full_sync, a trading day, delta_sync against the sandbox, strict: an undeclared column would fail
    its asset; then every table in the file is declared and has exactly its declared columns and types."""
    import dagster as dg

    from omnisync_pipelines.demo import play_served
    from omnisync_pipelines.runs import run_job
    from omnisync_pipelines.sandbox.scenario import trading_day
    from omnisync_pipelines_tests.defs.conftest import running_sandbox

    with running_sandbox(tmp_path) as sandbox, dg.instance_for_test() as instance:
        outcome = run_job("full_sync", instance=instance)
        assert outcome.success, outcome.summary()
        sandbox.server.run(play_served(trading_day(sandbox.world, 3, day=1, sales_per_store=2), sandbox.loaded,
                                       sandbox.server))
        outcome = run_job("delta_sync", instance=instance)
        assert outcome.success, outcome.summary()
    with duckdb.connect(str(tmp_path / "omnisync.duckdb"), read_only=True) as con:
        tables = con.execute("SELECT schema_name, table_name, comment FROM duckdb_tables() ORDER BY ALL").fetchall()
        assert len(tables) > 40
        undeclared = [f"{s}.{t}" for s, t, _ in tables if ws.declared(s, t) is None]
        assert not undeclared, f"tables written but not declared in warehouse_schema.py: {undeclared}"
        for schema, table, comment in tables:
            declaration = ws.declared(schema, table)
            assert columns_of(con, schema, table) == [(c.name, c.type) for c in declaration.columns], f"{schema}.{table}"
            assert comment == declaration.comment
        written = {s for s, _, _ in tables}
        assert {"reconciliation", "drift", "ops", "plan", "push", "availability", "commercetools", sandbox.pos} <= written
