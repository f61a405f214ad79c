"""Plan watermarks of the stock flow (`engine.stock_plan.plan_stock_changes`): per (flow, location),
the highest POS version whose rows are planned and pushed, staged by a plan and committed by its push.

A mixin of `OpsStore` (it uses the store's engine and dialect insert).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import case, select, update

from omnisync_pipelines.store import tables as t


class PlanWatermarks:
    def plan_watermarks(self, flow: str) -> dict[str, int]:
        """{location_key: committed watermark} of `flow`; a location whose plan was never pushed has none."""
        c = t.plan_watermarks.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.location_key, c.committed_version)
                                .where(c.flow == flow, c.committed_version.is_not(None)))
            return {r.location_key: int(r.committed_version) for r in rows}

    def stage_plan_watermarks(self, flow: str, high_water: dict[str, int], token: str | None = None) -> str:
        """Keep a plan's high water per location until its push is done; it replaces what an earlier,
        unpushed plan staged for those locations (the newer plan's candidates include the older's).
        Returns the plan's token (`token`, e.g. the Dagster run id, else a new one), for
        `commit_plan_watermarks(token=...)`."""
        token, stamp = token or uuid.uuid4().hex, datetime.now(UTC)
        if high_water:
            stmt = self._insert(t.plan_watermarks)
            stmt = stmt.on_conflict_do_update(
                index_elements=["flow", "location_key"],
                set_={"staged_version": stmt.excluded.staged_version, "staged_token": token, "updated_at": stamp})
            with self.engine.begin() as conn:
                conn.execute(stmt, [{"flow": flow, "location_key": loc, "committed_version": None,
                                     "staged_version": int(version), "staged_token": token, "updated_at": stamp}
                                    for loc, version in high_water.items()])
        return token

    def commit_plan_watermarks(self, flow: str, locations: Iterable[str] | None = None, *,
                               token: str | None = None) -> dict[str, int]:
        """After a push: the staged high water of `locations` (None: every staged location of `flow`)
        becomes the committed watermark, which never goes back. With `token`, only what that plan
        staged (a newer plan staged meanwhile waits for its own push). Returns the committed
        watermarks this moved."""
        c = t.plan_watermarks.c
        where = [c.flow == flow, c.staged_version.is_not(None)]
        if locations is not None:
            where.append(c.location_key.in_(sorted(set(locations))))
        if token is not None:
            where.append(c.staged_token == token)
        higher = case((c.committed_version.is_(None) | (c.committed_version < c.staged_version), c.staged_version),
                      else_=c.committed_version)
        with self.engine.begin() as conn:
            moved = conn.execute(select(c.location_key).where(*where)).scalars().all()
            if not moved:
                return {}
            conn.execute(update(t.plan_watermarks).where(*where, c.location_key.in_(moved))
                         .values(committed_version=higher, staged_version=None, staged_token=None, updated_at=datetime.now(UTC)))
            rows = conn.execute(select(c.location_key, c.committed_version).where(c.flow == flow, c.location_key.in_(moved)))
            return {r.location_key: int(r.committed_version) for r in rows}

    def stock_retry_refs(self, flow: str, source_system: str) -> list[tuple[str, str]]:
        """(sku, location) counts of `flow` still owed from earlier runs: writes the ledger holds as
        `retrying` (the next push supersedes those it cannot recover, so the plan must carry them
        again) and open, held or released rejections (unknown SKU, refused, held for review)."""
        ledger, rejected = t.ledger.c, t.rejected.c
        with self.engine.connect() as conn:
            refs = set(conn.execute(select(ledger.record_ref).where(
                ledger.flow == flow, ledger.status == "retrying", ledger.source_system == source_system)).scalars())
            refs.update(conn.execute(select(rejected.record_ref).where(
                rejected.flow == flow, rejected.system == source_system,
                rejected.status.in_(("open", "held", "released")))).scalars())
        return sorted((sku, location_key) for sku, _, location_key in (ref.rpartition("@") for ref in refs) if sku)
