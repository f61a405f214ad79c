"""Freshness: the stock push of every POS has run within N minutes.

N comes from `OMNISYNC_STOCK_FRESHNESS_MINUTES` (read when the code location loads; default 30, six
ticks of `delta_sync_every_5_minutes`: a failed run and its retries do not trip it, a stopped
schedule or a flow failing run after run does). The asset warns at half of N.

A Dagster `FreshnessPolicy` on each `push/stock_<pos>_to_commercetools` asset, which the Dagster
daemon's freshness evaluation judges every 30 s from the asset's last materialization of any store
(PASS, WARN, FAIL; UNKNOWN before the first push). No sensor and no extra step in the sync runs: the
asset-check builders for this (`build_last_update_freshness_checks` and its sensor) are superseded in
Dagster 1.13 and warn on every load. The fast lane's writes do not materialize the push, so this
watches the Dagster backstop, not the lane.
"""

import os
from collections.abc import Callable
from datetime import timedelta

import dagster as dg

from omnisync_pipelines.defs.specs import configured_pos
from omnisync_pipelines.engine.stock_plan import stock_flow

ENV = "OMNISYNC_STOCK_FRESHNESS_MINUTES"
DEFAULT_MINUTES = 30


def stock_freshness_minutes() -> int:
    raw = os.environ.get(ENV, "").strip() or str(DEFAULT_MINUTES)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{ENV}={raw!r} is not a whole number of minutes (1 or more)")
    return int(raw)


def stock_freshness_policy() -> dg.FreshnessPolicy:
    minutes = stock_freshness_minutes()
    return dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=minutes),
                                          warn_window=timedelta(minutes=minutes / 2))


def stock_push_keys() -> set[dg.AssetKey]:
    return {dg.AssetKey(["push", stock_flow(pos)]) for pos in configured_pos()}


def with_stock_freshness() -> Callable[[dg.AssetSpec], dg.AssetSpec]:
    """A spec mapping that puts the freshness policy on every stock push and leaves the rest as they are."""
    policy, keys = stock_freshness_policy(), stock_push_keys()
    return lambda spec: dg.apply_freshness_policy(spec, policy) if spec.key in keys else spec
