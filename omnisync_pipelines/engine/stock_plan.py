"""Plan the stock flow: which (SKU, location) counts changed at the POS since they were last applied.

The POS owns physical stock. Its absolute count is compared (in DuckDB) with the baseline, the last
count whose change reached commercetools; the difference becomes one relative change per
(SKU, location), keyed by the POS record's version, so that a replayed plan is a no-op and
commercetools keeps every change made there meanwhile (online orders, reservations). A (SKU,
location) with no baseline yet is planned as `initial`: the push aligns commercetools to the POS
count once. Full and delta runs share this code; they differ only in what the snapshot re-read.
"""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from omnisync_pipelines.canonical.keys import idempotency_key
from omnisync_pipelines.canonical.models import Rejection

PLAN_COLUMNS = [
    "idempotency_key", "source_system", "sku", "location_key", "pos_level", "pos_version",
    "baseline_level", "expected_delta", "kind",
]


def stock_flow(pos_system: str) -> str:
    return f"stock_{pos_system}_to_commercetools"


def plan_stock(
    con: duckdb.DuckDBPyConnection, pos_system: str, baselines: pd.DataFrame
) -> tuple[pd.DataFrame, list[Rejection]]:
    """Return (plan rows, rejections). Reads `<pos>.stock` and `commercetools.catalog`."""
    flow = stock_flow(pos_system)
    con.register("_baselines", baselines if len(baselines) else _empty_baselines())
    try:
        rows = con.execute(
            f"""
            WITH moved AS (  -- the one pass over the whole snapshot; everything after sees only changes
                SELECT p.sku, p.location_key, p.on_hand AS pos_level, p.system_version AS pos_version,
                       b.level AS baseline_level, p.system_id
                FROM {_pos_table(pos_system)} AS p
                LEFT JOIN _baselines AS b USING (sku, location_key)
                WHERE b.level IS NULL OR p.on_hand <> b.level
            )
            SELECT m.sku, m.location_key, m.pos_level, m.pos_version, m.baseline_level,
                   m.pos_level - coalesce(m.baseline_level, 0) AS expected_delta,
                   CASE WHEN m.baseline_level IS NULL THEN 'initial' ELSE 'level_change' END AS kind,
                   coalesce(m.sku IN (SELECT sku FROM commercetools.catalog), false) AS known_sku,
                   m.system_id
            FROM moved AS m
            ORDER BY m.location_key, m.sku
            """
        ).df()
    finally:
        con.unregister("_baselines")

    unknown = rows[~rows["known_sku"]]
    rejections = [
        Rejection(
            system=pos_system,
            entity="stock",
            record_ref=f"{r.sku}@{r.location_key}",
            field="sku",
            reason=f"unknown SKU {r.sku!r}: not in the commercetools catalog, so its stock at {r.location_key} is not synced",
            payload=json.dumps({"sku": r.sku, "location_key": r.location_key, "on_hand": int(r.pos_level), "system_id": r.system_id}),
        )
        for r in unknown.itertuples()
    ]
    plan = rows[rows["known_sku"]].copy()
    plan["source_system"] = pos_system
    plan["idempotency_key"] = [
        idempotency_key(pos_system, f"{sku}@{loc}", int(version), flow)
        for sku, loc, version in zip(plan["sku"], plan["location_key"], plan["pos_version"], strict=True)
    ]
    plan["baseline_level"] = plan["baseline_level"].astype("Int64")
    return plan[PLAN_COLUMNS].reset_index(drop=True), rejections


def _pos_table(pos_system: str) -> str:
    if not pos_system.isidentifier():
        raise ValueError(f"not a system id: {pos_system!r}")
    return f"{pos_system}.stock"


def _empty_baselines() -> pd.DataFrame:
    return pd.DataFrame(
        {"sku": pd.Series(dtype=str), "location_key": pd.Series(dtype=str),
         "level": pd.Series(dtype="int64"), "version": pd.Series(dtype="int64")}
    )
