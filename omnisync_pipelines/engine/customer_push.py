"""Push one direction of the customers plan through a `CustomerTarget`, each write at most once.

Per plan row the ledger records the intent (`retrying`, payload with `before` and `after`) before
the call and the outcome after it. An update sets absolute field values, so a key an interrupted
run left `retrying` is simply sent again. A create first asks the target for the customer
(`find`: by the key/external id our create stamps, then by email), so a create whose answer was
lost, or a customer that appeared after the snapshot, is linked instead of created twice; the next
plan then diffs that pair under the ownership rules. Matched pairs and created customers are
written to the crosswalk.

A target that offers `update_many` gets a batch's updates in one call (it may send them in a few
requests instead of one per customer); the ledger still records each record's intent before and its
outcome after, the applied ones first.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from omnisync_pipelines.canonical.models import Customer, Rejection
from omnisync_pipelines.engine.customers import ENTITY, customers_flow
from omnisync_pipelines.engine.options import SyncOptions
from omnisync_pipelines.engine.statistics import SyncStatistics
from omnisync_pipelines.engine.stock_push import RECORD_LEVEL_STATUSES, SYSTEMIC_STATUSES, SystemicSyncError
from omnisync_pipelines.rest.errors import ApiError
from omnisync_pipelines.store.crosswalk import Crosswalk
from omnisync_pipelines.store.ops import OpsStore


class CustomerTarget(Protocol):
    """One system's customers, in canonical terms."""

    system: str

    async def find(self, source: Customer) -> Customer | None:
        """The target's customer created from `source` earlier (key/external id), else the one with its email."""
        ...

    async def create(self, source: Customer) -> Customer:
        """Create from `source` (only the fields to copy are set), carrying `source.customer_id` as the link back."""
        ...

    async def update(self, customer_id: str, values: Mapping[str, Any]) -> Customer | None:
        """Set these canonical fields to these values; None when the customer does not exist.

        A target may also offer `update_many([(customer_id, values), ...])` returning each update's
        Customer, None or ApiError in order: the push then sends a batch's updates through it."""
        ...


class CustomerNotFound(Exception):
    """The target no longer has the customer the plan wants to update."""


@dataclass
class CustomerSyncStatistics(SyncStatistics):
    created: int = 0
    updated: int = 0
    linked: int = 0  # creates resolved to an existing customer at the target

    def as_dict(self) -> dict:
        return {**super().as_dict(), "created": self.created, "updated": self.updated, "linked": self.linked}

    def summary(self) -> str:
        return f"{super().summary()} ({self.created} created, {self.updated} updated, {self.linked} linked)"


async def push_customers(
    writes: pd.DataFrame,
    target: CustomerTarget,
    ops: OpsStore,
    *,
    source_system: str,
    links: pd.DataFrame | None = None,
    options: SyncOptions = SyncOptions(),
) -> CustomerSyncStatistics:
    """writes: `CustomerPlan.for_flow(customers_flow(source_system, target.system))`; links: `CustomerPlan.links`."""
    flow = customers_flow(source_system, target.system)
    stats = CustomerSyncStatistics(flow=flow)
    crosswalk = Crosswalk(ops)
    if links is not None and len(links):
        crosswalk.link_many(links.to_dict("records"))
    rows = writes[(writes["flow"] == flow)] if len(writes) else writes
    _supersede_stale(flow, rows, ops)
    statuses = ops.ledger_statuses(rows["idempotency_key"]) if len(rows) else {}
    gate = asyncio.Semaphore(options.concurrency)
    update_many = getattr(target, "update_many", None)  # optional: a batch's updates in few calls
    batched = [r for r in rows.itertuples(index=False) if update_many is not None and r.action != "create"]
    single = [r for r in rows.itertuples(index=False) if update_many is None or r.action == "create"]

    async def push_row(row) -> None:
        async with gate:
            await _push_one(row, flow, target, ops, crosswalk, stats, statuses)

    for start in range(0, len(batched), options.batch_size):
        await _push_updates(batched[start : start + options.batch_size], flow, target, ops, stats, statuses)
    await asyncio.gather(*(push_row(row) for row in single))
    return stats.finish()


def _begin(row, flow, target: CustomerTarget, ops: OpsStore, stats, statuses) -> dict | None:
    """The payload once the intent is recorded; None for a record already settled in the ledger."""
    stats.processed += 1
    prior = statuses.get(row.idempotency_key)
    if prior == "applied":
        stats.already_applied += 1
        return None
    if prior == "rejected":
        stats.rejected += 1
        return None
    payload = {"action": row.action, "source_id": row.source_id, "target_id": row.target_id,
               "canonical_id": row.canonical_id, "before": json.loads(row.previous), "after": json.loads(row.desired)}
    ops.mark_retrying(row.idempotency_key, flow=flow, target=target.system, source=row.source_system,
                      record_ref=row.source_id, payload=payload)
    return payload


