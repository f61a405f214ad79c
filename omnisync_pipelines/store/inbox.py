"""The webhook inbox: each delivered event stored once per (system, event_id), then processed.

Dedupe is the table's unique constraint `uq_inbox_event` with INSERT ... ON CONFLICT DO NOTHING, so
two receivers (or two workers of one) racing on the same event store it once: the database, not
a read-then-write in Python, decides which insert wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, timedelta

from sqlalchemy import func, select, update

from omnisync_pipelines.store import tables as t
from omnisync_pipelines.store.ops import OpsStore, now


@dataclass(frozen=True)
class InboxEvent:
    system: str
    event_id: str
    event_type: str
    payload_json: str


class Inbox:
    def __init__(self, ops: OpsStore):
        self.ops = ops

    def add(self, event: InboxEvent) -> bool:
        """Store the event; True when it is new, False for a duplicate. Committed on return."""
        stmt = (
            self.ops._insert(t.inbox)
            .values(
                system=event.system, event_id=event.event_id, event_type=event.event_type,
                payload=event.payload_json, received_at=now(),
            )
            .on_conflict_do_nothing(index_elements=["system", "event_id"])
            .returning(t.inbox.c.id)
        )
        with self.ops.engine.begin() as conn:  # a row back, not rowcount: psycopg 3 reports -1 with RETURNING
            return conn.execute(stmt).first() is not None

    def pending(self, after_id: int = 0, limit: int = 500, *, system: str | None = None) -> list[dict]:
        """Unprocessed events with id > after_id, oldest first (optionally of one system)."""
        c = t.inbox.c
        query = select(t.inbox).where(c.processed_at.is_(None), c.id > after_id)
        if system is not None:
            query = query.where(c.system == system)
        query = query.order_by(c.id).limit(limit)
        with self.ops.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def after(self, after_id: int = 0, limit: int = 500, *, settle_s: float = 0.0) -> list[dict]:
        """Events with id > after_id, oldest first, processed or not: for readers with their own cursor.

        Ids are allocated at insert but become visible at commit, so a reader could see id 12 while
        id 11 is still in flight, and a cursor at 12 would skip 11 for good. With `settle_s`, the
        answer stops before the first event received less than `settle_s` ago: an insert still in
        flight when a later one is read is not skipped, as long as inserts commit within half the
        settle time.
        """
        c = t.inbox.c
        query = select(t.inbox).where(c.id > after_id).order_by(c.id).limit(limit)
        with self.ops.engine.connect() as conn:
            rows = [dict(row) for row in conn.execute(query).mappings()]
        if settle_s <= 0:
            return rows
        cutoff = now() - timedelta(seconds=settle_s)
        settled = []
        for row in rows:
            received = row["received_at"]
            if (received if received.tzinfo else received.replace(tzinfo=UTC)) > cutoff:
                break
            settled.append(row)
        return settled

    def last_id(self) -> int:
        with self.ops.engine.connect() as conn:
            return int(conn.execute(select(func.max(t.inbox.c.id))).scalar() or 0)

    def mark_processed(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        stamp = now()
        with self.ops.engine.begin() as conn:
            for start in range(0, len(ids), 500):
                conn.execute(
                    update(t.inbox)
                    .where(t.inbox.c.id.in_(ids[start : start + 500]), t.inbox.c.processed_at.is_(None))
                    .values(processed_at=stamp)
                )
