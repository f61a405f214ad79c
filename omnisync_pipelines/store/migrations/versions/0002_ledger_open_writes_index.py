"""The ledger's writes of a flow by status and record: `ix_ledger_flow_status_record`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

Serves `OpsStore.in_flight(flow, record_refs)`, the ledger's lookup by record (the stock push asks
it for every batch: `flow = ? AND status = 'retrying' AND record_ref IN (...)`): one index seek per
record into the open writes only. (flow, record_ref, status) would walk each record's whole history
(a stock count gets a new key at every change, and applied rows stay) to find the open ones.
The same index answers `in_flight(flow)` (every recovery), `stock_retry_refs`, a store move's
retirement (flow and status, then the record_ref LIKE on the index) and the fulfilment reads of a
flow's applied writes. Backward compatible: release 0.1.0 runs unchanged on it.

PostgreSQL builds it inside the upgrade's transaction, which blocks writes to the ledger while it
builds; for a large ledger, create it first with CREATE INDEX CONCURRENTLY under the same name:
IF NOT EXISTS then skips it.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ledger_flow_status_record", "ledger", ["flow", "status", "record_ref"], if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_ledger_flow_status_record", table_name="ledger", if_exists=True)
