"""The operational store as release 0.1.0 created it (with `metadata.create_all`).

Revision ID: 0001
Revises:
Create Date: 2026-12-07

Idempotent: it creates each table, and each index, that is not there yet. On a new database that is
everything; on a database release 0.1.0 created it is what 0.1.0 created lazily and may not have
yet (the audit tables, the crosswalk, `ix_rejected_idempotency_key`), so adopting such a database
amounts to a stamp. The definitions are frozen here: never import the current `tables.py` in a
revision, it describes the head, not 0.1.0.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _tables() -> list[tuple[str, list, list[tuple[str, list[str]]]]]:
    """(table, columns and constraints, [(index, columns)]) of release 0.1.0."""
    return [
        ("ledger", [
            sa.Column("idempotency_key", sa.String(400), primary_key=True),
            sa.Column("flow", sa.String(100), nullable=False),
            sa.Column("target_system", sa.String(40), nullable=False),
            sa.Column("source_system", sa.String(40), nullable=False),
            sa.Column("record_ref", sa.String(300), nullable=False),
            sa.Column("status", sa.String(20), nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("payload", sa.Text),
            sa.Column("result", sa.Text),
            sa.Column("error", sa.Text),
            sa.Column("created_at", _tz(), nullable=False),
            sa.Column("updated_at", _tz(), nullable=False),
        ], [("ix_ledger_flow", ["flow"]), ("ix_ledger_status", ["status"])]),
        ("stock_baseline", [
            sa.Column("source_system", sa.String(40), primary_key=True),
            sa.Column("sku", sa.String(200), primary_key=True),
            sa.Column("location_key", sa.String(100), primary_key=True),
            sa.Column("level", sa.BigInteger, nullable=False),
            sa.Column("version", sa.BigInteger, nullable=False),
            sa.Column("last_key", sa.String(400)),
            sa.Column("updated_at", _tz(), nullable=False),
        ], []),
        ("stock_claims", [
            sa.Column("source_system", sa.String(40), primary_key=True),
            sa.Column("sku", sa.String(200), primary_key=True),
            sa.Column("location_key", sa.String(100), primary_key=True),
            sa.Column("claimed_by", sa.String(400), nullable=False),
            sa.Column("holder", sa.String(300), nullable=False),
            sa.Column("claimed_at", _tz(), nullable=False),
        ], []),
        ("cursors", [
            sa.Column("name", sa.String(200), primary_key=True),
            sa.Column("value", sa.String(200), nullable=False),
            sa.Column("evidence", sa.Text),
            sa.Column("updated_at", _tz(), nullable=False),
        ], []),
        ("rejected", [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("flow", sa.String(100), nullable=False),
            sa.Column("system", sa.String(40), nullable=False),
            sa.Column("entity", sa.String(60), nullable=False),
            sa.Column("record_ref", sa.String(300), nullable=False),
            sa.Column("field", sa.String(100), nullable=False),
            sa.Column("reason", sa.Text, nullable=False),
            sa.Column("payload", sa.Text),
            sa.Column("idempotency_key", sa.String(400)),
            sa.Column("status", sa.String(20), nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("created_at", _tz(), nullable=False),
            sa.Column("updated_at", _tz(), nullable=False),
            sa.UniqueConstraint("flow", "system", "record_ref", "field", name="uq_rejected_record"),
        ], [("ix_rejected_idempotency_key", ["idempotency_key"])]),
        ("api_calls", [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("system", sa.String(40), nullable=False),
            sa.Column("method", sa.String(10), nullable=False),
            sa.Column("path", sa.Text, nullable=False),
            sa.Column("status", sa.Integer),
            sa.Column("latency_ms", sa.Integer),
            sa.Column("attempt", sa.Integer),
            sa.Column("correlation_id", sa.String(64)),
            sa.Column("error", sa.Text),
            sa.Column("request_body", sa.Text),
            sa.Column("response_body", sa.Text),
            sa.Column("created_at", _tz(), nullable=False),
        ], []),
        ("inbox", [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("system", sa.String(40), nullable=False),
            sa.Column("event_id", sa.String(300), nullable=False),
            sa.Column("event_type", sa.String(100), nullable=False),
            sa.Column("payload", sa.Text, nullable=False),
            sa.Column("received_at", _tz(), nullable=False),
            sa.Column("processed_at", _tz()),
            sa.UniqueConstraint("system", "event_id", name="uq_inbox_event"),
        ], []),
        ("store_pos", [
            sa.Column("location_key", sa.String(100), primary_key=True),
            sa.Column("pos_system", sa.String(40), nullable=False),
            sa.Column("updated_at", _tz(), nullable=False),
        ], []),
        ("plan_watermarks", [
            sa.Column("flow", sa.String(100), primary_key=True),
            sa.Column("location_key", sa.String(100), primary_key=True),
            sa.Column("committed_version", sa.BigInteger),
            sa.Column("staged_version", sa.BigInteger),
            sa.Column("staged_token", sa.String(64)),
            sa.Column("updated_at", _tz(), nullable=False),
        ], []),
        ("crosswalk", [  # store/crosswalk.py
            sa.Column("entity", sa.String(60), primary_key=True),
            sa.Column("system", sa.String(40), primary_key=True),
            sa.Column("system_id", sa.String(300), primary_key=True),
            sa.Column("canonical_id", sa.String(300), nullable=False),
            sa.Column("created_at", _tz(), nullable=False),
        ], [("ix_crosswalk_canonical", ["entity", "canonical_id"])]),
        ("rejected_audit", [  # store/audit.py
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("rejected_id", sa.Integer, nullable=False),
            sa.Column("action", sa.String(40), nullable=False),
            sa.Column("outcome", sa.String(40)),
            sa.Column("actor", sa.String(200), nullable=False),
            sa.Column("reason", sa.Text),
            sa.Column("detail", sa.Text),
            sa.Column("created_at", _tz(), nullable=False),
        ], [("ix_rejected_audit_rejected_id", ["rejected_id"])]),
        ("run_failures", [  # store/audit.py
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.String(64), nullable=False),
            sa.Column("job_name", sa.String(200), nullable=False),
            sa.Column("step_key", sa.String(300)),
            sa.Column("error", sa.Text),
            sa.Column("created_at", _tz(), nullable=False),
        ], [("ix_run_failures_run_id", ["run_id"])]),
    ]


def upgrade() -> None:
    offline = op.get_context().as_sql  # `upgrade --sql`: the DDL of a new database
    inspector = None if offline else sa.inspect(op.get_bind())
    existing = set() if offline else set(inspector.get_table_names())
    for name, columns, indexes in _tables():
        have = {ix["name"] for ix in inspector.get_indexes(name)} if name in existing else set()
        if name not in existing:
            op.create_table(name, *columns)
        for index, index_columns in indexes:
            if index not in have:
                op.create_index(index, name, index_columns)


def downgrade() -> None:
    for name, _, _ in reversed(_tables()):
        op.drop_table(name)
