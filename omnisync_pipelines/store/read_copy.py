"""The analysts' copy of the warehouse, published whole at the end of every run.

A DuckDB file admits one writing process or many readers, never both: an analyst's open session on
the file the runs write would make the next run wait for the lock, then fail. So analysts never open
that file. At the end of each run the runs' file is copied (`COPY FROM DATABASE`: tables, views,
comments) into a new file beside the analysts' one, which then replaces it in one rename. A session
already open keeps reading the file it opened, a consistent state as of the run that published it;
reopened, it sees the latest. The copy is written in DuckDB's v1.5.0 storage format, the newest
that the `duckdb` shell on PyPI (duckdb-cli 1.5.x) reads; the runs' own file uses DuckDB 2.0's.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
from filelock import FileLock

from omnisync_pipelines.store.lake import sql_literal

ANALYSTS_STORAGE_VERSION = "v1.5.0"
_ALIAS = "analysts_copy"


def analysts_path(warehouse_path: str) -> str:
    """Where the analysts' copy lives: `OMNISYNC_ANALYSTS_DUCKDB_PATH`, else beside the runs' file
    (`data/omnisync.duckdb` -> `data/omnisync.analysts.duckdb`)."""
    configured = os.environ.get("OMNISYNC_ANALYSTS_DUCKDB_PATH", "").strip()
    if configured:
        return configured
    path = Path(warehouse_path)
    return str(path.with_name(f"{path.stem}.analysts{path.suffix or '.duckdb'}"))


@dataclass(frozen=True)
class Published:
    path: str
    tables: int
    views: int
    bytes: int
    seconds: float


def publish(con: duckdb.DuckDBPyConnection, target: str) -> Published:
    """Copy the database `con` has open (the runs' file, or the lake) to `target`, replacing it
    atomically (same directory, one rename). On the runs' file, `con` holds it, so no run writes
    meanwhile; a lake's copy is the snapshot current when the copy starts."""
    target_path = Path(target)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    # One publisher at a time per copy: runs writing a lake at once may all finish together.
    with FileLock(target_path.with_name(f".{target_path.name}.lock")):
        return _publish(con, target_path)


def _publish(con: duckdb.DuckDBPyConnection, target_path: Path) -> Published:
    started = time.monotonic()
    for left in target_path.parent.glob(f".{target_path.name}.*.publishing*"):  # a publisher that crashed
        left.unlink(missing_ok=True)
    staging = target_path.with_name(f".{target_path.name}.{os.getpid()}.publishing")
    source = con.execute("SELECT current_database()").fetchall()[0][0]
    con.execute(f"ATTACH {sql_literal(str(staging))} AS {_ALIAS} (STORAGE_VERSION '{ANALYSTS_STORAGE_VERSION}')")
    try:
        con.execute(f'COPY FROM DATABASE "{source}" TO {_ALIAS}')
        tables, views = con.execute(
            "SELECT (SELECT count(*) FROM duckdb_tables() WHERE database_name = $db), "
            "(SELECT count(*) FROM duckdb_views() WHERE database_name = $db AND NOT internal)",
            {"db": _ALIAS},
        ).fetchall()[0]
    except BaseException:
        con.execute(f"DETACH {_ALIAS}")
        _remove(staging)
        raise
    con.execute(f"DETACH {_ALIAS}")  # checkpoints: the staged file is whole, with no WAL beside it
    with open(staging, "rb") as staged:
        os.fsync(staged.fileno())
    os.replace(staging, target_path)
    return Published(str(target_path), int(tables), int(views), target_path.stat().st_size,
                     round(time.monotonic() - started, 3))


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
