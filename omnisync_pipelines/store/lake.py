"""The production warehouse: a DuckLake, so runs on several machines write it at once.

A DuckDB file admits one writing process. A DuckLake keeps the same schemas and tables as Parquet
files under a data path (a shared disk), with its catalog in PostgreSQL: every process attaches it,
writes in transactions that commit as snapshots, and readers see the last committed snapshot without
waiting for anyone. Two transactions that touched the same table (one store's rows replaced while
another store's are) conflict at commit; the loser runs its write again whole (`commit_retrying`).

Set `OMNISYNC_WAREHOUSE_CATALOG` (e.g. `postgres:dbname=omnisync_lake host=db user=omnisync`; a
password belongs in libpq's `PGPASSWORD`/`.pgpass`, not in this string) and `OMNISYNC_WAREHOUSE_DATA_PATH`
(a directory every run's machine sees, e.g. an NFS mount). Unset, the warehouse is the DuckDB file.

The extensions come from PyPI packages of DuckDB's signed binaries, built per DuckDB release; DuckDB
checks the signature on LOAD (unsigned extensions stay refused), and the binary must match the DuckDB
release exactly, which the pins in pyproject.toml keep.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

import duckdb
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

CATALOG_ENV = "OMNISYNC_WAREHOUSE_CATALOG"
DATA_PATH_ENV = "OMNISYNC_WAREHOUSE_DATA_PATH"
ALIAS = "warehouse"
COMMIT_ATTEMPTS = 12
_PASSWORD = re.compile(r"password=\S+", re.IGNORECASE)



class LakeSetupError(RuntimeError):
    """The lake's settings or extensions are wrong: one line that says what to fix."""


def configured_catalog() -> str | None:
    return os.environ.get(CATALOG_ENV, "").strip() or None


def connect_lake(catalog: str, data_path: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-process DuckDB whose default database is the lake (`USE warehouse`)."""
    data_path = (data_path or os.environ.get(DATA_PATH_ENV, "")).strip()
    if not data_path:
        raise LakeSetupError(f"{CATALOG_ENV} is set but {DATA_PATH_ENV} is not: set it to the directory "
                             "(shared by every machine that runs syncs) where the lake's Parquet files live")
    con = duckdb.connect()
    try:
        load_extension(con, "ducklake")
        if catalog.startswith("postgres:"):
            load_extension(con, "postgres_scanner")
        Path(data_path).mkdir(parents=True, exist_ok=True)
        data = sql_literal(data_path.rstrip("/") + "/")
        # First attach creates the catalog's tables; two processes doing that at once: one retries.
        for attempt in Retrying(retry=retry_if_exception(_is_retryable_setup), stop=stop_after_attempt(5),
                                wait=wait_random_exponential(multiplier=0.1, max=1.0), reraise=True):
            with attempt:
                con.execute(f"ATTACH IF NOT EXISTS {sql_literal('ducklake:' + catalog)} AS {ALIAS} (DATA_PATH {data})")
        con.execute(f"USE {ALIAS}")
    except duckdb.Error as exc:
        con.close()
        raise LakeSetupError(f"cannot attach the warehouse lake named by {CATALOG_ENV}: "
                             f"{_PASSWORD.sub('password=***', str(exc).splitlines()[0])}") from None
    return con


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """LOAD an extension from its PyPI package (`duckdb-extension-<name>`), built for this DuckDB."""
    package = f"duckdb_extension_{name}"
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise LakeSetupError(f"the DuckDB extension {name} is not installed: "
                             f"pip install duckdb-extension-{name.replace('_', '-')}=={duckdb.__version__}") from exc
    binary = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not binary.exists():
        built = sorted(p.name for p in (Path(module.__file__).parent / "extensions").iterdir())
        raise LakeSetupError(f"the {name} extension installed is built for DuckDB {', '.join(built)}, "
                             f"not {duckdb.__version__}: install duckdb-extension-{name.replace('_', '-')}=={duckdb.__version__}")
    con.execute(f"LOAD {sql_literal(str(binary))}")


def is_commit_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.TransactionException) and "conflict" in str(exc).lower()


def commit_retrying() -> Retrying:
    """The retry of a write that lost a commit conflict: run it again whole, after a jittered pause,
    up to COMMIT_ATTEMPTS times. Outside a lake nothing conflicts, and a write runs once."""
    return Retrying(retry=retry_if_exception(is_commit_conflict), stop=stop_after_attempt(COMMIT_ATTEMPTS),
                    wait=wait_random_exponential(multiplier=0.05, max=2.0), reraise=True)


def _is_retryable_setup(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, duckdb.Error) and ("conflict" in text or "duplicate key" in text or "already exists" in text)


def sql_literal(text: str) -> str:
    """`text` as a SQL string literal, for the statements DuckDB takes no parameters in (ATTACH, LOAD, COMMENT)."""
    return "'" + text.replace("'", "''") + "'"


KEEP_DAYS_ENV = "OMNISYNC_WAREHOUSE_KEEP_DAYS"
DEFAULT_KEEP_DAYS = 7


def is_lake(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT current_database()").fetchall()[0][0] == ALIAS


def expire_history(con: duckdb.DuckDBPyConnection, keep_days: float | None = None) -> int:
    """Forget the lake's snapshots older than `keep_days` (`OMNISYNC_WAREHOUSE_KEEP_DAYS`, default 7:
    what time travel can reach) and delete the Parquet files no remaining snapshot reads. Returns the
    number of snapshots expired."""
    if keep_days is None:
        keep_days = float(os.environ.get(KEEP_DAYS_ENV, "").strip() or DEFAULT_KEEP_DAYS)
    expired = con.execute(
        f"CALL ducklake_expire_snapshots('{ALIAS}', older_than => now() - to_seconds(CAST(? AS DOUBLE)))",
        [keep_days * 86400]).fetchall()
    con.execute(f"CALL ducklake_cleanup_old_files('{ALIAS}', cleanup_all => true)")
    return len(expired)
