"""Operational tables: ledger, stock baselines, cursors, rejected records, API call log, inbox.

The head of the schema: a change here needs a revision in store/migrations/versions/ (docs: Upgrading).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# One row per logical write. `status`: retrying (sent or about to be sent, outcome unknown),
# applied, rejected, superseded (never applied; a later key for the same record replaced it).
ledger = Table(
    "ledger",
    metadata,
    Column("idempotency_key", String(400), primary_key=True),
    Column("flow", String(100), nullable=False, index=True),
    Column("target_system", String(40), nullable=False),
    Column("source_system", String(40), nullable=False),
    Column("record_ref", String(300), nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("payload", Text),
    Column("result", Text),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
# A flow's writes by status and record (migration 0002): `in_flight(flow, record_refs)`, the lookup by
# record the stock push makes per batch, seeks each record's open writes, not its whole history.
LEDGER_BY_FLOW_STATUS_RECORD = Index("ix_ledger_flow_status_record", ledger.c.flow, ledger.c.status, ledger.c.record_ref)

# The last POS count of each (sku, location) whose change has been applied to commercetools.
stock_baseline = Table(
    "stock_baseline",
    metadata,
    Column("source_system", String(40), primary_key=True),
    Column("sku", String(200), primary_key=True),
    Column("location_key", String(100), primary_key=True),
    Column("level", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("last_key", String(400)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Who is moving the count of a (sku, location) right now: the Dagster push and the fast lane run at
# once, and each must read the baseline, write the relative change and advance the baseline alone.
# A claim is taken over once its holder (host:pid) is known dead on this host, or its lease ran out.
stock_claims = Table(
    "stock_claims",
    metadata,
    Column("source_system", String(40), primary_key=True),
    Column("sku", String(200), primary_key=True),
    Column("location_key", String(100), primary_key=True),
    Column("claimed_by", String(400), nullable=False),
    Column("holder", String(300), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
)

# Where each delta read resumes, with the evidence of the run that advanced it.
cursors = Table(
    "cursors",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("value", String(200), nullable=False),
    Column("evidence", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Records that could not be mapped or applied. `status`: open, held (waiting for an operator),
# resolved (a retry applied it), released (an operator let it through). The one list the CLI's
# `rejected list --status`, its help and the README share:
REJECTED_STATUSES = ("open", "held", "resolved", "released")
rejected = Table(
    "rejected",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("flow", String(100), nullable=False),
    Column("system", String(40), nullable=False),
    Column("entity", String(60), nullable=False),
    Column("record_ref", String(300), nullable=False),
    Column("field", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload", Text),
    Column("idempotency_key", String(400)),
    Column("status", String(20), nullable=False, default="open"),
    Column("attempts", Integer, nullable=False, default=1),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("flow", "system", "record_ref", "field", name="uq_rejected_record"),
)
# An applied key closes its own rejections: found by key, not by scanning every rejection per write.
REJECTED_BY_KEY = Index("ix_rejected_idempotency_key", rejected.c.idempotency_key)

api_calls = Table(
    "api_calls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("system", String(40), nullable=False),
    Column("method", String(10), nullable=False),
    Column("path", Text, nullable=False),
    Column("status", Integer),
    Column("latency_ms", Integer),
    Column("attempt", Integer),
    Column("correlation_id", String(64)),
    Column("error", Text),
    Column("request_body", Text),
    Column("response_body", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Webhook events as received, once per (system, event_id).
inbox = Table(
    "inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("system", String(40), nullable=False),
    Column("event_id", String(300), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("payload", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("processed_at", DateTime(timezone=True)),
    UniqueConstraint("system", "event_id", name="uq_inbox_event"),
)

# The POS each store was last planned on (store/store_moves.py): a store that changes POS is retired
# at the POS it left and, when it comes back to a POS it traded on before, at that one.
store_pos = Table(
    "store_pos",
    metadata,
    Column("location_key", String(100), primary_key=True),
    Column("pos_system", String(40), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# How far the stock plan of a flow has read each location's POS snapshot. `committed_version`: every
# snapshot row at or below it has been planned and pushed (applied, rejected, or queued in the
# ledger); it never goes back. `staged_version`: the high water of the last plan, not pushed yet;
# the push that follows commits it (when `staged_token` is the plan's it pushed, if it says which).
plan_watermarks = Table(
    "plan_watermarks",
    metadata,
    Column("flow", String(100), primary_key=True),
    Column("location_key", String(100), primary_key=True),
    Column("committed_version", BigInteger),
    Column("staged_version", BigInteger),
    Column("staged_token", String(64)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
