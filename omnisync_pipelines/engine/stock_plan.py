"""Plan the stock flow: which (SKU, location) counts changed at the POS since they were last applied.

The POS owns physical stock. Its absolute count is compared (in DuckDB) with the baseline, the last
count whose change reached commercetools; the difference becomes one relative change per
(SKU, location), keyed by the POS record's version, so that a replayed plan is a no-op and
commercetools keeps every change made there meanwhile (online orders, reservations). A (SKU,
location) with no baseline yet is planned as `initial`: the push aligns commercetools to the POS
count once.

Two entry points share one diff:
- `plan_stock` (full re-sync): every snapshot row against every baseline the caller loaded.
- `plan_stock_changes` (delta): only the snapshot rows whose POS `system_version` is at or above
  their location's plan watermark (ops store), plus the counts still owed from earlier runs (writes
  the ledger holds as `retrying`, rows in the rejected table that are open, held or released); their
  baselines are fetched by key. The POS contract requires a count's `system_version` never to fall
  and to grow with every change of it, within a second where it is a time of a second (X-Series: one
  global counter; R-Series: the count's `timeStamp`), so "at or above the watermark" holds every
  change since it was planned (the watermark's own version is diffed again: a count changed later in
  that second). What a
  watermark cannot see, the nightly full sync (`plan_stock`) re-diffs: a row that came into the
  snapshot with an old version (a location added to the location map, then a full re-read), or a
  count a write deferred to the fast lane that never landed.
"""

from __future__ import annotations

import json
from typing import Protocol

import duckdb
import numpy as np
import pandas as pd

from omnisync_pipelines.canonical.models import Rejection

PLAN_COLUMNS = [
    "idempotency_key", "source_system", "sku", "location_key", "pos_level", "pos_version",
    "baseline_level", "expected_delta", "kind",
]
_CANDIDATES = "_stock_candidates"
_NUMBERED = "_stock_candidate_keys"
_CANDIDATE_BASELINES = "_stock_candidate_baselines"


class PlanStore(Protocol):
    """What the delta plan reads from the ops store (`store.ops.OpsStore`)."""

    def plan_watermarks(self, flow: str) -> dict[str, int]: ...
    def stock_retry_refs(self, flow: str, source_system: str) -> list[tuple[str, str]]: ...
    def baseline_rows(self, source_system: str, pairs: list[tuple[str, str]]) -> list[tuple[int, int, int]]: ...


def stock_flow(pos_system: str) -> str:
    return f"stock_{pos_system}_to_commercetools"


def stock_out_flow(pos_system: str) -> str:
    """Units from commercetools into the POS's counts (`engine/stock_out.py`)."""
    return f"stock_commercetools_to_{pos_system}"


def plan_stock(
    con: duckdb.DuckDBPyConnection, pos_system: str, baselines: pd.DataFrame, *, locations: list[str] | None = None
) -> tuple[pd.DataFrame, list[Rejection]]:
    """Return (plan rows, rejections) over the whole snapshot `<pos>.stock` (only `locations`, when
    given) against `baselines` (sku, location_key, level[, version]); reads `commercetools.catalog`."""
    source = _pos_table(pos_system)
    con.register("_baselines", baselines if len(baselines) else _empty_baselines())
    if locations is not None:
        con.register("_locations", pd.DataFrame({"location_key": pd.Series(list(locations), dtype=object)}))
        source = f"(SELECT * FROM {source} SEMI JOIN _locations USING (location_key))"
    try:
        return _diff(con, pos_system, source, "_baselines")
    finally:
        con.unregister("_baselines")
        if locations is not None:
            con.unregister("_locations")


def plan_stock_changes(
    con: duckdb.DuckDBPyConnection, pos_system: str, ops: PlanStore, *, locations: list[str] | None = None
) -> tuple[pd.DataFrame, list[Rejection], dict[str, int]]:
    """The delta plan: (plan rows, rejections, high water). Rows and rejections are those `plan_stock`
    gives for the candidates (same columns, same keys); `high_water` = {location_key: highest
    `system_version` among that location's candidates}, for `OpsStore.stage_plan_watermarks`."""
    flow = stock_flow(pos_system)
    marks = ops.plan_watermarks(flow)
    owed = ops.stock_retry_refs(flow, pos_system)
    _select_candidates(con, pos_system, marks, owed, locations)
    try:
        _fetch_candidate_baselines(con, pos_system, ops)
        plan, rejections = _diff(con, pos_system, _CANDIDATES, _CANDIDATE_BASELINES)
        high_water = dict(con.execute(
            f"SELECT location_key, max(system_version) FROM {_CANDIDATES} GROUP BY location_key").fetchall())
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_CANDIDATES}")
        con.execute(f"DROP TABLE IF EXISTS {_CANDIDATE_BASELINES}")
    return plan, rejections, {str(loc): int(version) for loc, version in high_water.items()}


def snapshot_high_water(
    con: duckdb.DuckDBPyConnection, pos_system: str, *, locations: list[str] | None = None
) -> dict[str, int]:
    """{location_key: highest `system_version` in the snapshot}: what a full plan covers, so a full
    sync can stage it as its watermarks too (the next delta plan then starts from there)."""
    rows = con.execute(
        f"SELECT location_key, max(system_version) FROM {_pos_table(pos_system)} "
        "WHERE $all OR list_contains($locations, location_key) GROUP BY location_key",
        {"all": locations is None, "locations": list(locations or [])},
    ).fetchall()
    return {str(loc): int(version) for loc, version in rows}


