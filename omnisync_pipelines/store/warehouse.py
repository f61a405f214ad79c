"""DuckDB: snapshots, plans, reconciliation and copies of the operational tables.

Tables sit at the asset key's path (`reconciliation/stock` -> `reconciliation.stock`). Values are
always bound parameters or registered frames, never formatted into SQL.

DuckDB lets one process at a time open the file. Assets that write for long share the Dagster pool
"duckdb"; `connect` waits for the file lock, so a process that only opens the file briefly (a push
reading its plan rows, then writing its outcomes) can run outside the pool. Analysts never open this
file: they read the copy each run publishes (`read_copy.py`). In production the warehouse is a
DuckLake (`lake.py`) that many processes write at once; a write that lost a commit conflict is run
again whole.

Types: a table declared in `warehouse_schema` is created from its declaration (types and comments),
whatever the frame holds (an empty frame included), and each frame column is cast to its declared
type; a table an older version wrote with other types is migrated in place the first time it is
written again. A frame column the declaration lacks is kept with the type DuckDB infers and logged
(an error when OMNISYNC_WAREHOUSE_STRICT=1, as the tests run it); an undeclared table is written as
the frame is.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb
import pandas as pd
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_random_exponential,
)

from omnisync_pipelines.store import lake, warehouse_schema
from omnisync_pipelines.store.warehouse_schema import TIMESTAMPTZ, VARCHAR, VARCHAR_LIST, TableSchema

DEFAULT_DUCKDB_PATH = "data/omnisync.duckdb"
LOCK_WAIT_SECONDS = 120.0
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
STRICT_ENV = "OMNISYNC_WAREHOUSE_STRICT"
T = TypeVar("T")
log = logging.getLogger(__name__)


def duckdb_path_from_env() -> str:
    return os.environ.get("OMNISYNC_DUCKDB_PATH", DEFAULT_DUCKDB_PATH)


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a safe identifier: {name!r}")
    return name


class WarehouseLockedError(RuntimeError):
    """Another process kept the DuckDB file locked for longer than we were willing to wait."""


class WarehouseFormatError(RuntimeError):
    """The DuckDB file was written by a DuckDB release this one cannot read."""


def connect(path: str | None = None, *, lock_wait_seconds: float = LOCK_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """Open the warehouse: the lake when `OMNISYNC_WAREHOUSE_CATALOG` is set (production: every
    process attaches it, nobody waits), else the DuckDB file, waiting up to `lock_wait_seconds` while
    another process holds it."""
    catalog = lake.configured_catalog()
    if catalog:
        return lake.connect_lake(catalog)
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
        if "database file with version number" in str(exc):
            raise WarehouseFormatError(
                f"{Path(path).resolve()} was written by a newer DuckDB (omnisync 0.1.0 used DuckDB 2.0; this "
                f"release pins {duckdb.__version__} for DuckLake): convert it once as docs/operations.md "
                "\"Upgrading the warehouse from 0.1.0\" shows, or move it aside and run full_sync"
            ) from None
        if not _is_file_locked(exc):
            raise
        raise WarehouseLockedError(
            f"DuckDB file {Path(path).resolve()} is still locked by another process after "
            f"{lock_wait_seconds:g}s of waiting: {exc}"
        ) from exc


def _is_file_locked(exc: BaseException) -> bool:
    # duckdb 2.0: IOException('IO Error: Could not set lock on file "...": Conflicting lock is held in ... (PID n)')
    return isinstance(exc, duckdb.IOException) and "Could not set lock on file" in str(exc)


def _retried_on_conflict(write: Callable[..., T]) -> Callable[..., T]:
    """A write that lost a lake commit conflict is rolled back whole: run it again, from reading the
    table afresh. Inside a transaction a caller holds, the caller's own retry does it."""

    @functools.wraps(write)
    def retried(con: duckdb.DuckDBPyConnection, *args, **kwargs) -> T:
        if id(con) in _OPEN:
            return write(con, *args, **kwargs)
        for attempt in lake.commit_retrying():
            with attempt:
                return write(con, *args, **kwargs)
        raise AssertionError("unreachable")

    return retried


@_retried_on_conflict
def replace_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pd.DataFrame) -> int:
    schema, table = _ident(schema), _ident(table)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    declaration = warehouse_schema.declared(schema, table)
    if declaration is None:
        con.register("_incoming", frame)
        try:
            con.execute(f"CREATE OR REPLACE TABLE {schema}.{table} AS SELECT * FROM _incoming")
        finally:
            con.unregister("_incoming")
        _type_null_columns(con, schema, table)
        return len(frame)
    with _incoming_in_transaction(con, frame):
        incoming = _described(con, "_incoming")
        extra = _undeclared(schema, table, declaration, incoming)
        _create(con, schema, table, declaration, extra)
        _insert(con, f"{schema}.{table}", declaration, incoming)
    return len(frame)


