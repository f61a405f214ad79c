"""Sellable stock: on hand, reserved and sellable kept apart, and what the storefront may sell.

Per SKU x location (DuckDB-free, plain frames):
- `on_hand`: units physically in the store = the POS count + units set aside for assigned pickups and
  ship-from-store orders (X-Series takes them off its count when the sale is registered);
- `reserved`: those set-aside units + units of open store-fulfilment orders not yet assigned;
- `safety_stock`: the configured buffer (SKU override, else location override, else the default);
- `sellable` = max(0, on_hand - reserved - safety_stock).
Per aggregate supply channel (configured: which stores count toward it): the sum of its stores'
sellable units, written to that channel's commercetools inventory entry as a relative change from
the entry's current quantity, keyed by (SKU, channel, target, entry version): once per change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from omnisync_pipelines.canonical.keys import idempotency_key
from omnisync_pipelines.canonical.models import Rejection
from omnisync_pipelines.engine.statistics import SyncStatistics
from omnisync_pipelines.rest.errors import ApiError
from omnisync_pipelines.store.ops import OpsStore

FLOW = "availability_to_commercetools"
SELLABLE_COLUMNS = ["sku", "location_key", "pos_on_hand", "set_aside", "pending", "on_hand", "reserved",
                    "safety_stock", "sellable", "channels"]
PLAN_COLUMNS = ["idempotency_key", "sku", "channel_key", "target", "current", "entry_version", "delta"]


@dataclass(frozen=True)
class AvailabilityRules:
    channels: dict[str, list[str]]
    safety_stock: int = 0
    safety_stock_by_location: dict[str, int] | None = None
    safety_stock_by_sku: dict[str, int] | None = None

    def buffer(self, sku: str, location_key: str) -> int:
        if sku in (self.safety_stock_by_sku or {}):
            return int(self.safety_stock_by_sku[sku])
        return int((self.safety_stock_by_location or {}).get(location_key, self.safety_stock))


def units_by_location(rows: list[tuple[str, str, int]]) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for sku, location, units in rows:
        if location:
            found[(sku, location)] = found.get((sku, location), 0) + int(units)
    return found


def sellable_stock(pos_stock: pd.DataFrame, set_aside: dict[tuple[str, str], int], pending: dict[tuple[str, str], int],
                   rules: AvailabilityRules) -> pd.DataFrame:
    """`pos_stock`: canonical stock (sku, location_key, on_hand); the two dicts: (sku, location) -> units."""
    counts = {(r.sku, r.location_key): int(r.on_hand) for r in pos_stock.itertuples()} if len(pos_stock) else {}
    member_of: dict[str, list[str]] = {}
    for channel, locations in rules.channels.items():
        for location in locations:
            member_of.setdefault(location, []).append(channel)
    rows = []
    for sku, location in sorted(set(counts) | set(set_aside) | set(pending)):
        aside, waiting = set_aside.get((sku, location), 0), pending.get((sku, location), 0)
        on_hand = counts.get((sku, location), 0) + aside
        reserved = aside + waiting
        buffer = rules.buffer(sku, location)
        rows.append({"sku": sku, "location_key": location, "pos_on_hand": counts.get((sku, location), 0),
                     "set_aside": aside, "pending": waiting, "on_hand": on_hand, "reserved": reserved,
                     "safety_stock": buffer, "sellable": max(0, on_hand - reserved - buffer),
                     "channels": ",".join(sorted(member_of.get(location, [])))})
    return pd.DataFrame(rows, columns=SELLABLE_COLUMNS)


def channel_targets(sellable: pd.DataFrame, rules: AvailabilityRules, skus: list[str]) -> dict[tuple[str, str], int]:
    """(sku, channel) -> units the storefront may sell there, for every catalog SKU (0 when none)."""
    per = {(r.sku, r.location_key): int(r.sellable) for r in sellable.itertuples()} if len(sellable) else {}
    return {(sku, channel): sum(per.get((sku, loc), 0) for loc in locations)
            for channel, locations in rules.channels.items() for sku in skus}


def plan_availability(targets: dict[tuple[str, str], int], current: dict[tuple[str, str], tuple[int, int]]) -> pd.DataFrame:
    """`current`: (sku, channel) -> (quantityOnStock, entry version) of the channel's entries now."""
    rows = []
    for (sku, channel), target in sorted(targets.items()):
        have, version = current.get((sku, channel), (None, 0))
        if have == target or (have is None and target == 0):
            continue
        rows.append({"idempotency_key": idempotency_key("omnisync", f"{sku}@{channel}", f"{target}v{version}", FLOW),
                     "sku": sku, "channel_key": channel, "target": target, "current": have, "entry_version": version,
                     "delta": target - (have or 0)})
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


async def push_availability(plan: pd.DataFrame, ct_client, channel_ids: dict[str, str], ops: OpsStore) -> SyncStatistics:
    stats = SyncStatistics(flow=FLOW)
    statuses = ops.ledger_statuses(plan["idempotency_key"]) if len(plan) else {}
    for row in plan.itertuples(index=False):
        stats.processed += 1
        key, ref = row.idempotency_key, f"{row.sku}@{row.channel_key}"
        if statuses.get(key) == "applied":
            stats.already_applied += 1
            continue
        channel_id = channel_ids.get(row.channel_key)
        if channel_id is None:
            ops.add_rejections(FLOW, [Rejection("omnisync", "availability", ref, "channel_key",
                                                f"supply channel {row.channel_key!r} does not exist in commercetools",
                                                json.dumps({"sku": row.sku, "target": int(row.target)}))])
            stats.rejected += 1
            continue
        payload = {"sku": row.sku, "channel_key": row.channel_key, "target": int(row.target), "delta": int(row.delta)}
        ops.mark_retrying(key, flow=FLOW, target="commercetools", source="omnisync", record_ref=ref, payload=payload)
        try:
            result = await ct_client.apply_stock_delta(row.sku, channel_id, int(row.delta), key)
        except ApiError as exc:
            ops.mark_failed(key, "retrying", f"transient, will retry next run: {exc}")
            stats.failed += 1
            stats.errors.append(f"{ref}: {exc}")
            continue
        ops.mark_applied(key, result.as_dict())
        stats.api_writes += 1
        stats.applied += 1
    return stats.finish()
