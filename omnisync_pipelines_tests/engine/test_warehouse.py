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
