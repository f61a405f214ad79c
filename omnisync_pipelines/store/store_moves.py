"""A store that changes POS (docs/mixed-estate.md, "A store changes POS").

Each POS keeps stock baselines, plan watermarks and open writes only for the stores that trade on it
now. The stock plan of every POS calls `settle_store_moves` first: a store that left the POS is
retired there (what the POS held of it is dropped, its open writes marked `superseded`), and a store
that arrives at a POS it traded on before is retired there too, so its first count is an `initial`
alignment to the till's own count, never a change against a baseline from an earlier stint.
`store_pos` records which POS each store was last planned on; a store seen for the first time keeps
what the POS holds (an existing deployment loses nothing on upgrade).

A mixin of `OpsStore` (it uses the store's engine and dialect insert).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import delete, select, update

from omnisync_pipelines.store import tables as t


class StoreMoves:
    def settle_store_moves(self, source_system: str, flow: str, own: Iterable[str], elsewhere: Iterable[str]) -> int:
        """`own`: the stores trading on `source_system` now; `elsewhere`: those trading on another POS.
        Returns the baselines dropped (0, cheaply, when no store moved)."""
        own, elsewhere = sorted(set(own)), sorted(set(elsewhere))
        c = t.store_pos.c
        with self.engine.connect() as conn:
            last = dict(conn.execute(select(c.location_key, c.pos_system).where(c.location_key.in_(own))).all()) \
                if own else {}
        arrived = [key for key in own if last.get(key) not in (None, source_system)]
        dropped = self._retire(source_system, flow, [*elsewhere, *arrived],
                               f"superseded: the store trades on another POS than {source_system} now")
        unrecorded = [key for key in own if last.get(key) != source_system]
        if unrecorded:
            stamp = datetime.now(UTC)
            stmt = self._insert(t.store_pos)
            with self.engine.begin() as conn:
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=["location_key"],
                    set_={"pos_system": stmt.excluded.pos_system, "updated_at": stmt.excluded.updated_at}),
                    [{"location_key": key, "pos_system": source_system, "updated_at": stamp} for key in unrecorded])
        return dropped

    def _retire(self, source_system: str, flow: str, location_keys: list[str], reason: str) -> int:
        if not location_keys:
            return 0
        b, w, ledger = t.stock_baseline.c, t.plan_watermarks.c, t.ledger.c
        with self.engine.begin() as conn:
            dropped = conn.execute(delete(t.stock_baseline).where(
                b.source_system == source_system, b.location_key.in_(location_keys))).rowcount
            conn.execute(delete(t.plan_watermarks).where(w.flow == flow, w.location_key.in_(location_keys)))
            for key in location_keys:
                conn.execute(update(t.ledger).where(
                    ledger.flow == flow, ledger.status == "retrying", ledger.record_ref.like(f"%@{key}"),
                ).values(status="superseded", error=reason, updated_at=datetime.now(UTC)))
        return dropped
