"""Stock reconciliation: absolute counts per SKU x location, commercetools against the POS.

status: `match` (equal), `explained` (the difference is exactly a POS change not yet applied to
commercetools: in flight, the next push carries it), `drift` (anything else: a manual change in
one system, a lost movement, a rejected write). Runs in DuckDB on frames of fresh reads.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pandas as pd

RECONCILIATION_COLUMNS = [
    "sku", "location_key", "commercetools_on_hand", "pos_system", "pos_on_hand", "difference",
    "in_flight_units", "status", "checked_at",
]


def reconcile_stock(
    ct_stock: pd.DataFrame, pos_stock: pd.DataFrame, baselines: pd.DataFrame, *, pos_system: str,
    checked_at: datetime | None = None,
) -> pd.DataFrame:
    """Frames have the canonical stock columns (`sku`, `location_key`, `on_hand`); baselines
    (`sku`, `location_key`, `level`). `difference` is commercetools minus POS."""
    con = duckdb.connect()
    con.register("ct", ct_stock[["sku", "location_key", "on_hand"]] if len(ct_stock) else _empty("on_hand"))
    con.register("pos", pos_stock[["sku", "location_key", "on_hand"]] if len(pos_stock) else _empty("on_hand"))
    con.register("b", baselines[["sku", "location_key", "level"]] if len(baselines) else _empty("level"))
    frame = con.execute(
        """
        WITH joined AS (
            SELECT coalesce(ct.sku, pos.sku) AS sku,
                   coalesce(ct.location_key, pos.location_key) AS location_key,
                   ct.on_hand AS commercetools_on_hand,
                   pos.on_hand AS pos_on_hand,
                   coalesce(ct.on_hand, 0) - coalesce(pos.on_hand, 0) AS difference
            FROM ct FULL OUTER JOIN pos ON ct.sku = pos.sku AND ct.location_key = pos.location_key
        ), flagged AS (
        SELECT j.sku, j.location_key, j.commercetools_on_hand, j.pos_on_hand, j.difference,
               CASE WHEN j.pos_on_hand IS NULL THEN 0
                    WHEN b.level IS NULL THEN j.pos_on_hand
                    ELSE j.pos_on_hand - b.level END AS in_flight_units
        FROM joined AS j LEFT JOIN b ON j.sku = b.sku AND j.location_key = b.location_key
        )
        SELECT *,
               CASE WHEN difference = 0 THEN 'match'
                    WHEN difference + in_flight_units = 0 THEN 'explained'
                    ELSE 'drift' END AS status
        FROM flagged
        ORDER BY location_key, sku
        """
    ).df()
    con.close()
    frame["pos_system"] = pos_system
    frame["checked_at"] = pd.Timestamp(checked_at or datetime.now(UTC))
    for column in ("commercetools_on_hand", "pos_on_hand"):
        frame[column] = frame[column].astype("Int64")
    return frame[RECONCILIATION_COLUMNS]


def _empty(value_column: str) -> pd.DataFrame:
    return pd.DataFrame({"sku": pd.Series(dtype=str), "location_key": pd.Series(dtype=str), value_column: pd.Series(dtype="int64")})