async def _push_one(row, flow, target: CustomerTarget, ops, crosswalk: Crosswalk, stats, statuses) -> None:
    payload = _begin(row, flow, target, ops, stats, statuses)
    if payload is None:
        return
    try:
        if row.action == "create":
            result = await _create(row, payload["after"], target, crosswalk, stats)
        else:
            result = _updated(row, await target.update(row.target_id, payload["after"]), target, stats)
    except (ApiError, CustomerNotFound) as exc:
        _record_failure(exc, row.idempotency_key, flow, row, payload, ops, stats)
        return
    _record_applied(row.idempotency_key, result, ops, stats)


async def _push_updates(rows: list, flow, target: CustomerTarget, ops: OpsStore, stats, statuses) -> None:
    """One batch of updates through `target.update_many`: intents, one call, then the applied
    outcomes before the failures (an auth failure stops the run; nothing applied goes unrecorded)."""
    begun = [(row, payload) for row in rows if (payload := _begin(row, flow, target, ops, stats, statuses)) is not None]
    if not begun:
        return
    try:
        outcomes = await target.update_many([(row.target_id, payload["after"]) for row, payload in begun])
    except ApiError as exc:
        outcomes = [exc] * len(begun)
    failures = []
    for (row, payload), outcome in zip(begun, outcomes, strict=True):
        try:
            if isinstance(outcome, ApiError):
                raise outcome
            _record_applied(row.idempotency_key, _updated(row, outcome, target, stats), ops, stats)
        except (ApiError, CustomerNotFound) as exc:
            failures.append((exc, row, payload))
    for exc, row, payload in failures:
        _record_failure(exc, row.idempotency_key, flow, row, payload, ops, stats)


def _updated(row, updated: Customer | None, target: CustomerTarget, stats) -> dict:
    if updated is None:
        raise CustomerNotFound(f"{target.system} has no customer {row.target_id} any more")
    stats.updated += 1
    return {"status": "updated", "customer_id": updated.customer_id}


def _record_applied(key: str, result: dict, ops: OpsStore, stats) -> None:
    stats.api_writes += 1
    stats.applied += 1
    ops.mark_applied(key, result)


async def _create(row, desired: dict, target: CustomerTarget, crosswalk: Crosswalk, stats) -> dict:
    source = Customer(system=row.source_system, customer_id=row.source_id, email=desired.get("email"),
                      **{k: v for k, v in desired.items() if k != "email"})
    found = await target.find(source)
    if found is not None:
        stats.linked += 1
        created, status = found, "linked"
    else:
        created, status = await target.create(source), "created"
        stats.created += 1
    canonical = crosswalk.link(ENTITY, row.canonical_id, row.source_system, row.source_id)
    crosswalk.link(ENTITY, canonical, target.system, created.customer_id)
    return {"status": status, "customer_id": created.customer_id}


def _record_failure(exc: Exception, key, flow, row, payload, ops: OpsStore, stats: CustomerSyncStatistics) -> None:
    status = getattr(exc, "status", None)
    if status in SYSTEMIC_STATUSES:
        raise SystemicSyncError(f"{flow}: the target refused our credentials ({status}): {exc}") from exc
    if isinstance(exc, CustomerNotFound) or status in RECORD_LEVEL_STATUSES:
        reason = f"{row.action} of customer {row.source_id} refused ({status or 'not found'}): {exc}"
        ops.mark_failed(key, "rejected", reason)
        field = ",".join(row.changes) if len(row.changes) == 1 else "customer"
        ops.add_rejections(
            flow, [Rejection(row.source_system, "customers", row.source_id, field, reason, json.dumps(payload, default=str))],
            key=key,
        )
        stats.rejected += 1
        return
    ops.mark_failed(key, "retrying", f"transient, will retry next run: {exc}")
    stats.failed += 1
    stats.errors.append(f"{row.source_id}: {exc}")


def _supersede_stale(flow: str, rows: pd.DataFrame, ops: OpsStore) -> None:
    """A key left `retrying` whose record is planned again under a newer key will never be sent."""
    planned = dict(zip(rows["source_id"], rows["idempotency_key"], strict=True)) if len(rows) else {}
    for entry in ops.in_flight(flow):
        newer = planned.get(entry["record_ref"])
        if newer is not None and newer != entry["idempotency_key"]:
            ops.mark_failed(entry["idempotency_key"], "superseded", f"replaced by {newer}")
