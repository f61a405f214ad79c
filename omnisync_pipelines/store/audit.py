"""Operator trail tables: what was done to each rejected record, and every failed Dagster run.

Registered on the same metadata as the other operational tables; `ensure_audit_tables` creates them
in stores opened before this module was imported.
"""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import Column, DateTime, Integer, String, Table, Text, select

from omnisync_pipelines.store import tables as t
from omnisync_pipelines.store.ops import OpsStore, now

# One row per operator action or retry outcome on a rejected record.
rejected_audit = Table(
    "rejected_audit",
    t.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rejected_id", Integer, nullable=False, index=True),
    Column("action", String(40), nullable=False),  # retry_requested, retried, released
    Column("outcome", String(40)),  # applied, still_rejected, unsupported_flow, ...
    Column("actor", String(200), nullable=False),
    Column("reason", Text),
    Column("detail", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One row per failed run (and failing step), written by the run-failure sensor.
run_failures = Table(
    "run_failures",
    t.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False, index=True),
    Column("job_name", String(200), nullable=False),
    Column("step_key", String(300)),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def ensure_audit_tables(ops: OpsStore) -> OpsStore:
    for table in (rejected_audit, run_failures):
        table.create(ops.engine, checkfirst=True)
    return ops


def add_audit(conn, rejected_id: int, action: str, actor: str, *, outcome: str | None = None,
              reason: str | None = None, detail: dict | None = None) -> None:
    conn.execute(rejected_audit.insert().values(
        rejected_id=rejected_id, action=action, outcome=outcome, actor=actor, reason=reason,
        detail=json.dumps(detail, default=str) if detail else None, created_at=now(),
    ))


def record_run_failure(ops: OpsStore, run_id: str, job_name: str, steps: list[tuple[str | None, str]]) -> None:
    stamp = now()
    rows = [{"run_id": run_id, "job_name": job_name, "step_key": step, "error": error, "created_at": stamp}
            for step, error in (steps or [(None, "run failed before any step")])]
    with ensure_audit_tables(ops).engine.begin() as conn:
        conn.execute(run_failures.insert(), rows)


def frame(ops: OpsStore, table: Table) -> pd.DataFrame:
    with ensure_audit_tables(ops).engine.connect() as conn:
        return pd.DataFrame(conn.execute(select(table).order_by(table.c.id)).mappings().all(), columns=[c.name for c in table.c])
