"""Push one direction of the customers plan through a `CustomerTarget`, each write at most once.

Per plan row the ledger records the intent (`retrying`, payload with `before` and `after`) before
the call and the outcome after it. An update sets absolute field values, so a key an interrupted
run left `retrying` is simply sent again. A create first asks the target for the customer
(`find`: by the key/external id our create stamps, then by email), so a create whose answer was
lost, or a customer that appeared after the snapshot, is linked instead of created twice; the next
plan then diffs that pair under the ownership rules. Matched pairs and created customers are
written to the crosswalk.
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
        """Set these canonical fields to these values; None when the customer does not exist."""
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

    async def push_row(row) -> None:
        async with gate:
            await _push_one(row, flow, target, ops, crosswalk, stats, statuses)

    await asyncio.gather(*(push_row(row) for row in rows.itertuples(index=False)))
    return stats.finish()


async def _push_one(row, flow, target: CustomerTarget, ops, crosswalk: Crosswalk, stats, statuses) -> None:
    key = row.idempotency_key
    stats.processed += 1
    prior = statuses.get(key)
    if prior == "applied":
        stats.already_applied += 1
        return
    if prior == "rejected":
        stats.rejected += 1
        return
    desired = json.loads(row.desired)
    payload = {"action": row.action, "source_id": row.source_id, "target_id": row.target_id,
               "canonical_id": row.canonical_id, "before": json.loads(row.previous), "after": desired}
    ops.mark_retrying(key, flow=flow, target=target.system, source=row.source_system, record_ref=row.source_id,
                      payload=payload)
    try:
        if row.action == "create":
            result = await _create(row, desired, target, crosswalk, stats)
        else:
            updated = await target.update(row.target_id, desired)
            if updated is None:
                raise CustomerNotFound(f"{target.system} has no customer {row.target_id} any more")
            result = {"status": "updated", "customer_id": updated.customer_id}
            stats.updated += 1
    except (ApiError, CustomerNotFound) as exc:
        _record_failure(exc, key, flow, row, payload, ops, stats)
        return
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
