"""Push the stock plan to commercetools: relative changes, each exactly once.

For every plan row the ledger records the intent (`retrying`) before the call and the outcome
after it; the baseline advances in the same transaction as `applied`. The target stamps the
movement key on the inventory entry in the same request as the quantity change, so a write whose
outcome was lost (crash, dropped connection) is resolved from that evidence at the next push
instead of being sent twice.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from omnisync_pipelines.canonical.models import Rejection
from omnisync_pipelines.engine import offline_policy
from omnisync_pipelines.engine.drift import CORRECTION_FLOW
from omnisync_pipelines.engine.options import SyncOptions
from omnisync_pipelines.engine.statistics import SyncStatistics
from omnisync_pipelines.engine.stock_plan import stock_flow, stock_out_flow
from omnisync_pipelines.rest.errors import ApiError
from omnisync_pipelines.store.ops import OpsStore

RECORD_LEVEL_STATUSES = (400, 404, 422)
SYSTEMIC_STATUSES = (401, 403)


@dataclass(frozen=True)
class TargetStock:
    quantity_on_stock: int
    last_movement: str | None


class StockTarget(Protocol):
    system: str

    async def read_stock(self, sku: str, location_key: str) -> TargetStock | None: ...

    async def apply_stock_delta(self, sku: str, location_key: str, delta: int, movement_key: str) -> dict:
        """Apply `delta` and stamp `movement_key` atomically; returns at least {"status": "applied"|"already_applied"}.

        A target may also offer `apply_stock_deltas([(sku, location_key, delta, movement_key), ...])`
        returning each write's result dict or ApiError in order, with `batches_stock_writes` True while
        it sends them in batches: the push then sends a batch's writes through it (few calls) instead of
        one call per write. `prefetch_stock(pairs)` / `forget_prefetched(pairs)` / `drop_prefetched()`:
        optional batch reads for `read_stock`, and forgetting them."""
        ...


class SystemicSyncError(Exception):
    """Auth failure or outage: stop the run loudly; nothing further is written, cursors stay put."""


async def push_stock(
    plan: pd.DataFrame, target: StockTarget, ops: OpsStore, *, pos_system: str, options: SyncOptions = SyncOptions()
) -> SyncStatistics:
    flow = stock_flow(pos_system)
    stats = SyncStatistics(flow=flow)
    await recover_in_flight(flow, target, ops, stats)
    await recover_in_flight(CORRECTION_FLOW, target, ops, stats)
    statuses = ops.ledger_statuses(plan["idempotency_key"]) if len(plan) else {}
    prefetch = getattr(target, "prefetch_stock", None)  # optional: resolve entries in batches, not per record
    push = _Push(flow, pos_system, target, ops, stats, statuses, options, asyncio.Semaphore(options.concurrency),
                 sending_to_pos={e["record_ref"] for e in ops.in_flight(stock_out_flow(pos_system))})
    try:
        for start in range(0, len(plan), options.batch_size):
            # one batch's rows (and entries) in memory at a time: a first sync's plan has millions
            rows = list(plan.iloc[start : start + options.batch_size].itertuples(index=False))
            if prefetch is not None:
                await prefetch(
                    (r.sku, r.location_key) for r in rows
                    if statuses.get(r.idempotency_key) not in ("applied", "rejected") and getattr(r, "kind", None) != "correction"
                )
            await _push_batch(rows, push)
            if prefetch is not None:
                target.drop_prefetched()
    finally:
        if prefetch is not None:
            target.drop_prefetched()
    return stats.finish()


@dataclass
class _Push:
    flow: str
    pos_system: str
    target: StockTarget
    ops: OpsStore
    stats: SyncStatistics
    statuses: dict[str, str]
    options: SyncOptions
    gate: asyncio.Semaphore
    # counts with a write from commercetools to the POS still open: their baseline moves when it settles
    sending_to_pos: set[str] = field(default_factory=set)

    async def gated(self, work):
        async with self.gate:
            return await work


@dataclass
class _Write:
    """One count on its way: what the ledger records before the call and after it."""

    row: Any
    payload: dict
    advance: dict  # the baseline once applied
    send: int  # the relative change to send; 0: nothing to send (noop)
    released: bool = False
    decision: offline_policy.Decision | None = None
    before: int | None = None  # commercetools quantity read for the negative-stock policy

    @property
    def key(self) -> str:
        return self.row.idempotency_key

    @property
    def ref(self) -> str:
        return f"{self.row.sku}@{self.row.location_key}"


async def _push_batch(rows: list, push: _Push) -> None:
    """One batch in phases, one operational-store transaction per phase (the ledger's cost is per
    commit): claim the counts, decide each write, record the intents, send, record the outcomes."""
    stats, ops = push.stats, push.ops
    levels, corrections = [], []
    for row in rows:
        stats.processed += 1
        prior = push.statuses.get(row.idempotency_key)
        if prior == "applied":
            stats.already_applied += 1
            continue
        released = prior == "rejected" and offline_policy.released(ops, push.flow, f"{row.sku}@{row.location_key}")
        if prior == "rejected" and not released:
            stats.rejected += 1  # stays in the rejected table until an operator retries or releases it
            continue
        if f"{row.sku}@{row.location_key}" in push.sending_to_pos:
            stats.deferred += 1  # settled by the next reconciliation, then planned again
            continue
        (corrections if getattr(row, "kind", None) == "correction" else levels).append((row, released))
    await asyncio.gather(*(push.gated(_push_correction(row, row.idempotency_key, push.flow, push.pos_system, push.target,
                                                         ops, stats)) for row, _ in corrections))
    if not levels:
        return
    # The Dagster push and the fast lane may hold rows for the same count at once: each reads the
    # baseline, writes the change relative to it and advances it while holding the (sku, location).
    claimed = ops.claim_stock_many(push.pos_system, [(r.sku, r.location_key, r.idempotency_key) for r, _ in levels])
    mine = [(r, released) for r, released in levels if r.idempotency_key in claimed]
    stats.deferred += len(levels) - len(mine)  # another process is moving these counts; the next plan sees its result
    try:
        unsettled = await _settle_earlier_writes(push, [r for r, _ in mine])
        movable = [(r, released) for r, released in mine if f"{r.sku}@{r.location_key}" not in unsettled]
        stats.deferred += len(mine) - len(movable)
        baselines = ops.baselines_for(push.pos_system, [(r.sku, r.location_key) for r, _ in movable])
        decided = await asyncio.gather(*(push.gated(_decide(r, released, baselines.get((r.sku, r.location_key)), push))
                                         for r, released in movable))
        writes = [w for w in decided if w is not None]
        ops.mark_retrying_many(push.flow, push.target.system, push.pos_system, [(w.key, w.ref, w.payload) for w in writes])
        batches = getattr(push.target, "batches_stock_writes", False)  # optional: the batch's writes in few calls
        if not batches:
            sent = await asyncio.gather(*(push.gated(_send(w, push.target)) for w in writes))
        else:
            sent = await _send_many(writes, push.target.apply_stock_deltas)
        _record_outcomes(list(zip(writes, sent, strict=True)), push)
    finally:
        ops.release_stock_many(push.pos_system, [r.idempotency_key for r, _ in mine])


async def _settle_earlier_writes(push: _Push, rows: list) -> set[str]:
    """Resolve, from the target's stamp, any earlier write of a count this push now holds whose
    outcome is still open (`retrying`): one that failed after this push's start-up recovery looked,
    e.g. a timeout after commercetools applied it. Left open, the new change would be computed from
    the baseline before it and count it twice. The stamp is read fresh, not from the batch's
    prefetch. Returns the counts (`sku@location`) whose stamp could not be read: their rows wait."""
    own = {r.idempotency_key for r in rows}  # the same key again: the target's stamp check covers it
    earlier = [entry for entry in push.ops.in_flight(push.flow, [f"{r.sku}@{r.location_key}" for r in rows])
               if entry["idempotency_key"] not in own]
    forget = getattr(push.target, "forget_prefetched", None)
    if earlier and forget is not None:
        forget([(p["sku"], p["location_key"]) for p in (json.loads(e["payload"]) for e in earlier)])
    unsettled: set[str] = set()
    for entry in earlier:
        try:
            await _recover(entry, push.target, push.ops, push.stats)
        except ApiError as exc:
            if getattr(exc, "status", None) in SYSTEMIC_STATUSES:
                raise SystemicSyncError(f"{push.flow}: commercetools refused our credentials: {exc}") from exc
            unsettled.add(entry["record_ref"])
            push.stats.errors.append(f"{entry['record_ref']}: earlier write not settled, count left for the next run: {exc}")
    return unsettled


async def _decide(row, released: bool, baseline: tuple[int, int] | None, push: _Push) -> _Write | None:
    """The change a count needs, or None when there is nothing to record (already applied, held, failed)."""
    stats, target, policy = push.stats, push.target, push.options.negative_stock_policy
    pos_level, pos_version = int(row.pos_level), int(row.pos_version)
    if baseline is not None and baseline[1] >= pos_version:
        stats.already_applied += 1  # a newer count was applied meanwhile (fast lane or an earlier run)
        return None
    payload = {"sku": row.sku, "location_key": row.location_key, "pos_level": pos_level, "pos_version": pos_version}
    write = _Write(row, payload, {"source_system": push.pos_system, "sku": row.sku, "location_key": row.location_key,
                                  "level": pos_level, "version": pos_version}, 0, released)
    try:
        if baseline is None:
            current = await target.read_stock(row.sku, row.location_key)
            delta = pos_level - (current.quantity_on_stock if current else 0)
        else:
            delta = pos_level - baseline[0]
        payload["delta"] = write.send = delta
        if delta < 0 and baseline is not None and policy != "allow_negative_and_report":
            # flow 6: a late (offline) decrease that would take commercetools below zero -> the configured policy
            now = await target.read_stock(row.sku, row.location_key)
            write.before = now.quantity_on_stock if now else None
            write.decision = offline_policy.decide(
                policy, write.before, delta, released=released or offline_policy.released(push.ops, push.flow, write.ref))
            write.send = write.decision.apply
    except ApiError as exc:
        _record_failure(exc, row.idempotency_key, push.flow, push.pos_system, row, payload, push.ops, stats)
        return None
    if write.decision is not None and write.decision.hold:
        _hold(write, push)
        return None
    return write


def _hold(write: _Write, push: _Push) -> None:
    before, delta = write.before or 0, write.payload["delta"]
    reason = (f"held for review: {delta:+d} at {write.row.location_key} would take commercetools from {before} to "
              f"{before + delta} ({write.decision.discrepancy_units} below zero); release it to apply")
    push.ops.mark_retrying(write.key, flow=push.flow, target=push.target.system, source=push.pos_system,
                           record_ref=write.ref, payload=write.payload)
    push.ops.mark_failed(write.key, "rejected", reason)
    push.ops.add_rejections(push.flow, [Rejection(push.pos_system, "stock", write.ref, "quantity", reason,
                                                  json.dumps(write.payload))], status=offline_policy.HELD, key=write.key)
    push.stats.rejected += 1


async def _send(write: _Write, target: StockTarget) -> dict | ApiError | None:
    if write.send == 0:
        return None
    try:
        return dict(await target.apply_stock_delta(write.row.sku, write.row.location_key, write.send, write.key))
    except ApiError as exc:
        return exc


async def _send_many(writes: list[_Write], apply_many) -> list[dict | ApiError | None]:
    moving = [w for w in writes if w.send != 0]
    try:
        results = await apply_many([(w.row.sku, w.row.location_key, w.send, w.key) for w in moving]) if moving else []
    except ApiError as exc:
        results = [exc] * len(moving)
    answers = iter(results)  # in the order sent, whatever the keys (a key may come twice)
    outcomes = [(next(answers) if w.send != 0 else None) for w in writes]
    return [o if o is None or isinstance(o, ApiError) else dict(o) for o in outcomes]


def _record_outcomes(outcomes: list[tuple[_Write, dict | ApiError | None]], push: _Push) -> None:
    """Applied writes (and their baselines) in one transaction first; then the failures, which may
    stop the run (auth), so that nothing that reached commercetools is left unrecorded."""
    stats, policy = push.stats, push.options.negative_stock_policy
    applied: list[tuple[str, dict, dict]] = []
    for write, result in outcomes:
        if isinstance(result, ApiError):
            continue
        report = write.decision.report(policy, write.before) if write.decision and write.decision.discrepancy_units else {}
        if result is None:
            applied.append((write.key, {"status": "noop", **report}, write.advance))
            stats.noop += 1
            continue
        stats.api_writes += 1
        result.update(report)
        if not report and write.send < 0 and int(result.get("quantity_on_stock") or 0) < 0 and result.get("status") == "applied":
            result.update({"negative_policy": policy, "discrepancy_units": -int(result["quantity_on_stock"])})
        applied.append((write.key, result, write.advance))
        if result.get("status") == "already_applied":
            stats.already_applied += 1
        else:
            stats.applied += 1
    push.ops.mark_applied_many(applied)
    for write, result in outcomes:
        if not isinstance(result, ApiError) and (write.released or write.decision is not None):
            offline_policy.resolve_released(push.ops, push.flow, write.ref)
    for write, result in outcomes:
        if isinstance(result, ApiError):
            _record_failure(result, write.key, push.flow, push.pos_system, write.row, write.payload, push.ops, stats)


async def _push_correction(row, key, flow, pos_system, target, ops: OpsStore, stats: SyncStatistics) -> None:
    """A reconciliation correction: commercetools is moved back to the synced baseline, relatively, so
    changes made there since the check survive; the baseline (the POS side) does not move, and the
    POS units in flight follow through the stock flow. Recorded under its own flow, so the ledger
    tells corrections from synced movements."""
    flow = CORRECTION_FLOW
    delta = int(row.expected_delta)
    payload = {"sku": row.sku, "location_key": row.location_key, "delta": delta, "kind": "correction"}
    ops.mark_retrying(key, flow=flow, target=target.system, source=pos_system, record_ref=f"{row.sku}@{row.location_key}", payload=payload)
    try:
        result = await target.apply_stock_delta(row.sku, row.location_key, delta, key)
    except ApiError as exc:
        _record_failure(exc, key, flow, pos_system, row, payload, ops, stats)
        return
    stats.api_writes += 1
    stats.applied += 1
    ops.mark_applied(key, result)


def _record_failure(exc: ApiError, key, flow, pos_system, row, payload, ops: OpsStore, stats: SyncStatistics) -> None:
    status = getattr(exc, "status", None)
    if status in SYSTEMIC_STATUSES:
        raise SystemicSyncError(f"{flow}: commercetools refused our credentials ({status}): {exc}") from exc
    if status in RECORD_LEVEL_STATUSES:
        reason = f"commercetools refused the stock change of {row.sku} at {row.location_key} ({status}): {exc}"
        if ops.ledger_status(key) is None:
            ops.mark_retrying(key, flow=flow, target="commercetools", source=pos_system, record_ref=f"{row.sku}@{row.location_key}", payload=payload)
        ops.mark_failed(key, "rejected", reason)
        ops.add_rejections(
            flow,
            [Rejection(pos_system, "stock", f"{row.sku}@{row.location_key}", "quantity", reason, json.dumps(payload))],
            key=key,
        )
        stats.rejected += 1
        return
    if ops.ledger_status(key) is not None:
        ops.mark_failed(key, "retrying", f"transient, will retry next run: {exc}")
    stats.failed += 1
    stats.errors.append(f"{row.sku}@{row.location_key}: {exc}")


async def recover_in_flight(flow: str, target: StockTarget, ops: OpsStore, stats: SyncStatistics) -> None:
    """Resolve writes whose outcome an interrupted run never recorded, from the target's stamp."""
    for entry in ops.in_flight(flow):
        await _recover(entry, target, ops, stats)


async def _recover(entry: dict, target: StockTarget, ops: OpsStore, stats: SyncStatistics) -> None:
    """Stamped with this write's key: applied (a synced count's baseline advances); else superseded."""
    payload = json.loads(entry["payload"])
    current = await target.read_stock(payload["sku"], payload["location_key"])
    key = entry["idempotency_key"]
    if current is not None and current.last_movement == key and payload.get("kind") == "correction":
        ops.mark_applied(key, {"status": "recovered", "quantity_on_stock": current.quantity_on_stock})
        stats.recovered += 1
    elif current is not None and current.last_movement == key:
        ops.mark_applied(
            key,
            {"status": "recovered", "quantity_on_stock": current.quantity_on_stock},
            baseline={
                "source_system": entry["source_system"], "sku": payload["sku"], "location_key": payload["location_key"],
                "level": payload["pos_level"], "version": payload["pos_version"],
            },
        )
        stats.recovered += 1
    else:
        ops.mark_failed(key, "superseded", "not applied before the interruption; planned again from the baseline")
