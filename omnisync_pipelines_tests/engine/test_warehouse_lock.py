"""Two processes, one DuckDB file: the second waits for the lock instead of failing at once.

Contract: while another process holds the warehouse file (a snapshot writing its tables), a store's
stock push opening it waits and gets its connection as soon as the file is released; a file held
past the bound gives up with an error naming the file. A real second process holds the lock: DuckDB
shares one instance between connections of the same process, so a thread would never conflict.
"""

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from omnisync_pipelines.store import warehouse

# holds a write connection until its stdin is closed
_HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS plan_rows (sku VARCHAR)")
print("held", flush=True)
sys.stdin.read()
con.close()
"""


# fixtures ------------------------------------------------------------------------------------
@contextmanager
def another_process_holding(path: Path) -> Iterator[subprocess.Popen]:
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        if not holder.stdin.closed:
            holder.stdin.close()
        holder.wait(timeout=30)


def release_after(holder: subprocess.Popen, seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, holder.stdin.close)
    timer.start()
    return timer


# tests ---------------------------------------------------------------------------------------
def test_a_push_opening_a_held_warehouse_waits_and_connects_once_it_is_released(tmp_path):
    path = tmp_path / "omnisync.duckdb"
    with another_process_holding(path) as holder:
        release_after(holder, 1.0)
        started = time.monotonic()
        con = warehouse.connect(str(path), lock_wait_seconds=30)
        waited = time.monotonic() - started
    try:
        assert waited >= 0.9  # it did wait for the holder, it did not slip in beside it
        assert con.execute("SELECT count(*) FROM plan_rows").fetchall() == [(0,)]
    finally:
        con.close()


def test_a_warehouse_held_past_the_bound_gives_up_naming_the_file(tmp_path):
    path = tmp_path / "omnisync.duckdb"
    with another_process_holding(path):
        started = time.monotonic()
        with pytest.raises(warehouse.WarehouseLockedError) as raised:
            warehouse.connect(str(path), lock_wait_seconds=0.5)
        gave_up_after = time.monotonic() - started
    assert str(path.resolve()) in str(raised.value)
    assert "still locked by another process after 0.5s" in str(raised.value)
    assert 0.5 <= gave_up_after < 5


def test_an_unlocked_warehouse_opens_at_once(tmp_path):
    started = time.monotonic()
    con = warehouse.connect(str(tmp_path / "data" / "omnisync.duckdb"), lock_wait_seconds=0.1)
    con.close()
    assert time.monotonic() - started < 1
