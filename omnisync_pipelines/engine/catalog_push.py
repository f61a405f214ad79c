"""Push the catalog plan to the POS: each SKU's desired state, at most once per idempotency key.

Every write is an absolute upsert of the whole desired state (item, then prices), so sending one
again is harmless: a key the ledger left `retrying` (a run died mid-write) is simply sent again,
and needs no recovery step like the stock push's. A key already `applied` is skipped, which is
what makes a replayed plan a no-op. When a newer plan carries a different key for a SKU, the
older key still `retrying` is marked `superseded`.

The target's canonical shapes:
    upsert_item(desired)   desired = plan `desired` + {"system_id": POS id or None}
                           -> {"status": "created"|"updated"|"unchanged", "system_id": str}
    set_prices(sku, prices_by_location)
                           prices_by_location = plan `prices`:
                           {location_key: {"currency": "EUR", "amount": 1999, "price_books": {"vip": 1799}}}
                           -> {"status": "applied"|"unchanged", ...}
    set_prices_many({sku: prices_by_location})   (optional; a target with a bulk price path)
                           -> {sku: the set_prices result, or the ApiError that kept it back}

The push runs in two phases: every row's item write, then the prices of every row that needs them,
in one `set_prices_many` call when the target offers one (X-Series sends price book entries as
lists), else one `set_prices` per SKU. Each row is still recorded in the ledger on its own.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

from omnisync_pipelines.canonical.models import Rejection
from omnisync_pipelines.engine.catalog_plan import FIELDS, catalog_flow
from omnisync_pipelines.engine.catalog_validate import SOURCE
from omnisync_pipelines.engine.options import SyncOptions
from omnisync_pipelines.engine.statistics import SyncStatistics
from omnisync_pipelines.engine.stock_push import RECORD_LEVEL_STATUSES, SYSTEMIC_STATUSES, SystemicSyncError
from omnisync_pipelines.rest.errors import ApiError
from omnisync_pipelines.store.ops import OpsStore


class CatalogTarget(Protocol):
    system: str

    async def upsert_item(self, desired: dict) -> dict:
        """Create or update the item by SKU (by `system_id` when given) to exactly `desired`."""
        ...

    async def set_prices(self, sku: str, prices_by_location: dict) -> dict:
        """Make the item's prices at each listed location (and its price books) exactly these."""
        ...


@dataclass
class CatalogSyncStatistics(SyncStatistics):
    created: int = 0
    updated: int = 0

    def as_dict(self) -> dict:
        return {**super().as_dict(), "created": self.created, "updated": self.updated}

    def summary(self) -> str:
        return f"{super().summary()} ({self.created} created, {self.updated} updated)"


@dataclass
class _Pending:
    """A row whose item step is done and whose prices are still to be written."""

    row: object
    payload: dict
    result: dict = field(default_factory=dict)


async def push_catalog(
    plan: pd.DataFrame, target: CatalogTarget, ops: OpsStore, *, pos_system: str, options: SyncOptions = SyncOptions()
) -> CatalogSyncStatistics:
    flow = catalog_flow(pos_system)
    stats = CatalogSyncStatistics(flow=flow)
    keys = list(plan["idempotency_key"]) if len(plan) else []
    skus = list(plan["sku"]) if len(plan) else []
    _supersede(flow, dict(zip(skus, keys, strict=True)), ops)
    statuses = ops.ledger_statuses(keys) if keys else {}
    gate = asyncio.Semaphore(options.concurrency)

    async def item_step(row) -> _Pending | None:
        async with gate:
            return await _push_item(row, flow, target, ops, stats, statuses.get(row.idempotency_key))

    pending = [p for p in await asyncio.gather(*(item_step(row) for row in plan.itertuples(index=False))) if p]
    outcomes = await _set_prices(pending, target, gate)
    for item in pending:
        outcome = outcomes[item.row.sku]
        if isinstance(outcome, ApiError):
            _record_failure(outcome, item.row.idempotency_key, flow, target.system, item.row.sku, "prices",
                            item.payload, ops, stats)
            continue
        item.result["prices"] = outcome
        stats.api_writes += 1
        _applied(item.row, item.result, ops, stats)
    # a SKU that reached the POS closes what validation had rejected earlier (fixed at the source)
    done = ops.ledger_statuses(keys) if keys else {}
    ops.resolve_rejections(flow, SOURCE, [sku for sku, key in zip(skus, keys, strict=True) if done.get(key) == "applied"])
    return stats.finish()