def _select_candidates(con, pos_system: str, marks: dict[str, int], owed: list[tuple[str, str]],
                       locations: list[str] | None) -> None:
    """Fill `_stock_candidates` with the snapshot rows the delta plan diffs, reading as little as it can:
    one range filter on `system_version` (which DuckDB's row-group statistics prune) does the bulk."""
    scope = None if locations is None else set(locations)
    in_scope = {loc: v for loc, v in marks.items() if scope is None or loc in scope}
    unmarked = scope is not None and bool(scope - set(in_scope))
    floor = -1 if unmarked or not in_scope else min(in_scope.values())
    con.register("_marks", pd.DataFrame({"location_key": pd.Series(list(in_scope), dtype=object),
                                         "version": pd.Series(list(in_scope.values()), dtype="int64")}))
    table, columns = _pos_table(pos_system), "p.sku, p.location_key, p.on_hand, p.system_version, p.system_id"
    scoped = "($all OR list_contains($locations, p.location_key))"
    params = {"all": scope is None, "locations": sorted(scope or [])}
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {_CANDIDATES} AS
            SELECT {columns} FROM {table} AS p LEFT JOIN _marks AS m USING (location_key)
            WHERE p.system_version >= $floor AND p.system_version >= coalesce(m.version, -1) AND {scoped}""",
            {**params, "floor": floor},
        )
        if scope is None and in_scope:  # a location first seen above the floor: all of its rows
            con.execute(
                f"""INSERT INTO {_CANDIDATES} SELECT {columns} FROM {table} AS p
                WHERE p.system_version < $floor AND p.location_key IN (
                    SELECT location_key FROM {_CANDIDATES} ANTI JOIN _marks USING (location_key))""",
                {"floor": floor},
            )
    finally:
        con.unregister("_marks")
    owed = [(sku, loc) for sku, loc in owed if scope is None or loc in scope]
    if owed:
        con.register("_owed", pd.DataFrame(owed, columns=["sku", "location_key"], dtype=object))
        try:
            con.execute(
                f"""INSERT INTO {_CANDIDATES} SELECT {columns} FROM {table} AS p SEMI JOIN _owed USING (sku, location_key)
                ANTI JOIN {_CANDIDATES} AS c USING (sku, location_key)"""
            )
        finally:
            con.unregister("_owed")


def _fetch_candidate_baselines(con, pos_system: str, ops: PlanStore) -> None:
    """`_CANDIDATE_BASELINES`: the ops store's baseline of each candidate, looked up by key. The keys
    go out in key order with their row number, and only (number, level, version) come back."""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {_NUMBERED} AS
        SELECT sku, location_key, (row_number() OVER (ORDER BY sku, location_key) - 1)::BIGINT AS n FROM {_CANDIDATES}""")
    try:
        pairs = con.execute(f"SELECT sku, location_key FROM {_NUMBERED} ORDER BY n").fetchall()
        found = np.array(ops.baseline_rows(pos_system, pairs), dtype=np.int64).reshape(-1, 3)
        con.register("_found", pd.DataFrame(found, columns=["n", "level", "version"]))
        try:
            con.execute(f"""CREATE OR REPLACE TEMP TABLE {_CANDIDATE_BASELINES} AS
                SELECT c.sku, c.location_key, f.level, f.version FROM {_NUMBERED} AS c JOIN _found AS f USING (n)""")
        finally:
            con.unregister("_found")
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_NUMBERED}")


def _diff(con, pos_system: str, source: str, baselines: str) -> tuple[pd.DataFrame, list[Rejection]]:
    """Plan rows and rejections of `source` (the snapshot, or candidates of it) against the relation
    `baselines` (sku, location_key, level)."""
    flow = stock_flow(pos_system)
    rows = con.execute(
        f"""
        WITH moved AS (  -- the one pass over the source; everything after sees only changes
            SELECT p.sku, p.location_key, p.on_hand AS pos_level, p.system_version AS pos_version,
                   b.level AS baseline_level, p.system_id
            FROM {source} AS p
            LEFT JOIN {baselines} AS b USING (sku, location_key)
            WHERE b.level IS NULL OR p.on_hand <> b.level
        ),
        known AS (  -- hash the moved SKUs and probe the catalog with them, not the other way round
            SELECT c.sku FROM commercetools.catalog AS c SEMI JOIN moved USING (sku)
        )
        SELECT concat_ws('|', $flow, $pos, m.sku || '@' || m.location_key, m.pos_version) AS idempotency_key,
               $pos AS source_system, m.sku, m.location_key, m.pos_level, m.pos_version, m.baseline_level,
               m.pos_level - coalesce(m.baseline_level, 0) AS expected_delta,
               CASE WHEN m.baseline_level IS NULL THEN 'initial' ELSE 'level_change' END AS kind,
               coalesce(m.sku IN (SELECT c.sku FROM known AS c), false) AS known_sku,
               m.system_id
        FROM moved AS m
        ORDER BY m.location_key, m.sku
        """,
        {"flow": flow, "pos": pos_system},
    ).df()
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
    plan = rows.loc[rows["known_sku"], PLAN_COLUMNS].reset_index(drop=True)
    plan["baseline_level"] = plan["baseline_level"].astype("Int64")
    return plan, rejections


def _pos_table(pos_system: str) -> str:
    if not pos_system.isidentifier():
        raise ValueError(f"not a system id: {pos_system!r}")
    return f"{pos_system}.stock"


def _empty_baselines() -> pd.DataFrame:
    return pd.DataFrame(
        {"sku": pd.Series(dtype=str), "location_key": pd.Series(dtype=str),
         "level": pd.Series(dtype="int64"), "version": pd.Series(dtype="int64")}
    )
