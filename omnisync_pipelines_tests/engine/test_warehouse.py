"""DuckDB writes: a full snapshot replaces its table; a delta snapshot merges by natural key."""

import duckdb
import pandas as pd

from omnisync_pipelines.store import warehouse


def test_a_delta_merges_by_key_and_keeps_the_other_rows():
    con = duckdb.connect()
    warehouse.replace_table(con, "lightspeed_x", "stock", pd.DataFrame({"sku": ["A", "B"], "location_key": ["ber", "ber"], "on_hand": [1, 2]}))
    warehouse.upsert_table(con, "lightspeed_x", "stock", pd.DataFrame({"sku": ["B", "C"], "location_key": ["ber", "ber"], "on_hand": [5, 7]}), ["sku", "location_key"])
    warehouse.upsert_table(con, "lightspeed_x", "stock", pd.DataFrame({"sku": ["A"], "location_key": ["ber"], "on_hand": [0]}), ["sku", "location_key"])
    rows = con.execute("SELECT sku, on_hand FROM lightspeed_x.stock ORDER BY sku").fetchall()
    assert rows == [("A", 0), ("B", 5), ("C", 7)]


def test_identifiers_are_checked_not_interpolated():
    con = duckdb.connect()
    try:
        warehouse.replace_table(con, "ops; DROP TABLE x", "t", pd.DataFrame({"a": [1]}))
    except ValueError as error:
        assert "not a safe identifier" in str(error)
    else:
        raise AssertionError("an unsafe schema name was accepted")


def test_an_empty_first_snapshot_still_takes_values_later():
    from omnisync_pipelines.canonical import schemas
    from omnisync_pipelines.canonical.models import Return

    con = duckdb.connect()
    warehouse.replace_table(con, "commercetools", "returns", schemas.frame_from_records("returns", []))
    later = schemas.frame_from_records("returns", [Return("commercetools", "r1", "EUR", 1999, pd.Timestamp("2026-11-02", tz="UTC"))])
    warehouse.upsert_table(con, "commercetools", "returns", later, ["return_id"])
    assert con.execute("SELECT return_id, refund_total FROM commercetools.returns").fetchall() == [("r1", 1999)]


def test_a_delta_after_an_upgrade_adds_the_columns_the_new_model_has():
    # orders written before the canonical model had shipping fields, then a delta of the new shape
    con = duckdb.connect()
    warehouse.replace_table(con, "commercetools", "orders", pd.DataFrame({"order_id": ["o1", "o2"], "total_gross": [1000, 2000]}))
    newer = pd.DataFrame({"order_id": ["o2"], "total_gross": [2100], "shipping_method_name": ["DHL"], "shipping_price": [495]})
    warehouse.upsert_table(con, "commercetools", "orders", newer, ["order_id"])
    rows = con.execute("SELECT order_id, total_gross, shipping_method_name, shipping_price FROM commercetools.orders "
                       "ORDER BY order_id").fetchall()
    assert rows == [("o1", 1000, None, None), ("o2", 2100, "DHL", 495)]


def test_a_delta_that_re_read_a_sku_whole_drops_the_price_replaced_under_a_new_id():
    con = duckdb.connect()
    warehouse.replace_table(con, "commercetools", "prices", pd.DataFrame(
        {"system_id": ["p-tee", "p-cap"], "sku": ["TEE-RED-S", "CAP-BLUE"], "amount": [999, 1499]}))
    # the merchant replaced the tee's price (setPrices): a new price id, the old one is gone
    delta = pd.DataFrame({"system_id": ["p-tee-2"], "sku": ["TEE-RED-S"], "amount": [1099]})
    warehouse.upsert_table(con, "commercetools", "prices", delta, ["system_id"], parent_key="sku")
    rows = con.execute("SELECT sku, system_id, amount FROM commercetools.prices ORDER BY sku").fetchall()
    assert rows == [("CAP-BLUE", "p-cap", 1499), ("TEE-RED-S", "p-tee-2", 1099)]


def test_a_re_read_order_replaces_its_lines_and_leaves_other_orders_lines():
    con = duckdb.connect()
    warehouse.replace_table(con, "commercetools", "order_lines", pd.DataFrame(
        {"order_id": ["o1", "o1", "o2"], "line_id": ["l1", "l2", "l1"], "quantity": [1, 2, 1]}))
    # o1 was edited (its second line removed) and o3 is new; o2 was not re-read
    delta = pd.DataFrame({"order_id": ["o1", "o3"], "line_id": ["l1", "l1"], "quantity": [1, 4]})
    warehouse.upsert_table(con, "commercetools", "order_lines", delta, ["order_id", "line_id"],
                           parent_key="order_id", parents=["o1", "o3"])
    rows = con.execute("SELECT order_id, line_id, quantity FROM commercetools.order_lines ORDER BY ALL").fetchall()
    assert rows == [("o1", "l1", 1), ("o2", "l1", 1), ("o3", "l1", 4)]


def test_a_re_read_parent_with_no_children_left_loses_its_old_ones():
    con = duckdb.connect()
    warehouse.replace_table(con, "commercetools", "return_lines", pd.DataFrame(
        {"return_id": ["r1", "r2"], "line_id": ["l1", "l1"], "quantity": [1, 1]}))
    empty = pd.DataFrame({"return_id": pd.Series(dtype=str), "line_id": pd.Series(dtype=str),
                          "quantity": pd.Series(dtype="int64")})
    warehouse.upsert_table(con, "commercetools", "return_lines", empty, ["return_id", "line_id"],
                           parent_key="return_id", parents=["r1"])
    assert con.execute("SELECT return_id FROM commercetools.return_lines").fetchall() == [("r2",)]


def test_a_store_run_replaces_its_own_plan_rows_and_reads_only_them():
    con = duckdb.connect()
    plan = pd.DataFrame({"sku": ["TEE", "TEE", "CAP"], "location_key": ["berlin", "munich", "berlin"], "delta": [1, 2, 3]})
    warehouse.replace_location_rows(con, "plan", "stock", plan, None)
    warehouse.replace_location_rows(con, "plan", "stock", pd.DataFrame(
        {"sku": ["CAP"], "location_key": ["munich"], "delta": [5]}), ["munich"])
    assert warehouse.read_location_rows(con, "plan", "stock", ["berlin"])["delta"].tolist() == [1, 3]
    assert warehouse.read_location_rows(con, "plan", "stock", ["munich"]).to_dict("records") == [
        {"sku": "CAP", "location_key": "munich", "delta": 5}]
    assert len(warehouse.read_location_rows(con, "plan", "stock", None)) == 3


def test_a_history_written_before_orders_had_a_reason_takes_the_new_column():
    from omnisync_pipelines.defs.reconciliation import append_history

    con = duckdb.connect()
    con.execute("CREATE SCHEMA drift")
    # the table as a version before `reason` (and before declared types) left it
    con.execute("CREATE TABLE drift.orders_history (pos_order_id VARCHAR, status VARCHAR)")
    con.execute("INSERT INTO drift.orders_history VALUES ('s1', 'missing_in_commercetools')")
    append_history(con, "orders_history", pd.DataFrame({"pos_order_id": ["s2"], "status": ["rejected"],
                                                        "reason": ["rejected: payments: unknown tender"]}))
    assert con.execute("SELECT pos_order_id, status, reason FROM drift.orders_history ORDER BY pos_order_id").fetchall() == [
        ("s1", "missing_in_commercetools", None), ("s2", "rejected", "rejected: payments: unknown tender")]
