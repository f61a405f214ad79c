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
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from omnisync_pipelines.canonical.models import Rejection
from omnisync_pipelines.engine import offline_policy
from omnisync_pipelines.engine.drift import CORRECTION_FLOW
from omnisync_pipelines.engine.options import SyncOptions
from omnisync_pipelines.engine.statistics import SyncStatistics
from omnisync_pipelines.engine.stock_plan import stock_flow
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
        """Apply `delta` and stamp `movement_key` atomically; returns at least {"status": "applied"|"already_applied"}."""
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
    if prefetch is not None:
        await prefetch(
            (r.sku, r.location_key) for r in plan.itertuples(index=False)
            if statuses.get(r.idempotency_key) not in ("applied", "rejected") and getattr(r, "kind", None) != "correction"
        )
    gate = asyncio.Semaphore(options.concurrency)

    async def push_row(row) -> None:
        async with gate:
            await _push_one(row, flow, pos_system, target, ops, stats, statuses, options)

    try:
        await asyncio.gather(*(push_row(row) for row in plan.itertuples(index=False)))
    finally:
        if prefetch is not None:
            target.drop_prefetched()
    return stats.finish()


async def _push_one(row, flow, pos_system, target, ops, stats, statuses, options=SyncOptions()) -> None:
    key = row.idempotency_key
    stats.processed += 1
    prior = statuses.get(key)
    if prior == "applied":
        stats.already_applied += 1
        return
    released = prior == "rejected" and offline_policy.released(ops, flow, f"{row.sku}@{row.location_key}")
    if prior == "rejected" and not released:
        stats.rejected += 1  # stays in the rejected table until an operator retries or releases it
        return
    if getattr(row, "kind", None) == "correction":
        await _push_correction(row, key, flow, pos_system, target, ops, stats)
        return
    # The Dagster push and the fast lane may hold rows for the same count at once: each reads the
    # baseline, writes the change relative to it and advances it while holding the (sku, location).
    if not ops.claim_stock(pos_system, row.sku, row.location_key, key):
        stats.deferred += 1  # another process is moving this count; the next plan sees its result
        return
    try:
        current = ops.baseline(pos_system, row.sku, row.location_key)
        baseline = (int(current["level"]), int(current["version"])) if current else None
        await _push_level(row, key, flow, pos_system, target, ops, stats, baseline, released, options)
    finally:
        ops.release_stock(pos_system, row.sku, row.location_key, key)


async def _push_level(row, key, flow, pos_system, target, ops, stats, baseline, released, options) -> None:
    pos_level, pos_version = int(row.pos_level), int(row.pos_version)
    if baseline is not None and baseline[1] >= pos_version:
        stats.already_applied += 1  # a newer count was applied meanwhile (fast lane or an earlier run)
        return
    payload = {"sku": row.sku, "location_key": row.location_key, "pos_level": pos_level, "pos_version": pos_version}
    advance = {"source_system": pos_system, "sku": row.sku, "location_key": row.location_key, "level": pos_level, "version": pos_version}
    try:
        if baseline is None:
            current = await target.read_stock(row.sku, row.location_key)
            delta = pos_level - (current.quantity_on_stock if current else 0)
        else:
            delta = pos_level - baseline[0]
        payload["delta"] = delta
        ops.mark_retrying(key, flow=flow, target=target.system, source=pos_system, record_ref=f"{row.sku}@{row.location_key}", payload=payload)
        if delta == 0:
            ops.mark_applied(key, {"status": "noop"}, baseline=advance)
            stats.noop += 1
            return
        policy, decision, before = options.negative_stock_policy, None, None
        if delta < 0 and baseline is not None and policy != "allow_negative_and_report":
            # flow 6: a late (offline) decrease that would take commercetools below zero -> the configured policy
            ref = f"{row.sku}@{row.location_key}"
            now = await target.read_stock(row.sku, row.location_key)
            before = now.quantity_on_stock if now else None
            decision = offline_policy.decide(policy, before, delta, released=released or offline_policy.released(ops, flow, ref))
            if decision.hold:
                reason = (f"held for review: {delta:+d} at {row.location_key} would take commercetools from {before or 0} to "
                          f"{(before or 0) + delta} ({decision.discrepancy_units} below zero); release it to apply")
                ops.mark_failed(key, "rejected", reason)
                ops.add_rejections(flow, [Rejection(pos_system, "stock", ref, "quantity", reason, json.dumps(payload))],
                                   status=offline_policy.HELD, key=key)
                stats.rejected += 1
                return
            if decision.apply == 0:
                ops.mark_applied(key, {"status": "noop", **decision.report(policy, before)}, baseline=advance)
                stats.noop += 1
                return
        result = await target.apply_stock_delta(row.sku, row.location_key, decision.apply if decision else delta, key)
    except ApiError as exc:
        _record_failure(exc, key, flow, pos_system, row, payload, ops, stats)
        return
    stats.api_writes += 1
    result = dict(result)
    if decision is not None and decision.discrepancy_units:
        result.update(decision.report(policy, before))
    elif delta < 0 and int(result.get("quantity_on_stock") or 0) < 0 and result.get("status") == "applied":
        result.update({"negative_policy": policy, "discrepancy_units": -int(result["quantity_on_stock"])})
    ops.mark_applied(key, result, baseline=advance)
    if released or decision is not None:
        offline_policy.resolve_released(ops, flow, f"{row.sku}@{row.location_key}")
    if result.get("status") == "already_applied":
        stats.already_applied += 1
    else:
        stats.applied += 1


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
