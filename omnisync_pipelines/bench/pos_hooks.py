"""What the benchmark rigs need from a POS beyond its contracts, in two halves that share no code
(as emulators and connectors share none). The rigs run against a POS id (`--pos`, default
`systems.DEFAULT_POS`) and reach its halves here:

- `EmulatorBench`, the sandbox side: `systems.sandbox_plugin(pos).bench()`, implemented in
  `sandbox/emulators/<id>/bench_hooks.py`. What the rigs do to the emulated POS behind or through
  its API: seed an account at scale straight into its store, make the retailer's edits, subscribe
  and deliver webhooks, read its request budget.
- `ConnectorBench`, the connector side: `SUPPORT` in `connectors/<id>/bench_support.py`, the module
  beside the POS's connector plugin (found from the registry's plugin). What only the connector's
  side knows: the naive full pushes the API-economy baselines send through the connector's client,
  the request cost of a full stock read (for the initial sync's extrapolation), and the words that
  say what bounds each figure.

The connector itself is built through the POS contract (`PosPlugin.build_connector`, or
`connectors.registry` from a configuration); its settings and secrets come from the sandbox plugin's
`system_block` and `environment`. A POS without one of the halves gets the benchmarks that need it
reported as gaps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from omnisync_pipelines import systems
from omnisync_pipelines.bench.runner import Gap

if TYPE_CHECKING:
    import httpx
    import pandas as pd


@dataclass(frozen=True)
class Budget:
    """An emulator's request budget as it stands: `limit` per `window_s`, `used` so far, counted in
    `unit`: "requests" (a window's requests), or "units" (a leaky bucket's: the units it was charged
    since the rig's clock started, `limit` its size, `window_s` the time it takes to drain)."""

    limit: float
    window_s: float
    used: float
    unit: str = "requests"
    throttled: int | None = None  # requests the emulator refused past the budget (429), where it counts them


class EmulatorBench(Protocol):
    """Sandbox side (`SandboxPos.bench()`); never imports a connector."""

    resource_at: int  # which segment of a request path names the resource (`/api/2.0/products`: 2)

    def seed_stock(self, emulator, skus: list[str], locations: list[str], level: Callable[[int, int], int]) -> dict[str, str]:
        """The retailer's existing account, written straight into the emulator's store (its API's
        one-at-a-time writes would make seeding, not the read, the slow part): every SKU at every
        location counts `level(sku index, location index)`, one till per location. Returns the POS's
        location id -> location key."""

    def budget(self, emulator) -> Budget | None:
        """The request budget the emulator enforces on the connector's credentials (None: none)."""

    def move_counts(self, emulator, moves: list[tuple[str, str, int]]) -> None:
        """Staff move these counts ((SKU, location key, units) of an account `seed_stock` seeded), straight
        in the emulator's store, as the back office's adjustments would."""

    async def change_loyalty(self, http: httpx.AsyncClient, emulator, email: str, code: str) -> None:
        """At the till: the customer with `email` gets loyalty id `code` (through the POS's API)."""

    async def subscribe(self, http: httpx.AsyncClient, emulator, url: str, secret: str) -> None:
        """Subscribe the receiver at `url` to the events that move stock, authenticated with `secret`
        as the POS's webhooks are (`PosPlugin.webhooks`)."""

    async def deliver_webhooks(self, emulator, http: httpx.AsyncClient) -> int:
        """Send the queued deliveries through `http`; returns how many the receiver accepted."""

    # optional: `use_clock(emulator, clock: pacing.RigClock)`, for a budget that drains over time: the
    # emulator's budget, timestamps and tokens run on the rig's clock from then on (after seeding)


@dataclass(frozen=True)
class ReadCost:
    """What a full stock read of `skus` × `locations` costs the POS's connector in requests, and the
    least time the POS's request budget makes it wait, per kind of account (`floors_s`, worst first,
    e.g. {"one_register": ..., "one_register_per_store": ...})."""

    requests: int
    floors_s: dict[str, float]
    figures: dict = field(default_factory=dict)  # reported beside (page size, budgets, ...)
    model: str = ""  # the formula, in words


class ConnectorBench(Protocol):
    """Connector side (`connectors/<id>/bench_support.py`: `SUPPORT`).

    `notes` (what bounds a figure, what a naive push does; shown in the results):
    "stock_read" (initial sync), "live_read" (latency), "catalog_naive", "catalog_bounds",
    "customers_naive" (the naive push to the POS), "customers_bounds" (the delta run's writes to the POS).
    """

    notes: Mapping[str, str]

    def read_cost(self, skus: int, locations: int) -> ReadCost: ...

    async def naive_catalog_push(self, connector, desired: pd.DataFrame, base_prices: dict[str, int], currency: str) -> None:
        """Every SKU of `desired` (commercetools' catalog snapshot: sku, name, barcode) written to the
        POS as one product update each, at its base price (`base_prices`: minor units), after reading
        what addressing them needs in the largest pages the API allows."""

    async def naive_read_customers(self, connector) -> list[dict]:
        """Every POS customer in the largest pages the API allows: {"id", "email", "loyalty_id"}."""

    async def naive_write_customers(self, connector, updates: list[tuple[str, dict]]) -> None:
        """One write per (POS customer id, {"email", "first_name", "last_name"})."""

    # optional: `use_clock(connector, clock: pacing.RigClock)`: the connector's scheduler and retry
    # sleeps wait on the rig's clock (see bench/pacing.py); given with the emulator's `use_clock`


def use_clock(half, target, clock) -> bool:
    """Put `target` (an emulator or a connector) on the rig's `clock` through `half` (its bench hooks),
    where the POS has a budget that drains over time; False where it has none."""
    put = getattr(half, "use_clock", None)
    if put is None:
        return False
    put(target, clock)
    return True


class NoBenchHooks(Gap):
    """The POS lacks a half the benchmark needs (the runner reports it as a gap)."""


def emulator_bench(pos: str) -> EmulatorBench:
    sandbox = systems.sandbox_plugin(pos)
    try:
        hooks = sandbox.bench() if sandbox is not None else None
    except NotImplementedError:
        hooks = None
    if hooks is None:
        raise NoBenchHooks(f"{pos}: no emulator benchmark hooks (SandboxPos.bench)")
    return hooks


def connector_bench(pos: str) -> ConnectorBench:
    support = systems.pos_plugin(pos).bench_support()
    if support is None:
        raise NoBenchHooks(f"{pos}: no connector benchmark support (PosPlugin.bench_support)")
    return support


def pos_base_url(pos: str) -> str:
    """Where a rig's in-process POS emulator answers (any host: the transport goes straight to its app)."""
    return f"http://{pos.replace('_', '-')}.bench"


def sandbox_system(pos: str, base_url: str, emulator) -> tuple[dict, dict]:
    """(the POS's `systems.<id>` block, its secrets) for a connector on `emulator` at `base_url`, as a
    deployment on the served emulator would have them (the sandbox plugin's block and environment)."""
    sandbox = systems.sandbox_plugin(pos)
    environment = sandbox.environment(base_url, emulator)
    return sandbox.system_block(base_url, emulator), systems.pos_plugin(pos).secrets_from_env(environment)
