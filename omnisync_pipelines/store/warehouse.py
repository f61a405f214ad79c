"""DuckDB: snapshots, plans, reconciliation and copies of the operational tables.

Tables sit at the asset key's path (`reconciliation/stock` -> `reconciliation.stock`). Values are
always bound parameters or registered frames, never formatted into SQL.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb
import pandas as pd

DEFAULT_DUCKDB_PATH = "data/omnisync.duckdb"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def duckdb_path_from_env() -> str:
    return os.environ.get("OMNISYNC_DUCKDB_PATH", DEFAULT_DUCKDB_PATH)


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a safe identifier: {name!r}")
    return name


def connect(path: str | None = None) -> duckdb.DuckDBPyConnection:
    path = path or duckdb_path_from_env()
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(path)


def replace_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pd.DataFrame) -> int:
    schema, table = _ident(schema), _ident(table)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.register("_incoming", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {schema}.{table} AS SELECT * FROM _incoming")
    finally:
        con.unregister("_incoming")
    _type_null_columns(con, schema, table)
    return len(frame)


def _type_null_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> None:
    """A column that was empty or all-missing arrives typed NULL, into which no later value fits."""
    columns = con.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? AND data_type IN ('NULL', '\"NULL\"')",
        [schema, table],
    ).fetchall()
    for (column,) in columns:
        con.execute(f'ALTER TABLE {schema}.{table} ALTER COLUMN "{column}" TYPE VARCHAR')


def upsert_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pd.DataFrame, keys: list[str]) -> int:
    """Replace the rows whose keys appear in `frame`, keep the others (a delta snapshot)."""
    schema, table = _ident(schema), _ident(table)
    if not table_exists(con, schema, table):
        return replace_table(con, schema, table, frame)
    key_list = ", ".join(_ident(k) for k in keys)
    con.register("_incoming", frame)
    try:
        con.execute("BEGIN")
        _add_missing_columns(con, schema, table, "_incoming")
        con.execute(f"DELETE FROM {schema}.{table} WHERE ({key_list}) IN (SELECT {key_list} FROM _incoming)")
        con.execute(f"INSERT INTO {schema}.{table} BY NAME SELECT * FROM _incoming")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_incoming")
    return len(frame)


def _add_missing_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str, incoming: str) -> None:
    """A table written by an older version lacks the columns a newer canonical model added (e.g. an
    order's shipping fields): add them, so a delta snapshot needs no full re-sync after an upgrade."""
    have = {name for (name,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        [schema, table]).fetchall()}
    for name, dtype, *_ in con.execute(f"DESCRIBE {incoming}").fetchall():
        if name not in have:
            con.execute(f"ALTER TABLE {schema}.{table} ADD COLUMN {_ident(name)} {dtype}")


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    # fetchall, not fetchone: duckdb 2.0 keeps an unfinished result open on the connection otherwise
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, table]
    ).fetchall()
    return bool(rows[0][0])


def read_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> pd.DataFrame:
    if not table_exists(con, schema, table):
        return pd.DataFrame()
    return con.execute(f"SELECT * FROM {_ident(schema)}.{_ident(table)}").df()
