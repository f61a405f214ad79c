"""The sandbox's contract with each emulated POS: one `SandboxPos` per system, in
`sandbox/emulators/<id>/plugin.py`, listed beside the connector plugin in `omnisync_pipelines/systems.py`.

It shares no code with the POS's connector: it seeds and plays the world through the emulator's
public API as the retailer's back office and tills would (plain httpx), and reads the emulator's
state directly only in `PosProbe`, for tests that check what the POS ended up holding.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from omnisync_pipelines.sandbox.world import Store, World

# Canonical fulfilment statuses (the same strings as `connectors.pos`, which sandbox code may not import).
WAITING_PICKUP, WAITING_DISPATCH = "waiting_pickup", "waiting_dispatch"
PICKED_UP, DISPATCHED, CANCELLED = "picked_up", "dispatched", "cancelled"


@dataclass
class LoadedPos:
    """What loading the world into one POS left behind: the stores it holds and whatever ids its tills
    need later (kept in `ids`, the plugin's own business)."""

    system: str
    stores: list[str]
    location_blocks: dict[str, dict] = field(default_factory=dict)  # store key -> `locations[].<id>` block
    sale_ids: dict[str, str] = field(default_factory=dict)  # world event id -> the POS's sale id
    ids: dict[str, Any] = field(default_factory=dict)


class PosProbe:
    """What a test does to the POS behind the API's back (a staff member in its back office), and reads
    from its state, in retail terms: stores by key, items by SKU, customers and sales as views.

    A sale view: `id`, `store` (key), `status` (canonical for a sale that serves an online order, else
    the POS's own), `order_id` (the commercetools order it serves, or None), `receipt` (the number on
    the till receipt), `return_for` (the POS sale id a return refers to, or None).
    A product view: `id`, `sku`, `name`, `variant_name`, `barcodes`, `price` (gross, base), `family`
    (the id its variants share), `store_prices` (store key -> gross prices of its own), `revision`
    (moves on every change of the record).
    A customer view: `id`, `email`, `first_name`, `last_name`, `phone`, `external_id`, `loyalty_id`.
    """

    # stock --------------------------------------------------------------------------------------
    def count(self, sku: str, store: str) -> int:
        raise NotImplementedError

    def set_count(self, sku: str, store: str, level: int) -> None:
        raise NotImplementedError

    def adjust_count(self, sku: str, store: str, delta: int) -> None:
        """A count correction or write-off by staff (not a sale)."""
        raise NotImplementedError

    # sales --------------------------------------------------------------------------------------
    def sales(self, **match) -> list[dict]:
        """Sale views whose fields equal `match`."""
        raise NotImplementedError

    def sale(self, sale_id: str) -> dict | None:
        found = self.sales(id=sale_id)
        return found[0] if found else None

    def sale_status(self, sale: dict) -> str:
        """A sale's fulfilment status in canonical terms (connectors.pos.FULFILMENT_STATUSES)."""
        return sale["status"]

    def fulfil(self, sale_id: str, status: str) -> None:
        """Move a sale that sets an online order aside to a canonical status: the shopper collects
        (`picked_up`), staff ship it (`dispatched`), or staff void it at the till (`cancelled`)."""
        raise NotImplementedError

    # catalog and customers ----------------------------------------------------------------------
    def products(self) -> list[dict]:
        raise NotImplementedError

    def product(self, sku: str) -> dict | None:
        return next((p for p in self.products() if p["sku"] == sku), None)

    def customers(self, **match) -> list[dict]:
        """Customer views whose fields equal `match`."""
        raise NotImplementedError

    def add_customer(self, **fields) -> str:
        """A customer registered at the till (view fields); returns the POS's id."""
        raise NotImplementedError

    def edit_customer(self, customer_id: str, **fields) -> None:
        """A change to a customer at the till (view fields)."""
        raise NotImplementedError


class SandboxPos:
    system: ClassVar[str]

    def emulator(self, seed: int, secret: str | None = None) -> Any:
        """A fresh emulator: `.app` (ASGI), `.faults` (a `FaultPlan`), `.credentials(base_url)`.
        `secret`: the credential omnisync will use, when a test wants one it can look for in logs."""
        raise NotImplementedError

    async def load(self, world: World, stores: list[Store], client: httpx.AsyncClient, emulator) -> LoadedPos:
        """Seed the POS's side of the world for `stores` (its catalog, counts, tills, customers)."""
        raise NotImplementedError

    async def play(self, events: list, loaded: LoadedPos, world: World, client: httpx.AsyncClient, emulator) -> Counter:
        """Play till events (sales, returns, adjustments, transfers, receivings) of `loaded.stores`, in order.
        A transfer between stores of two POS is played by each side for its own store."""
        raise NotImplementedError

    def system_block(self, base_url: str, emulator) -> dict:
        """`systems.<id>` of the configuration file for the served emulator."""
        raise NotImplementedError

    def environment(self, base_url: str, emulator) -> dict[str, str]:
        """The environment variables holding the emulator's credentials (secrets only)."""
        raise NotImplementedError

    def probe(self, emulator, loaded: LoadedPos) -> PosProbe:
        raise NotImplementedError

    def bench(self) -> Any:
        """The benchmark rigs' hooks for this POS (seeding an emulator at scale, ...): see `bench/`."""
        raise NotImplementedError(f"{self.system}: no benchmark hooks")
