"""The id crosswalk (DESIGN §6): each system's id of a record mapped to one canonical id.

The table is declared on the ops store's `metadata`, so `metadata.create_all` creates it once this
module is imported; `Crosswalk` also creates it on first use, for an ops store opened earlier.

A system id belongs to one canonical id for good: `link` never re-points an existing row, it answers
the canonical id already in force, so a later, weaker match cannot silently change an identity.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import Column, DateTime, Index, String, Table, select

from omnisync_pipelines.store.tables import metadata

if TYPE_CHECKING:  # ops.py imports this module to register the table; no import back at runtime
    from omnisync_pipelines.store.ops import OpsStore

crosswalk = Table(
    "crosswalk",
    metadata,
    Column("entity", String(60), primary_key=True),
    Column("system", String(40), primary_key=True),
    Column("system_id", String(300), primary_key=True),
    Column("canonical_id", String(300), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_crosswalk_canonical", "entity", "canonical_id"),
)

COLUMNS = ["entity", "canonical_id", "system", "system_id"]


def now() -> datetime:
    return datetime.now(UTC)


class Crosswalk:
    def __init__(self, ops: OpsStore):
        self.ops = ops
        crosswalk.create(ops.engine, checkfirst=True)

    def link(self, entity: str, canonical_id: str, system: str, system_id: str) -> str:
        """Map (system, system_id) to canonical_id unless it is mapped already; returns the id in force."""
        stmt = self.ops._insert(crosswalk).values(
            entity=entity, canonical_id=canonical_id, system=system, system_id=system_id, created_at=now()
        ).on_conflict_do_nothing(index_elements=["entity", "system", "system_id"])
        with self.ops.engine.begin() as conn:
            conn.execute(stmt)
        return self.canonical_for(entity, system, system_id) or canonical_id

    def link_many(self, rows: Iterable[dict]) -> int:
        """rows: dicts with COLUMNS; existing links are kept as they are."""
        stamp = now()
        values = [{k: str(r[k]) for k in COLUMNS} | {"created_at": stamp} for r in rows]
        if not values:
            return 0
        stmt = self.ops._insert(crosswalk).on_conflict_do_nothing(index_elements=["entity", "system", "system_id"])
        with self.ops.engine.begin() as conn:
            conn.execute(stmt, values)
        return len(values)

    def canonical_for(self, entity: str, system: str, system_id: str) -> str | None:
        c = crosswalk.c
        with self.ops.engine.connect() as conn:
            return conn.execute(
                select(c.canonical_id).where(c.entity == entity, c.system == system, c.system_id == system_id)
            ).scalar()

    def lookup(self, entity: str, canonical_id: str, system: str) -> str | None:
        """The id `system` uses for the canonical record, or None when it has none (yet)."""
        c = crosswalk.c
        with self.ops.engine.connect() as conn:
            return conn.execute(
                select(c.system_id)
                .where(c.entity == entity, c.canonical_id == canonical_id, c.system == system)
                .order_by(c.created_at, c.system_id)
            ).scalar()

    def mapping(self, entity: str) -> dict[tuple[str, str], str]:
        """(system, system_id) -> canonical_id for every link of `entity`; what the planners take."""
        c = crosswalk.c
        with self.ops.engine.connect() as conn:
            rows = conn.execute(select(c.system, c.system_id, c.canonical_id).where(c.entity == entity)).all()
        return {(r.system, r.system_id): r.canonical_id for r in rows}

    def frame(self, entity: str | None = None) -> pd.DataFrame:
        query = select(*(crosswalk.c[name] for name in COLUMNS))
        if entity is not None:
            query = query.where(crosswalk.c.entity == entity)
        with self.ops.engine.connect() as conn:
            return pd.DataFrame(conn.execute(query).all(), columns=COLUMNS)