class UndeclaredColumnError(ValueError):
    """A frame written to a declared table holds a column its declaration lacks (strict mode)."""


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "") not in ("", "0", "false")


def _described(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    """Column name -> DuckDB type of a registered frame or a table, in order."""
    return {name: dtype for name, dtype, *_ in con.execute(f"DESCRIBE {relation}").fetchall()}


def _table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    return dict(con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
        "ORDER BY column_index", [schema, table]).fetchall())


def _undeclared(schema: str, table: str, declaration: TableSchema, incoming: dict[str, str]) -> dict[str, str]:
    """The frame's columns the declaration lacks (name -> type DuckDB infers): an error in strict mode."""
    extra = {name: _storable(dtype) for name, dtype in incoming.items() if declaration.column(name) is None}
    if extra:
        message = (f"{schema}.{table}: columns {sorted(extra)} are not declared in "
                   f"omnisync_pipelines/store/warehouse_schema.py")
        if strict():
            raise UndeclaredColumnError(message)
        log.warning("%s; kept with the types DuckDB infers", message)
    return extra


def _storable(dtype: str) -> str:
    return VARCHAR if dtype in ("NULL", '"NULL"') else dtype


def _column_list(declaration: TableSchema, extra: dict[str, str]) -> str:
    columns = [*((c.name, c.type) for c in declaration.columns), *extra.items()]
    return ", ".join(f'"{_ident(name)}" {dtype}' for name, dtype in columns)


def _create(con: duckdb.DuckDBPyConnection, schema: str, table: str, declaration: TableSchema,
            extra: dict[str, str]) -> None:
    con.execute(f"CREATE OR REPLACE TABLE {schema}.{table} ({_column_list(declaration, extra)})")
    _comment(con, schema, table, declaration)


def _comment(con: duckdb.DuckDBPyConnection, schema: str, table: str, declaration: TableSchema) -> None:
    """COMMENT ON the table and its declared columns. DDL takes no parameters: the texts are the
    declaration's own constants, quoted as SQL string literals."""
    con.execute(f"COMMENT ON TABLE {schema}.{table} IS {lake.sql_literal(declaration.comment)}")
    for column in declaration.columns:
        con.execute(f'COMMENT ON COLUMN {schema}.{table}."{_ident(column.name)}" IS {lake.sql_literal(column.comment)}')


def _cast(name: str, source: str, target: str) -> str:
    """SQL reading column `name` of type `source` as `target`."""
    column = f'"{_ident(name)}"'
    if source == target:
        return column
    if source in ("NULL", '"NULL"'):
        return f"CAST(NULL AS {target})"
    if target == VARCHAR_LIST and source == VARCHAR:  # a comma list, as the engine builds it
        return (f"CASE WHEN {column} IS NULL THEN NULL WHEN trim({column}) = '' THEN CAST([] AS VARCHAR[]) "
                f"ELSE regexp_split_to_array(trim({column}), '\\s*,\\s*') END")
    if target == TIMESTAMPTZ and source.startswith("TIMESTAMP") and "TIME ZONE" not in source:
        return f"timezone('UTC', CAST({column} AS TIMESTAMP))"  # a naive timestamp is UTC
    return f"CAST({column} AS {target})"


def _insert(con: duckdb.DuckDBPyConnection, target: str, declaration: TableSchema, incoming: dict[str, str],
            source: str = "_incoming") -> None:
    """INSERT BY NAME the rows of `source`, each declared column cast to its declared type."""
    if not incoming:
        return
    declared_types = declaration.types()
    select = ", ".join(f'{_cast(name, dtype, declared_types.get(name, _storable(dtype)))} AS "{name}"'
                       for name, dtype in incoming.items())
    con.execute(f"INSERT INTO {target} BY NAME SELECT {select} FROM {source}")


