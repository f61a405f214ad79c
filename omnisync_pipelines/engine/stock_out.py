"""Stock from commercetools to a store's POS count, for stores set to `reconciliation.correction:
send_to_pos`: goods booked in at commercetools (an ERP's receipt, a back-office correction) are
movements the till must learn.

Reconciliation names the candidates (drift rows at such stores); the units are worked out again at the
write, while holding the count's claim (the one the stock push and the fast lane take): commercetools'
count now minus the baseline (the last POS count whose change reached commercetools). That is what
changed in commercetools alone; POS units still on their way there are not in it. The POS's stock
writer adds them (read, write, verify, put back what a till changed in the window) and the baseline
moves by the same units in the transaction that marks the write applied, so the stock flow does not
carry them back to commercetools. While a write is open (`retrying`), the stock push leaves its count
alone; the next reconciliation settles it from the POS's own evidence before planning anything.

Keys: `stock_out|<pos>|<sku>@<location>|<reconciliation run>`; one write per count per run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Protocol

import pandas as pd

from omnisync_pipelines.canonical.keys import idempotency_key
from omnisync_pipelines.canonical.models import Rejection
from omnisync_pipelines.connectors.pos import PosStockWrite, PosStockWriter, StockWriteUnsettled
from omnisync_pipelines.engine.statistics import SyncStatistics
from omnisync_pipelines.engine.stock_plan import stock_flow, stock_out_flow
from omnisync_pipelines.rest.errors import ApiError
from omnisync_pipelines.store.ops import OpsStore

SEND_TO_POS = "send_to_pos"
PLAN_COLUMNS = ["idempotency_key", "source_system", "sku", "location_key", "expected_units"]
RECORD_LEVEL_STATUSES = (400, 404, 422)
SYSTEMIC_STATUSES = (401, 403)


class CommercetoolsCounts(Protocol):
    async def read_stock(self, sku: str, location_key: str): ...  # -> stock_push.TargetStock | None


class StockOutStopped(Exception):
    """The POS refused our credentials: nothing further is written."""


def plan_stock_out(stock: pd.DataFrame, policy_by_location: Mapping[str, str], *, run_id: str) -> pd.DataFrame:
    """The drift rows of `reconciliation.stock` (above threshold) at stores set to `send_to_pos`."""
    rows = stock[(stock["status"] == "drift") & stock["pos_on_hand"].notna()]
    if "above_threshold" in rows:
        rows = rows[rows["above_threshold"]]
    rows = rows[rows["location_key"].isin([loc for loc, p in policy_by_location.items() if p == SEND_TO_POS])]
    return pd.DataFrame({
        "idempotency_key": [idempotency_key(pos, f"{sku}@{loc}", run_id, "stock_out")
                            for pos, sku, loc in zip(rows["pos_system"], rows["sku"], rows["location_key"], strict=True)],
        "source_system": rows["pos_system"].astype(object),
        "sku": rows["sku"].astype(object),
        "location_key": rows["location_key"].astype(object),
        "expected_units": (rows["difference"] + rows["in_flight_units"]).astype("int64"),
    }, columns=PLAN_COLUMNS).reset_index(drop=True)


async def push_stock_out(plan: pd.DataFrame, writer: PosStockWriter, commercetools: CommercetoolsCounts,
                         ops: OpsStore, *, pos_system: str) -> tuple[SyncStatistics, int]:
    """(statistics, units added to POS counts, either sign counted)."""
    stats = SyncStatistics(flow=stock_out_flow(pos_system))
    units = await settle_stock_out(writer, ops, pos_system, stats)
    statuses = ops.ledger_statuses(plan["idempotency_key"]) if len(plan) else {}
    for row in plan.itertuples(index=False):
        stats.processed += 1
        if statuses.get(row.idempotency_key) in ("applied", "rejected"):
            stats.already_applied += 1
            continue
        if row.idempotency_key not in ops.claim_stock_many(pos_system, [(row.sku, row.location_key, row.idempotency_key)]):
            stats.deferred += 1  # a stock push or the fast lane is moving this count; the next run looks again
            continue
        try:
            units += await _send(row, writer, commercetools, ops, pos_system, stats)
        finally:
            ops.release_stock_many(pos_system, [row.idempotency_key])
    return stats.finish(), units


async def settle_stock_out(writer: PosStockWriter, ops: OpsStore, pos_system: str, stats: SyncStatistics) -> int:
    """Finish, from the POS's evidence, the writes an interrupted run left open; the units they added."""
    flow, units = stock_out_flow(pos_system), 0
    for entry in ops.in_flight(flow):
        key, payload = entry["idempotency_key"], json.loads(entry["payload"])
        if "evidence" not in payload:  # stopped before the write: nothing was sent
            ops.mark_failed(key, "superseded", "interrupted before the write; planned again by the next reconciliation")
            continue
        intent = _Intent(ops, key, pos_system, payload)
        try:
            done = await writer.settle(payload["evidence"], intent)
        except (ApiError, StockWriteUnsettled) as exc:
            _failed(exc, intent, ops, pos_system, stats)
            continue
        if done is None:
            ops.mark_failed(key, "superseded", "not written before the interruption; planned again by the next reconciliation")
            continue
        _applied(key, payload, done, ops, pos_system)
        stats.recovered += 1
        units += abs(done.units)
    return units


