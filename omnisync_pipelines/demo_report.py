"""What `omnisync demo` prints at the end, read back from DuckDB like an analyst would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from omnisync_pipelines.store import read_copy

SNAPSHOT_TABLES = ("locations", "catalog", "prices", "stock", "stock_movements", "orders", "returns", "customers")


def converged(data_dir: Path, play_report, echo: Callable[[str], None],
              reported: dict[tuple[str, str], int] | None = None) -> bool:
    """Stock converged: commercetools holds the POS count the day should end with, and the only drift
    left is `reported`: (sku, store) -> units added in commercetools only at a report_only store,
    which the reconciliation must report as drift of exactly that many units and leave alone."""
    reported = reported or {}
    with duckdb.connect(str(data_dir / "omnisync.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT sku, location_key, commercetools_on_hand, pos_on_hand, difference, status FROM reconciliation.stock"
        ).fetchall()
    found = {(r[0], r[1]): r[4] for r in rows if r[5] == "drift"}
    not_matching = [r for r in rows if r[5] != "match" and found.get((r[0], r[1])) != reported.get((r[0], r[1]))]
    unreported = {k: units for k, units in reported.items() if found.get(k) != units}
    expected = getattr(play_report, "expected_pos_stock", None) or {}
    ct_counts = {(r[0], r[1]): r[2] for r in rows}
    wrong = {k: (ct_counts.get(k), v + reported.get(k, 0)) for k, v in expected.items()
             if (ct_counts.get(k) or 0) != v + reported.get(k, 0)}
    echo(f"  reconciliation.stock: {len(rows)} SKU x location rows, {len(not_matching)} not matching unexpectedly")
    for (sku, loc), units in reported.items():
        state = "reported as drift" if (sku, loc) not in unreported else f"NOT reported (found {found.get((sku, loc))})"
        echo(f"    {sku}@{loc}: {units:+d} in commercetools only at a report_only store, {state}")
    if expected:
        echo(f"  commercetools vs the day's expected POS counts (+ reported drift): "
             f"{len(expected) - len(wrong)} of {len(expected)} equal")
    for (sku, loc), (have, want) in list(wrong.items())[:10]:
        echo(f"    {sku}@{loc}: commercetools {have}, expected {want}")
    return not not_matching and not unreported and not wrong


def print_summary(data_dir: Path, outcomes, server, echo: Callable[[str], None]) -> None:
    served = [s.system for s in server.served]  # commercetools and each POS of the deployment
    with duckdb.connect(str(data_dir / "omnisync.duckdb"), read_only=True) as con:
        echo("")
        echo("Summary")
        echo("  runs: " + ", ".join(f"{o.job} {'ok' if o.success else 'failed'}" for o in outcomes))
        echo("  records in the snapshots (system.entity: rows)")
        for system in served:
            counts = []
            for table in SNAPSHOT_TABLES:
                if _exists(con, system, table):
                    counts.append(f"{table} {con.execute(f'SELECT count(*) FROM {system}.{table}').fetchall()[0][0]}")
            echo(f"    {system}: " + ", ".join(counts))
        ledger = dict(con.execute("SELECT status, count(*) FROM ops.ledger GROUP BY status").fetchall()) if _exists(con, "ops", "ledger") else {}
        echo("  writes (ops.ledger): " + (", ".join(f"{k} {v}" for k, v in sorted(ledger.items())) or "none"))
        if _exists(con, "drift", "stock_history"):
            found, units = con.execute("SELECT count(*), coalesce(sum(abs(difference)), 0) FROM drift.stock_history").fetchall()[0]
            corrected = con.execute("SELECT count(*) FROM ops.ledger WHERE flow = 'stock_correction' AND status = 'applied'"
                                    ).fetchall()[0][0] if _exists(con, "ops", "ledger") else 0
            echo(f"  stock drift found (drift.stock_history): {found} SKU x location, {units} units; corrected to the POS: {corrected}")
        rejected = con.execute("SELECT count(*) FROM ops.rejected WHERE status IN ('open', 'held')").fetchall()[0][0] if _exists(con, "ops", "rejected") else 0
        echo(f"  rejected records open (ops.rejected): {rejected}")
        status = dict(con.execute("SELECT status, count(*) FROM reconciliation.stock GROUP BY status").fetchall())
        echo("  reconciliation.stock: " + ", ".join(f"{k} {v}" for k, v in sorted(status.items())))
        calls = con.execute("SELECT system, count(*) FROM ops.api_calls GROUP BY system ORDER BY system").fetchall() if _exists(con, "ops", "api_calls") else []
        echo("  API calls: " + ", ".join(f"{s} {n}" for s, n in calls))
    injected = {s.system: dict(s.emulator.faults.injected) for s in server.served if s.emulator.faults.injected}
    if injected:
        echo(f"  faults injected: {injected}")
    schemas = ", ".join([*served, "plan", "push", "reconciliation", "drift", "ops"])
    copy = read_copy.analysts_path(str(data_dir / "omnisync.duckdb"))
    echo(f"  analysts: .venv/bin/duckdb -readonly {copy}  (schemas {schemas}; a copy published after every run, "
         "so a session left open never holds up a sync)")


def _exists(con, schema: str, table: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, table]
    ).fetchall()[0][0])