def _conform(con: duckdb.DuckDBPyConnection, schema: str, table: str, declaration: TableSchema,
             incoming: dict[str, str]) -> None:
    """Make an existing declared table what its declaration says before rows go in: rebuilt when its
    declared columns are not exactly the declared ones, of the declared types, in order (a table an
    older version wrote: other types, or columns a newer model added), a new undeclared column of the
    frame added, the comments put back when missing. Runs inside the caller's transaction."""
    have = _table_columns(con, schema, table)
    extra = _undeclared(schema, table, declaration, incoming)
    kept = {name: dtype for name, dtype in have.items() if declaration.column(name) is None}
    if [(n, t) for n, t in have.items() if n not in kept] != [(c.name, c.type) for c in declaration.columns]:
        _rebuild(con, schema, table, declaration, have, {**kept, **extra})
        return
    for name, dtype in extra.items():
        if name not in have:
            con.execute(f'ALTER TABLE {schema}.{table} ADD COLUMN "{_ident(name)}" {dtype}')
    comment = con.execute("SELECT comment FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                          [schema, table]).fetchall()
    if not comment or comment[0][0] != declaration.comment:
        _comment(con, schema, table, declaration)


def _rebuild(con: duckdb.DuckDBPyConnection, schema: str, table: str, declaration: TableSchema,
             have: dict[str, str], extra: dict[str, str]) -> None:
    """Migrate schema.table to its declaration: a new table of the declared types (plus the undeclared
    columns it had), the rows copied with casts, then put in its place."""
    log.info("migrating %s.%s to its declared column types", schema, table)
    staging = _ident(f"_migrating_{table}")
    con.execute(f"CREATE OR REPLACE TABLE {schema}.{staging} ({_column_list(declaration, extra)})")
    _insert(con, f"{schema}.{staging}", declaration, have, source=f"{schema}.{table}")
    con.execute(f"DROP TABLE {schema}.{table}")
    con.execute(f"ALTER TABLE {schema}.{staging} RENAME TO {table}")
    _comment(con, schema, table, declaration)


def migrate_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Bring an existing declared table to its declared types and comments now (the writes do it on
    their own the next time they write it); False when the table is not declared or does not exist."""
    schema, table = _ident(schema), _ident(table)
    declaration = warehouse_schema.declared(schema, table)
    if declaration is None or not table_exists(con, schema, table):
        return False
    with _transaction(con):
        _conform(con, schema, table, declaration, {})
    return True


_OPEN: set[int] = set()  # connections inside a transaction this module began


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """A transaction of its own, or the one this module already opened on `con` (DuckDB aborts a
    transaction on a second BEGIN, so it is never tried)."""
    if id(con) in _OPEN:
        yield
        return
    con.execute("BEGIN")
    _OPEN.add(id(con))
    try:
        try:
            yield
        except Exception:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    finally:
        _OPEN.discard(id(con))


def _type_null_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> None:
    """A column that was empty or all-missing arrives typed NULL, into which no later value fits."""
    columns = con.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? AND data_type IN ('NULL', '\"NULL\"')",
        [schema, table],
    ).fetchall()
    for (column,) in columns:
        con.execute(f'ALTER TABLE {schema}.{table} ALTER COLUMN "{column}" TYPE VARCHAR')


@_retried_on_conflict
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
    declaration = warehouse_schema.declared(schema, table)
    with _incoming_in_transaction(con, frame):
        add_missing_columns(con, schema, table, "_incoming")
        if parent_key is not None and parents:
            con.execute(f"DELETE FROM {schema}.{table} WHERE list_contains(?, {_ident(parent_key)})", [parents])
        con.execute(f"DELETE FROM {schema}.{table} WHERE ({key_list}) IN (SELECT {key_list} FROM _incoming)")
        if declaration is None:
            con.execute(f"INSERT INTO {schema}.{table} BY NAME SELECT * FROM _incoming")
        else:
            _insert(con, f"{schema}.{table}", declaration, _described(con, "_incoming"))
    return len(frame)


@contextmanager
def _incoming_in_transaction(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> Iterator[None]:
    """`frame` readable as `_incoming` inside one transaction: all the statements land, or none."""
    con.register("_incoming", frame)
    try:
        with _transaction(con):
            yield
    finally:
        con.unregister("_incoming")


def add_missing_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str, incoming: str) -> None:
    """A table written by an older version lacks the columns a newer canonical model added (e.g. an
    order's shipping fields): add them, so a delta snapshot needs no full re-sync after an upgrade.
    A declared table is also migrated to its declared types and comments (`_conform`)."""
    schema, table = _ident(schema), _ident(table)
    declaration = warehouse_schema.declared(schema, table)
    if declaration is not None:
        with _transaction(con):
            _conform(con, schema, table, declaration, _described(con, incoming))
        return
    have = {name for (name,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        [schema, table]).fetchall()}
    for name, dtype, *_ in con.execute(f"DESCRIBE {incoming}").fetchall():
        if name not in have:
            con.execute(f"ALTER TABLE {schema}.{table} ADD COLUMN {_ident(name)} {dtype}")


@_retried_on_conflict
def replace_location_rows(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pd.DataFrame, locations: list[str] | None
) -> None:
    """Replace the rows of `locations` in schema.table, keeping every other store's rows; None
    replaces the whole table."""
    if locations is None or not table_exists(con, schema, table):
        replace_table(con, schema, table, frame)
        return
    schema, table = _ident(schema), _ident(table)
    target = f"{schema}.{table}"
    declaration = warehouse_schema.declared(schema, table)
    with _incoming_in_transaction(con, frame):
        incoming = _described(con, "_incoming")
        if declaration is not None:
            _conform(con, schema, table, declaration, incoming)
        con.execute(f"DELETE FROM {target} WHERE list_contains(?, location_key)", [locations])
        if len(frame) and declaration is not None:
            _insert(con, target, declaration, incoming)
        elif len(frame):
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