async def _push_item(row, flow: str, target: CatalogTarget, ops: OpsStore, stats: CatalogSyncStatistics,
                     prior) -> _Pending | None:
    """The row's item write; the row, when its prices are still to come."""
    key = row.idempotency_key
    stats.processed += 1
    if prior == "applied":
        stats.already_applied += 1
        return None
    if prior == "rejected":
        stats.rejected += 1  # stays rejected until an operator retries or releases it
        return None
    changes = list(row.changes)
    pos_id = row.pos_system_id if isinstance(row.pos_system_id, str) else None  # NaN after a DuckDB round trip
    desired = {**json.loads(row.desired), "system_id": pos_id}
    prices = json.loads(row.prices)
    payload = {"sku": row.sku, "action": row.action, "changes": changes, "desired": desired, "prices": prices}
    ops.mark_retrying(key, flow=flow, target=target.system, source=SOURCE, record_ref=row.sku, payload=payload)
    result: dict = {"action": row.action}
    if row.action == "create" or any(c in FIELDS for c in changes):
        try:
            result["item"] = await target.upsert_item(desired)
        except ApiError as exc:
            _record_failure(exc, key, flow, target.system, row.sku, "item", payload, ops, stats)
            return None
        if not result["item"].get("with_family"):  # covered by a sibling's family write
            stats.api_writes += 1
    if "prices" in changes:
        return _Pending(row, payload, result)
    _applied(row, result, ops, stats)
    return None


async def _set_prices(pending: list[_Pending], target: CatalogTarget, gate: asyncio.Semaphore) -> dict:
    wanted = {item.row.sku: item.payload["prices"] for item in pending}
    if not wanted:
        return {}
    bulk = getattr(target, "set_prices_many", None)
    if bulk is not None:
        return await bulk(wanted)

    async def one(sku: str, prices: dict):
        async with gate:
            try:
                return sku, await target.set_prices(sku, prices)
            except ApiError as exc:
                return sku, exc

    return dict(await asyncio.gather(*(one(sku, prices) for sku, prices in wanted.items())))


def _applied(row, result: dict, ops: OpsStore, stats: CatalogSyncStatistics) -> None:
    ops.mark_applied(row.idempotency_key, result)
    stats.applied += 1
    if row.action == "create":
        stats.created += 1
    else:
        stats.updated += 1


def _record_failure(exc: ApiError, key, flow, target_system, sku, step, payload, ops: OpsStore, stats) -> None:
    status = getattr(exc, "status", None)
    if status in SYSTEMIC_STATUSES:
        raise SystemicSyncError(f"{flow}: {target_system} refused our credentials ({status}): {exc}") from exc
    if status in RECORD_LEVEL_STATUSES:
        reason = f"{target_system} refused the {step} of SKU {sku} ({status}): {exc}"
        ops.mark_failed(key, "rejected", reason)
        ops.add_rejections(flow, [Rejection(SOURCE, "catalog", sku, step, reason, json.dumps(payload, default=str))], key=key)
        stats.rejected += 1
        return
    ops.mark_failed(key, "retrying", f"transient, will retry next run: {exc}")
    stats.failed += 1
    stats.errors.append(f"{sku}: {exc}")


def _supersede(flow: str, planned: dict[str, str], ops: OpsStore) -> None:
    for entry in ops.in_flight(flow):
        newer = planned.get(entry["record_ref"])
        if newer is not None and newer != entry["idempotency_key"]:
            ops.mark_failed(entry["idempotency_key"], "superseded", f"replaced by {newer}")