async def _send(row, writer: PosStockWriter, commercetools: CommercetoolsCounts, ops: OpsStore, pos_system: str,
                stats: SyncStatistics) -> int:
    ref = f"{row.sku}@{row.location_key}"
    if ops.in_flight(stock_flow(pos_system), [ref]):
        stats.deferred += 1  # a POS count on its way to commercetools is not settled yet
        return 0
    baseline = ops.baseline(pos_system, row.sku, row.location_key)
    if baseline is None:
        stats.deferred += 1  # never synced: the stock flow aligns commercetools to the POS first
        return 0
    current = await commercetools.read_stock(row.sku, row.location_key)
    if current is None:
        stats.noop += 1  # no inventory entry any more: nothing to send
        return 0
    units = int(current.quantity_on_stock) - int(baseline["level"])
    if units == 0:
        stats.noop += 1  # settled meanwhile (a correction, or the drift was the POS's own units in flight)
        return 0
    payload = {"sku": row.sku, "location_key": row.location_key, "units": units,
               "commercetools_level": int(current.quantity_on_stock), "baseline_level": int(baseline["level"])}
    intent = _Intent(ops, row.idempotency_key, pos_system, payload)
    intent(None)
    try:
        done = await writer.add_units(row.sku, row.location_key, units, intent)
    except (ApiError, StockWriteUnsettled) as exc:
        _failed(exc, intent, ops, pos_system, stats)
        return 0
    except LookupError as exc:  # the POS has no such item or no count of it at the store
        if intent.evidence is None:
            _reject(intent, f"{ref}: {exc}", ops, pos_system, stats)
        else:
            _failed(exc, intent, ops, pos_system, stats)
        return 0
    _applied(row.idempotency_key, payload, done, ops, pos_system)
    stats.applied += 1
    stats.api_writes += 1
    return abs(done.units)


class _Intent:
    """Records a write's intent in the ledger, with the POS's evidence once its count has been read."""

    def __init__(self, ops: OpsStore, key: str, pos_system: str, payload: dict):
        self.ops, self.key, self.pos_system = ops, key, pos_system
        self.payload = {k: v for k, v in payload.items() if k != "evidence"}
        self.evidence: dict | None = payload.get("evidence")

    def __call__(self, evidence: dict | None) -> None:
        self.evidence = evidence or self.evidence
        body = self.payload | ({"evidence": self.evidence} if self.evidence else {})
        self.ops.mark_retrying(self.key, flow=stock_out_flow(self.pos_system), target=self.pos_system,
                               source="commercetools", record_ref=self.ref, payload=body)
        self.ops.record_evidence(self.key, body)  # an open write's intent is replaced, not kept from its first try

    @property
    def ref(self) -> str:
        return f"{self.payload['sku']}@{self.payload['location_key']}"


def _applied(key: str, payload: dict, done: PosStockWrite, ops: OpsStore, pos_system: str) -> None:
    """Applied, and the baseline moved by the units in the same transaction: they are in both systems now."""
    baseline = ops.baseline(pos_system, payload["sku"], payload["location_key"])
    level = (int(baseline["level"]) if baseline else payload["baseline_level"]) + done.units
    ops.mark_applied(key, {"before": done.before, "units": done.units, "restored": done.restored},
                     baseline={"source_system": pos_system, "sku": payload["sku"], "location_key": payload["location_key"],
                               "level": level, "version": int(baseline["version"]) if baseline else 0})


def _failed(exc: Exception, intent: _Intent, ops: OpsStore, pos_system: str, stats: SyncStatistics) -> None:
    """A refusal before any write was sent is the record's (rejected); once one may have been sent, only the
    POS's evidence can tell, so the write stays open for the next reconciliation to settle."""
    status = getattr(exc, "status", None)
    if status in SYSTEMIC_STATUSES:
        raise StockOutStopped(f"{pos_system} refused our credentials ({status}) writing {intent.ref}: {exc}") from exc
    if status in RECORD_LEVEL_STATUSES and intent.evidence is None:
        _reject(intent, f"{pos_system} refused the write of {intent.payload['units']} units to {intent.ref} "
                f"({status}): {exc}", ops, pos_system, stats)
        return
    ops.mark_failed(intent.key, "retrying", f"settled by the next reconciliation: {exc}")
    stats.failed += 1
    stats.errors.append(f"{intent.ref}: {exc}")


def _reject(intent: _Intent, reason: str, ops: OpsStore, pos_system: str, stats: SyncStatistics) -> None:
    ops.mark_failed(intent.key, "rejected", reason)
    ops.add_rejections(stock_out_flow(pos_system), [Rejection(
        "commercetools", "stock", intent.ref, "quantity", reason, json.dumps(intent.payload))], key=intent.key)
    stats.rejected += 1
