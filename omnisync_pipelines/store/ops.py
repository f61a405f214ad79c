"""The operational store: ledger, baselines, cursors, rejected records, call log, inbox.

SQLite file under data/ by default, any SQLAlchemy URL (PostgreSQL in production) via
OMNISYNC_OPS_URL. Several processes write here at once, so every write is a short transaction.
PostgreSQL goes through psycopg 3 (`postgresql://`); an explicit `postgresql+psycopg2://` works too.
The schema is kept by Alembic migrations (store/migrations), run by `from_url(create=True)`.
"""

from __future__ import annotations

import json
import os
import socket
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, bindparam, create_engine, event, make_url, select, update
from sqlalchemy.dialects import postgresql, sqlite

from omnisync_pipelines.canonical.models import Rejection
from omnisync_pipelines.store import crosswalk as _crosswalk  # noqa: F401  (registers the crosswalk table)
from omnisync_pipelines.store import tables as t
from omnisync_pipelines.store.migrations import ensure_schema
from omnisync_pipelines.store.plan_watermarks import PlanWatermarks
from omnisync_pipelines.store.store_moves import StoreMoves

DEFAULT_OPS_URL = "sqlite:///data/ops.sqlite"
LEDGER_STATUSES = ("retrying", "applied", "rejected", "superseded")
BASELINE_LOOKUP_BATCH = 5_000  # pairs per statement: 15,000 bound parameters, under SQLite's 32,766
KEYS_PER_STATEMENT = 500  # an IN (...) list per statement


def _chunks(items: list, size: int = KEYS_PER_STATEMENT) -> Iterable[list]:
    return (items[start : start + size] for start in range(0, len(items), size))


def _upsert_many(conn, stmt, key: list[str], rows: list[dict]) -> None:
    """`stmt` (an INSERT ... ON CONFLICT) for every row, batched. SQLite: the driver runs one
    prepared statement over the rows. psycopg 3: its executemany, in pipeline mode (the rows go
    without waiting for each answer). psycopg2: multi-row INSERTs, which SQLAlchemy builds for an
    upsert ("insertmanyvalues") only when it has a RETURNING clause (without one, psycopg2 sends a
    statement per row). Not with psycopg 3: it parses a statement of thousands of placeholders in
    Python, slower than pipelining (10,000 ledger intents: ~1.1 s against ~0.4 s).
    One multi-row INSERT may touch a row only once, so a key given twice goes in a later round: in
    order, the rounds leave what row-by-row upserts would."""
    rounds: list[list[dict]] = []
    seen: Counter = Counter()
    for row in rows:
        ident = tuple(row[name] for name in key)
        if seen[ident] == len(rounds):
            rounds.append([])
        rounds[seen[ident]].append(row)
        seen[ident] += 1
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2":
        stmt = stmt.returning(*(stmt.table.c[name] for name in key))
    for batch in rounds:
        conn.execute(stmt, batch).close()


def current_holder() -> str:
    """Who holds a stock claim: this process (host:pid), read at claim time (a fork has its own pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_alive(holder: str) -> bool:
    """False only for a process of this host that no longer runs; a holder elsewhere is alive until
    its lease runs out (nothing here can tell)."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def now() -> datetime:
    return datetime.now(UTC)


