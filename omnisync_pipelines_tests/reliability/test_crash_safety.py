"""Crash safety: a sync process killed with SIGKILL at any point of a push, then restarted, ends
with every change applied once: no double decrement, no duplicate order, refund or till sale.

Each crash is a real subprocess running `delta_sync` against the sandbox over sockets, killed by
itself at an injected point (see crash_child.py) or by the test at a random moment of its push (as
the n-th write request, n drawn from `OMNISYNC_CRASH_SEED`, reaches an emulator). Before each
crash a new trading day is played, so every flow has fresh work for the crash to interrupt. After
the last crash, `delta_sync` runs until quiescent and the invariants are read from the emulators.
A killed push leaves its stock claims behind; the next push on this machine takes them over at once,
since their holder process is gone (a holder on another machine would wait out its 5-minute lease).
The figures are printed and written (section `crash_safety`) to the JSON file
`$OMNISYNC_RELIABILITY_FIGURES` names, when set.
"""

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import pytest

from omnisync_pipelines_tests.reliability.harness import SANDBOX_POS, Rig, write_figures
from omnisync_pipelines_tests.reliability.invariants import check

CHILD = Path(__file__).with_name("crash_child.py")
ROOT = Path(__file__).resolve().parents[2]
# the POS write that sets a pickup aside at the till (an API that does not deduplicate): X-Series'
# register sale; R-Series' open Sale that takes the layaway lines (`/Sale.json`, not `/SaleLine.json`)
SET_ASIDE = {"lightspeed_x": "/api/register_sales", "lightspeed_r": "/Sale.json"}


def crash_points(pos: str) -> list[str]:
    return [
        # between the stock writes (a GraphQL document of quantity + movement stamp mutations) and the
        # ledger's `applied`
        "after:POST:/graphql#InventoryEntry:1",
        # the ledger says `retrying`, the writes were never sent
        "before:POST:/graphql#InventoryEntry:1",
        # an in-store sale imported as an order, the ledger not told
        "after:POST:/orders/import:1",
        # a pickup set aside at the till, the ledger not told
        f"after:POST:{SET_ASIDE[pos]}:1",
        # a return's refund payment written, the rest of the return not yet
        "after:POST:/payments:1",
    ]


def run_child(rig: Rig, crash_at: str | None, kill_at_write: int | None = None) -> tuple[int, str | None]:
    """Run `delta_sync` in a child process; returns (its exit code, the write request the test killed it
    at, if it did: the `kill_at_write`-th write of the child to reach an emulator)."""
    env = {**os.environ, **rig.env, "PYTHONPATH": str(ROOT)}
    env.pop("OMNISYNC_CRASH_AT", None)
    if crash_at:
        env["OMNISYNC_CRASH_AT"] = crash_at
    since, killed_at = len(rig.requests), None
    with tempfile.TemporaryFile() as output:  # a file, not a pipe: a chatty child never blocks on a full pipe
        child = subprocess.Popen([sys.executable, str(CHILD), "delta_sync"], env=env, cwd=ROOT,
                                 stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while kill_at_write and child.poll() is None and time.monotonic() < deadline:
            writes = rig.writes(since)
            if len(writes) >= kill_at_write:
                os.kill(child.pid, signal.SIGKILL)
                killed_at = " ".join(writes[kill_at_write - 1])
                break
            time.sleep(0.002)
        child.wait(timeout=max(1.0, deadline - time.monotonic()))
    return child.returncode, killed_at


# fixtures ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=SANDBOX_POS)
def rig(tmp_path_factory, request):
    with Rig(tmp_path_factory.mktemp(f"crash-{request.param}"), pos=request.param) as box:
        Path(box.env["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        assert run_child(box, None)[0] in (0, 1)  # first run: aligns both systems (delta from no cursors)
        yield box


# tests ---------------------------------------------------------------------------------------------
def test_killed_mid_push_at_every_point_then_restarted_applies_everything_once(rig):
    killed = []
    points = crash_points(rig.pos)
    for i, point in enumerate(points):
        rig.play(seed=100 + i, sales_per_store=3)
        if run_child(rig, point)[0] == -signal.SIGKILL:
            killed.append(point)
    rig.play(seed=200, sales_per_store=3)
    nth_write = random.Random(int(os.environ.get("OMNISYNC_CRASH_SEED", "7"))).randint(1, 8)
    started = time.monotonic()
    random_exit, random_request = run_child(rig, None, kill_at_write=nth_write)

    left_claims = rig.stock_claims()
    with dg.instance_for_test() as instance:
        outcomes = rig.sync_until_quiescent("delta_sync", instance)
    found = check(rig)
    ledger = rig.ops.table_frame("ledger")
    recovered = ledger[ledger["result"].fillna("").str.contains('"recovered"')]
    figures = {"injected_kills": len(killed), "crash_points_reached": killed,
               "random_kill": {"exit_code": random_exit, "at_write": nth_write, "request": random_request},
               "claims_left_by_killed_pushes": len(left_claims),
               "recovery_runs": len(outcomes), "recovered_from_stamp": len(recovered),
               "lost": len(found.lost) + len(found.wrong_stock), "duplicated": len(found.duplicated),
               "seconds_from_random_kill_to_quiescent": round(time.monotonic() - started)}
    print(f"\ncrash safety: {figures}")
    write_figures("crash_safety", figures)

    assert killed == points, f"crash points never reached: {sorted(set(points) - set(killed))}"
    assert random_exit == -signal.SIGKILL, f"the random kill never happened: the child exited {random_exit} first"
    assert found.clean, str(found)
    assert len(recovered) >= 1  # the stock write killed before its ledger entry was resolved from the stamp
