"""DuckDB: snapshots, plans, reconciliation and copies of the operational tables.

Tables sit at the asset key's path (`reconciliation/stock` -> `reconciliation.stock`). Values are
always bound parameters or registered frames, never formatted into SQL.

DuckDB lets one process at a time open the file. Assets that write for long share the Dagster pool
"duckdb"; `connect` waits for the file lock, so a process that only opens the file briefly (a push
reading its plan rows, then writing its outcomes) can run outside the pool.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random_exponential

DEFAULT_DUCKDB_PATH = "data/omnisync.duckdb"
LOCK_WAIT_SECONDS = 120.0
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def duckdb_path_from_env() -> str:
    return os.environ.get("OMNISYNC_DUCKDB_PATH", DEFAULT_DUCKDB_PATH)


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a safe identifier: {name!r}")
    return name


class WarehouseLockedError(RuntimeError):
    """Another process kept the DuckDB file locked for longer than we were willing to wait."""


def connect(path: str | None = None, *, lock_wait_seconds: float = LOCK_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting up to `lock_wait_seconds` while another process holds the file."""
    path = path or duckdb_path_from_env()
    if path == ":memory:":
        return duckdb.connect(path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    retrying = Retrying(
        retry=retry_if_exception(_is_file_locked),
        wait=wait_random_exponential(multiplier=0.05, max=2.0),
        stop=stop_after_delay(lock_wait_seconds),
        reraise=True,
    )
    try:
        return retrying(duckdb.connect, path)
    except duckdb.IOException as exc:
        if not _is_file_locked(exc):
            raise
        raise WarehouseLockedError(
            f"DuckDB file {Path(path).resolve()} is still locked by another process after "
            f"{lock_wait_seconds:g}s of waiting: {exc}"
        ) from exc


def _is_file_locked(exc: BaseException) -> bool:
    # duckdb 2.0: IOException('IO Error: Could not set lock on file "...": Conflicting lock is held in ... (PID n)')
    return isinstance(exc, duckdb.IOException) and "Could not set lock on file" in str(exc)


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


def upsert_table(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pd.DataFrame, keys: list[str],
    *, parent_key: str | None = None, parents: list[str] | None = None,
) -> int:
    """Replace the rows whose keys appear in `frame`, keep the others (a delta snapshot).

    With `parent_key`, every row of the `parents` listed (default: the parents in `frame`) goes too:
    the read re-read those parents whole, so a child row it no longer holds is gone.
    """
    schema, table = _ident(schema), _ident(table)
    if not table_exists(con, schema, table):
        return replace_table(con, schema, table, frame)
    key_list = ", ".join(_ident(k) for k in keys)
    if parent_key is not None and parents is None:
        parents = frame[parent_key].dropna().unique().tolist()
    with _incoming_in_transaction(con, frame):
        add_missing_columns(con, schema, table, "_incoming")
        if parent_key is not None and parents:
            con.execute(f"DELETE FROM {schema}.{table} WHERE list_contains(?, {_ident(parent_key)})", [parents])
        con.execute(f"DELETE FROM {schema}.{table} WHERE ({key_list}) IN (SELECT {key_list} FROM _incoming)")
        con.execute(f"INSERT INTO {schema}.{table} BY NAME SELECT * FROM _incoming")
    return len(frame)


@contextmanager
def _incoming_in_transaction(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> Iterator[None]:
    """`frame` readable as `_incoming` inside one transaction: all the statements land, or none."""
    con.register("_incoming", frame)
    try:
        con.execute("BEGIN")
        try:
            yield
        except Exception:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    finally:
        con.unregister("_incoming")


def add_missing_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str, incoming: str) -> None:
    """A table written by an older version lacks the columns a newer canonical model added (e.g. an
    order's shipping fields): add them, so a delta snapshot needs no full re-sync after an upgrade."""
    have = {name for (name,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        [schema, table]).fetchall()}
    for name, dtype, *_ in con.execute(f"DESCRIBE {incoming}").fetchall():
        if name not in have:
            con.execute(f"ALTER TABLE {schema}.{table} ADD COLUMN {_ident(name)} {dtype}")


def replace_location_rows(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pd.DataFrame, locations: list[str] | None
) -> None:
    """Replace the rows of `locations` in schema.table, keeping every other store's rows; None
    replaces the whole table."""
    if locations is None or not table_exists(con, schema, table):
        replace_table(con, schema, table, frame)
        return
    target = f"{_ident(schema)}.{_ident(table)}"
    with _incoming_in_transaction(con, frame):
        con.execute(f"DELETE FROM {target} WHERE list_contains(?, location_key)", [locations])
        if len(frame):
            con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM _incoming")


def read_location_rows(con: duckdb.DuckDBPyConnection, schema: str, table: str, locations: list[str] | None) -> pd.DataFrame:
    """The rows of `locations` (None: all rows) of schema.table; an empty frame when there is no table."""
    if locations is None or not table_exists(con, schema, table):
        return read_table(con, schema, table)
    target = f"{_ident(schema)}.{_ident(table)}"
    return con.execute(f"SELECT * FROM {target} WHERE list_contains(?, location_key)", [locations]).df()


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