def ops_url_from_env() -> str:
    return os.environ.get("OMNISYNC_OPS_URL", DEFAULT_OPS_URL)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")  # first: switching a new file to WAL may wait for another process
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class OpsStore(PlanWatermarks, StoreMoves):
    def __init__(self, engine: Engine):
        self.engine = engine
        self._insert = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert

    @classmethod
    def from_url(cls, url: str | None = None, create: bool = True, connect_args: dict | None = None) -> OpsStore:
        """`connect_args` go to the DBAPI connect (e.g. a PostgreSQL `options` search_path).
        `create`: bring the schema to the migrations' head (store/migrations; one query when it is)."""
        url = url or ops_url_from_env()
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        if url.startswith(("postgresql://", "postgres://")):  # psycopg 3, SQLAlchemy 2.1's default, said explicitly
            url = "postgresql+psycopg://" + url.partition("://")[2]
        # psycopg 3 batches an executemany (UPDATE for many rows) in pipeline mode by itself; psycopg2
        # needs paging (execute_batch), else a round trip per row
        batching = {"executemany_mode": "values_plus_batch"} if make_url(url).get_driver_name() == "psycopg2" else {}
        engine = create_engine(url, future=True, pool_pre_ping=True, connect_args=connect_args or {}, **batching)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        store = cls(engine)
        if create:
            ensure_schema(engine)
        return store

    # ledger -----------------------------------------------------------------------------------
    def ledger_status(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(t.ledger.c.status).where(t.ledger.c.idempotency_key == key)).scalar()

    def ledger_statuses(self, keys: Iterable[str]) -> dict[str, str]:
        keys = list(keys)
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(keys):
                rows = conn.execute(
                    select(t.ledger.c.idempotency_key, t.ledger.c.status).where(t.ledger.c.idempotency_key.in_(chunk))
                )
                found.update({row.idempotency_key: row.status for row in rows})
        return found

    def mark_retrying(self, key: str, *, flow: str, target: str, source: str, record_ref: str, payload: dict) -> None:
        """Record the intent before the call, so a crash after it leaves evidence to recover from."""
        self.mark_retrying_many(flow, target, source, [(key, record_ref, payload)])

    def mark_retrying_many(self, flow: str, target: str, source: str, intents: list[tuple[str, str, dict]]) -> None:
        """`mark_retrying` for (key, record_ref, payload) intents, in one transaction."""
        if not intents:
            return
        stamp = now()
        stmt = self._insert(t.ledger).on_conflict_do_update(
            index_elements=["idempotency_key"],
            set_={"status": "retrying", "attempts": t.ledger.c.attempts + 1, "updated_at": stamp},
        )
        with self.engine.begin() as conn:
            _upsert_many(conn, stmt, ["idempotency_key"], [
                {"idempotency_key": key, "flow": flow, "target_system": target, "source_system": source,
                 "record_ref": ref, "status": "retrying", "attempts": 1, "payload": json.dumps(payload, default=str),
                 "result": None, "error": None, "created_at": stamp, "updated_at": stamp}
                for key, ref, payload in intents])

    def record_evidence(self, key: str, payload: dict) -> None:
        """Replace an open write's payload with one that carries what a later run needs to settle it."""
        with self.engine.begin() as conn:
            conn.execute(update(t.ledger).where(t.ledger.c.idempotency_key == key)
                         .values(payload=json.dumps(payload, default=str), updated_at=now()))

    def mark_applied_many(self, outcomes: list[tuple[str, dict, dict | None]]) -> None:
        """`mark_applied` for (key, result, baseline) outcomes, in one transaction."""
        if outcomes:
            with self.engine.begin() as conn:
                self._applied(conn, outcomes, now())

    def mark_applied(self, key: str, result: dict, baseline: dict | None = None) -> None:
        """Applied, and the stock baseline advanced, in one transaction."""
        with self.engine.begin() as conn:
            self._applied(conn, [(key, result, baseline)], now())

    def _applied(self, conn, outcomes: list[tuple[str, dict, dict | None]], stamp: datetime) -> None:
        """A few statements however many outcomes: the ledger rows (one prepared UPDATE, executed
        many), the baselines (one upsert) and the rejections of these keys (an UPDATE per chunk)."""
        conn.execute(
            update(t.ledger).where(t.ledger.c.idempotency_key == bindparam("applied_key"))
            .values(status="applied", result=bindparam("applied_result"), error=None, updated_at=stamp),
            [{"applied_key": key, "applied_result": json.dumps(result, default=str)} for key, result, _ in outcomes])
        counts = [{**baseline, "last_key": key} for key, _, baseline in outcomes if baseline is not None]
        self._advance_baselines(conn, counts, stamp)
        c = t.rejected.c
        for chunk in _chunks(sorted({key for key, _, _ in outcomes})):
            conn.execute(update(t.rejected).where(c.idempotency_key.in_(chunk), c.status.in_(("open", "held", "released")))
                         .values(status="resolved", updated_at=stamp))

    def mark_failed(self, key: str, status: str, error: str) -> None:
        assert status in ("rejected", "superseded", "retrying")
        with self.engine.begin() as conn:
            conn.execute(
                update(t.ledger).where(t.ledger.c.idempotency_key == key).values(status=status, error=error, updated_at=now())
            )

    def in_flight(self, flow: str, record_refs: Iterable[str] | None = None) -> list[dict]:
        """The flow's writes whose outcome is open (`retrying`); only those of `record_refs` when given."""
        open_writes = select(t.ledger).where(t.ledger.c.flow == flow, t.ledger.c.status == "retrying")
        with self.engine.connect() as conn:
            if record_refs is None:
                return [dict(row._mapping) for row in conn.execute(open_writes)]
            return [dict(row._mapping) for chunk in _chunks(sorted(set(record_refs)))
                    for row in conn.execute(open_writes.where(t.ledger.c.record_ref.in_(chunk)))]

    # stock baselines --------------------------------------------------------------------------
    def _advance_baselines(self, conn, baselines: list[dict], stamp: datetime) -> None:
        """Upsert each (source_system, sku, location_key, level, version, last_key); a baseline never
        goes back to an older POS count."""
        if not baselines:
            return
        stmt = self._insert(t.stock_baseline)
        stmt = stmt.on_conflict_do_update(
            index_elements=["source_system", "sku", "location_key"],
            set_={name: stmt.excluded[name] for name in ("level", "version", "last_key", "updated_at")},
            where=t.stock_baseline.c.version <= stmt.excluded.version,
        )
        _upsert_many(conn, stmt, ["source_system", "sku", "location_key"],
                     [{**baseline, "updated_at": stamp} for baseline in baselines])

    def claim_stock_many(self, source_system: str, claims: list[tuple[str, str, str]], lease_s: float = 300) -> set[str]:
        """Take each (sku, location, claimant) for one read-baseline / write / advance-baseline step;
        returns the claimants that hold theirs (another live process may hold the rest). A claim whose
        holder process is gone from this host, or older than `lease_s` (a holder on another host that
        stopped answering), is taken over."""
        if not claims:
            return set()
        stamp = now()
        c = t.stock_claims.c
        held: set[str] = set()
        with self.engine.begin() as conn:
            conn.execute(t.stock_claims.delete().where(
                c.source_system == source_system, c.claimed_at < stamp - timedelta(seconds=lease_s)))
            dead = sorted({h for h in conn.execute(select(c.holder).where(c.source_system == source_system)).scalars()
                           if not holder_alive(h)})
            if dead:  # a push killed on this machine: no need to wait for its lease
                conn.execute(t.stock_claims.delete().where(c.source_system == source_system, c.holder.in_(dead)))
            holder = current_holder()
            rows = [{"source_system": source_system, "sku": sku, "location_key": location_key, "claimed_by": claimant,
                     "holder": holder, "claimed_at": stamp} for sku, location_key, claimant in claims]
            _upsert_many(conn, self._insert(t.stock_claims).on_conflict_do_nothing(),
                         ["source_system", "sku", "location_key"], rows)
            for chunk in _chunks([claimant for _, _, claimant in claims]):
                held.update(conn.execute(select(c.claimed_by).where(
                    c.source_system == source_system, c.claimed_by.in_(chunk))).scalars())
        return held

    def release_stock_many(self, source_system: str, claimants: list[str]) -> None:
        c = t.stock_claims.c
        with self.engine.begin() as conn:
            for chunk in _chunks(claimants):
                conn.execute(t.stock_claims.delete().where(c.source_system == source_system, c.claimed_by.in_(chunk)))

    def baselines_for(self, source_system: str, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int]]:
        """{(sku, location): (level, version)} of the given counts that have a baseline, read now (not at plan time)."""
        wanted = sorted(set(pairs))  # key order: neighbouring lookups touch the same index pages
        return {wanted[n]: (level, version) for n, level, version in self.baseline_rows(source_system, wanted)}

    def baseline_rows(self, source_system: str, pairs: list[tuple[str, str]]) -> list[tuple[int, int, int]]:
        """(position in `pairs`, level, version) of each pair that has a baseline: one primary-key
        lookup per pair, thousands of pairs per statement on the driver's own cursor. At 100,000
        pairs SQLAlchemy's parameter compiling and result rows, or sending the keys back, would cost
        more than the lookups themselves; the caller has the keys. SQLite: a VALUES list joined to the
        table. PostgreSQL: two arrays unnested (three parameters, not 15,000: psycopg 3 parses a
        statement's placeholders in Python, which at 15,000 took longer than the lookups)."""
        postgres = self.engine.dialect.name == "postgresql"
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        found: list[tuple[int, int, int]] = []
        with self.engine.connect() as conn:
            cursor = conn.connection.cursor()
            try:
                for start in range(0, len(pairs), BASELINE_LOOKUP_BATCH):
                    chunk = pairs[start : start + BASELINE_LOOKUP_BATCH]
                    if postgres:
                        cursor.execute(
                            "SELECT wanted.n + %s, b.level, b.version "
                            "FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS wanted (sku, location_key, n) "
                            "JOIN stock_baseline AS b "
                            "ON b.source_system = %s AND b.sku = wanted.sku AND b.location_key = wanted.location_key",
                            (start - 1, [sku for sku, _ in chunk], [loc for _, loc in chunk], source_system),
                        )
                        found.extend(cursor.fetchall())
                        continue
                    rows = ", ".join([f"({mark}, {mark}, {mark})"] * len(chunk))
                    cursor.execute(
                        f"WITH wanted (n, sku, location_key) AS (VALUES {rows}) "
                        "SELECT wanted.n, b.level, b.version FROM wanted JOIN stock_baseline AS b "
                        f"ON b.source_system = {mark} AND b.sku = wanted.sku AND b.location_key = wanted.location_key",
                        [value for n, (sku, loc) in enumerate(chunk, start) for value in (n, sku, loc)] + [source_system],
                    )
                    found.extend(cursor.fetchall())
            finally:
                cursor.close()
        return found

    def baseline(self, source_system: str, sku: str, location_key: str) -> dict | None:
        c = t.stock_baseline.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.stock_baseline).where(c.source_system == source_system, c.sku == sku, c.location_key == location_key)
            ).first()
        return dict(row._mapping) if row else None

    def baselines_frame(self, source_system: str) -> pd.DataFrame:
        """Every baseline of `source_system` (the full plan's input): read through the driver, since
        SQLAlchemy's per-row result objects would double the cost at millions of rows."""
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                f"SELECT sku, location_key, level, version FROM stock_baseline WHERE source_system = {mark}",
                (source_system,)).fetchall()
        return pd.DataFrame.from_records(rows, columns=["sku", "location_key", "level", "version"]).astype(
            {"level": "int64", "version": "int64"}
        )

    # cursors ----------------------------------------------------------------------------------
    def get_cursor(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(t.cursors.c.value).where(t.cursors.c.name == name)).scalar()

    def set_cursor(self, name: str, value: str, evidence: dict | None = None) -> None:
        stamp = now()
        stmt = self._insert(t.cursors).values(name=name, value=value, evidence=json.dumps(evidence or {}, default=str), updated_at=stamp)
        stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={"value": value, "evidence": stmt.excluded.evidence, "updated_at": stamp})
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def clear_cursors(self, prefix: str = "") -> None:
        with self.engine.begin() as conn:
            conn.execute(t.cursors.delete().where(t.cursors.c.name.startswith(prefix)))

    # rejected records -------------------------------------------------------------------------
    def add_rejections(self, flow: str, rejections: Iterable[Rejection], *, status: str = "open", key: str | None = None) -> int:
        """Open (or reopen) a rejection per record and field; one seen before counts another attempt."""
        stamp = now()
        rows = [{"flow": flow, "system": r.system, "entity": r.entity, "record_ref": r.record_ref, "field": r.field,
                 "reason": r.reason, "payload": r.payload, "idempotency_key": key, "status": status, "attempts": 1,
                 "created_at": stamp, "updated_at": stamp} for r in rejections]
        if rows:
            stmt = self._insert(t.rejected)
            stmt = stmt.on_conflict_do_update(
                index_elements=["flow", "system", "record_ref", "field"],
                set_={"reason": stmt.excluded.reason, "payload": stmt.excluded.payload, "status": status,
                      "attempts": t.rejected.c.attempts + 1, "updated_at": stamp, "idempotency_key": key},
            )
            with self.engine.begin() as conn:
                _upsert_many(conn, stmt, ["flow", "system", "record_ref", "field"], rows)
        return len(rows)

    def resolve_rejections(self, flow: str, system: str, record_refs: Iterable[str]) -> None:
        """Records that map cleanly now (after a fix at the source) close their open rejections."""
        refs = list(record_refs)
        c = t.rejected.c
        with self.engine.begin() as conn:
            for chunk in _chunks(refs):
                conn.execute(
                    update(t.rejected)
                    .where(c.flow == flow, c.system == system, c.record_ref.in_(chunk), c.status == "open")
                    .values(status="resolved", updated_at=now())
                )

    def rejected_frame(self, status: str | None = None) -> pd.DataFrame:
        query = select(t.rejected)
        if status:
            query = query.where(t.rejected.c.status == status)
        with self.engine.connect() as conn:
            return pd.DataFrame(conn.execute(query.order_by(t.rejected.c.id)).mappings().all(), columns=[c.name for c in t.rejected.c])

    # call log ---------------------------------------------------------------------------------
    def log_calls(self, records: list[dict]) -> None:
        if not records:
            return
        stamp = now()
        columns = {c.name for c in t.api_calls.c} - {"id"}
        rows = [{**{k: v for k, v in r.items() if k in columns}, "created_at": r.get("created_at") or stamp} for r in records]
        with self.engine.begin() as conn:
            conn.execute(t.api_calls.insert(), rows)

    # copies for analysts ----------------------------------------------------------------------
    def table_frame(self, name: str) -> pd.DataFrame:
        table = t.metadata.tables[name]
        with self.engine.connect() as conn:
            return pd.DataFrame(conn.execute(select(table)).mappings().all(), columns=[c.name for c in table.c])


class CallLogBuffer:
    """Collects API call records and writes them in batches (one transaction per batch)."""

    def __init__(self, store: OpsStore, batch: int = 200):
        self.store = store
        self.batch = batch
        self.records: list[dict] = []

    def __call__(self, record: dict) -> None:
        self.records.append(record)
        if len(self.records) >= self.batch:
            self.flush()

    def flush(self) -> None:
        records, self.records = self.records, []
        self.store.log_calls(records)
