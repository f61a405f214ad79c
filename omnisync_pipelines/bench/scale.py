"""The scale generator: a POS stock snapshot of SKUs × locations and its baseline, `change_rate` apart.

Everything is generated inside DuckDB (`range()`), so ten million rows take seconds, not minutes,
and the same (skus, locations, change_rate, seed) always gives the same rows. Exactly
round(rate × rows) rows are "changed" (a fixed permutation of the row index falls under the
threshold): their POS count differs from the baseline by 1–5 units and their version is newer.
The POS snapshot's rows are stored in version order, as the snapshot asset writes a POS's change
feed (version-cursor paging returns rows by ascending `version`; a delta merge appends the changed rows), so
the changed rows sit together at the end, where a real snapshot has them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import duckdb
import pandas as pd
from sqlalchemy import text

from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines.systems import DEFAULT_POS

STRIDES = (1_000_003, 999_983, 7_919, 104_729)


@dataclass(frozen=True)
class Scale:
    skus: int
    locations: int
    change_rate: float  # share of (SKU, location) rows whose POS count moved since the baseline
    seed: int = 7
    generation: int = 1  # the n-th round of changes to the same rows: counts move n × (1–5), version 1000 + n

    @property
    def rows(self) -> int:
        return self.skus * self.locations

    @property
    def label(self) -> str:
        return f"{self.skus:,} SKUs × {self.locations} locations, {self.change_rate:.1%} changed"


def sku(index: int) -> str:
    return f"SKU-{index:07d}"


def location(index: int) -> str:
    return f"store-{index:03d}"


_GRID = """
    SELECT 'SKU-' || lpad(s::VARCHAR, 7, '0') AS sku,
           'store-' || lpad(l::VARCHAR, 3, '0') AS location_key,
           s, l,
           (((s * $locations + l + $seed) * $stride) % $rows) < $threshold AS changed,
           ((s * 7 + l * 3 + $seed) % 40)::BIGINT AS level
    FROM range($skus) AS a(s), range($locations) AS b(l)
"""


def _params(scale: Scale) -> dict:
    stride = next(p for p in STRIDES if math.gcd(p, scale.rows) == 1)
    return {"skus": scale.skus, "locations": scale.locations, "seed": scale.seed, "stride": stride,
            "rows": scale.rows, "threshold": round(scale.change_rate * scale.rows)}


def build_snapshots(con: duckdb.DuckDBPyConnection, scale: Scale, pos_system: str = DEFAULT_POS) -> int:
    """Write `<pos>.stock`, `commercetools.catalog` and `bench.baseline` into `con`; returns the changed rows."""
    if not pos_system.isidentifier():
        raise ValueError(f"not a system id: {pos_system!r}")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {pos_system}")
    con.execute("CREATE SCHEMA IF NOT EXISTS commercetools")
    con.execute("CREATE SCHEMA IF NOT EXISTS bench")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _grid AS {_GRID}", _params(scale))
    con.execute(
        f"""CREATE OR REPLACE TABLE {pos_system}.stock AS
        SELECT '{pos_system}' AS system, sku, location_key,
               level + CASE WHEN changed THEN $generation * (1 + s % 5) ELSE 0 END AS on_hand,
               0::BIGINT AS reserved,
               level + CASE WHEN changed THEN $generation * (1 + s % 5) ELSE 0 END AS available,
               'inv-' || s || '-' || l AS system_id,
               (1000 + CASE WHEN changed THEN $generation ELSE 0 END)::BIGINT AS system_version,
               NULL::TIMESTAMPTZ AS updated_at
        FROM _grid
        ORDER BY system_version, s, l""",
        {"generation": scale.generation},
    )
    con.execute(
        "CREATE OR REPLACE TABLE bench.baseline AS SELECT sku, location_key, level, 1000::BIGINT AS version FROM _grid"
    )
    con.execute(
        """CREATE OR REPLACE TABLE commercetools.catalog AS
        SELECT 'commercetools' AS system, 'SKU-' || lpad(s::VARCHAR, 7, '0') AS sku,
               'product-' || (s // 6) AS product_key, 'Product ' || (s // 6) AS name
        FROM range($skus) AS a(s)""",
        {"skus": scale.skus},
    )
    changed = con.execute("SELECT count(*) FROM _grid WHERE changed").fetchone()[0]
    con.execute("DROP TABLE _grid")
    return int(changed)


_SQLITE_BASELINE = """
    WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < :skus),
                   l(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM l WHERE j + 1 < :locations)
    INSERT INTO stock_baseline (source_system, sku, location_key, level, version, last_key, updated_at)
    SELECT :pos, 'SKU-' || printf('%07d', i), 'store-' || printf('%03d', j), (i * 7 + j * 3 + :seed) % 40, 1000,
           NULL, '2025-01-01 00:00:00.000000'
    FROM s CROSS JOIN l
"""


def build_ops_baselines(ops: OpsStore, scale: Scale, pos_system: str = DEFAULT_POS) -> None:
    """The same baseline as `bench.baseline`, written into a SQLite ops store's `stock_baseline` by
    SQLite itself (a recursive CTE, rows in primary-key order, one transaction): ten million rows in
    about a minute, where row-by-row inserts from Python would take several."""
    if ops.engine.dialect.name != "sqlite":
        raise ValueError("the bench builds its baselines in a SQLite ops store")
    with ops.engine.begin() as conn:
        conn.execute(text("DELETE FROM stock_baseline WHERE source_system = :pos"), {"pos": pos_system})
        conn.execute(text(_SQLITE_BASELINE), {"skus": scale.skus, "locations": scale.locations, "seed": scale.seed,
                                              "pos": pos_system})


def baseline_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The baseline as the engine receives it from the ops store (a DataFrame)."""
    return con.execute("SELECT * FROM bench.baseline").df()


def stock_frame(con: duckdb.DuckDBPyConnection, pos_system: str = DEFAULT_POS) -> pd.DataFrame:
    return con.execute(f"SELECT * FROM {pos_system}.stock").df()
