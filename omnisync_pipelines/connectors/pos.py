"""The contract a POS implements: one `PosPlugin` per system, listed in `omnisync_pipelines/systems.py`.

Everything outside a POS's own package reaches it through this class: the configuration file
(its `systems.<id>` block and its id for each location), its secrets (a Dagster resource wired
with `EnvVar`, and the same secrets for CLI paths), its connector and the engine's targets over
it, the fast lane's live stock read, reading one sale again for reprocessing, and its webhooks.
`docs/adding-a-pos.md` walks through implementing one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel

if TYPE_CHECKING:
    import dagster as dg
    import httpx

    from omnisync_pipelines.canonical.models import Order, OrderLine, Payment, Rejection, StockLevel
    from omnisync_pipelines.connectors.base import Connector
    from omnisync_pipelines.store.inbox import InboxEvent


@dataclass(frozen=True)
class Capabilities:
    """What a POS can do, which decides how the flows treat it."""

    stock_writes: Literal["relative", "absolute"]  # adjust a count by a delta, or only set it
    events: Literal["webhooks", "polling"]  # does it push changes, or must delta runs poll
    native_fulfilment_routing: bool = False  # it routes online orders to its stores itself
    returns_restock_at_register: bool = True  # a return at its till puts the units back on its count
    fast_lane: bool = False  # live stock reads on its webhook events, ahead of the next sync run


# Canonical fulfilment statuses of a store sale that serves an online order; each POS maps its own.
WAITING_PICKUP = "waiting_pickup"
WAITING_DISPATCH = "waiting_dispatch"
PICKED_UP = "picked_up"
DISPATCHED = "dispatched"
CANCELLED = "cancelled"
FULFILMENT_STATUSES = (WAITING_PICKUP, WAITING_DISPATCH, PICKED_UP, DISPATCHED, CANCELLED)


class LiveStock(Protocol):
    """Current POS counts, read outside a snapshot (fast lane, reprocessing)."""

    def forget(self, event_type: str, payload: dict) -> None:
        """Drop what is cached about the event's items (an edit may have changed a SKU)."""

    async def levels(self, item_ids: list[str]) -> tuple[list[StockLevel], list[str]]:
        """The mapped counts of these items at every mapped location, and why others could not map."""

    async def items_for_skus(self, skus: set[str]) -> dict[str, str]:
        """SKU -> POS item id, for the SKUs the POS has."""

    async def read_sale(self, sale_id: str) -> tuple[Order, list[OrderLine], list[Payment]] | Rejection | None:
        """One store sale as the orders snapshot maps it today (None: the POS no longer has it)."""


@dataclass(frozen=True)
class PosStockWrite:
    """What a write of units to a POS count did: the count read before it, the units added, the units
    of other movements (a till sale in the window) the write overwrote and put back, and what a later
    run needs to find the write again (`evidence`)."""

    before: int
    units: int
    restored: int
    evidence: dict


class StockWriteUnsettled(Exception):
    """A write of units that could not be verified (the count kept moving): it stays open and is settled
    from the POS's evidence by a later run."""


class PosStockWriter(Protocol):
    """Units into a POS count (stock from commercetools to the store), for a POS whose API may only set
    counts: read, write, verify, put back what a till changed in the window."""

    async def add_units(self, sku: str, location_key: str, units: int,
                        record_intent: Callable[[dict], None]) -> PosStockWrite:
        """Add `units` (may be negative) to the count; `record_intent(evidence)` is called after the read
        and before the write, so a run interrupted in between can ask `settle` what happened."""

    async def settle(self, evidence: dict) -> PosStockWrite | None:
        """The write `evidence` names, finished (what it overwrote put back) if it was made; None if not."""


@dataclass(frozen=True)
class WebhookSpec:
    """How a POS's webhook deliveries are read and who may send them."""

    parse: Callable[[str | None, str, bytes, Mapping[str, str]], InboxEvent]  # route type, media type, body, headers
    query_token: bool  # our secret may ride in the registered URL (`?token=`), for senders that set no headers
    # `omnisync webhooks register`: (receiver base URL, types or None, echo, env) -> exit code
    register: Callable[..., int] | None = None


class PosPlugin:
    """One POS system. Subclasses set the class attributes and implement the methods; imports of the
    connector's own modules stay inside the methods so the registry loads cheaply."""

    system: ClassVar[str]  # the id: config key, DuckDB schema, asset key prefix, Dagster resource key
    title: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    settings_model: ClassVar[type[BaseModel]]  # `systems.<id>` in the configuration file
    location_model: ClassVar[type[BaseModel]]  # `locations[].<id>`: the POS's own id of a store
    location_id_field: ClassVar[str]  # the field of `location_model` holding that id
    webhooks: ClassVar[WebhookSpec | None] = None

    # secrets ------------------------------------------------------------------------------------
    def credentials_resource(self, env: Mapping[str, str] = os.environ) -> dg.ConfigurableResource:
        """The Dagster resource (key: `system`) whose fields are `dg.EnvVar`s and whose `secrets()`
        returns what `build_connector` takes."""
        raise NotImplementedError

    def secrets_from_env(self, env: Mapping[str, str] = os.environ) -> dict:
        """The same secrets read straight from the environment (CLI paths); raises `KeyError`
        naming the variable that is missing."""
        raise NotImplementedError

    def stock_items_of_event(self, event_type: str, payload: dict) -> set[str]:
        """The POS item ids whose counts a webhook event may have moved (empty: not a stock event).
        Event runs narrow their stock plan to these; the fast lane re-reads their counts."""
        return set()

    # connector and targets ----------------------------------------------------------------------
    def build_connector(self, settings: BaseModel, location_map: dict[str, str], secrets: dict, *,
                        call_log: Callable[[dict], None] | None = None,
                        transport: httpx.AsyncBaseTransport | None = None,
                        location_blocks: Mapping[str, BaseModel] | None = None,
                        former_locations: Mapping[str, str] | None = None) -> Connector:
        """`location_map`: this POS's location id -> omnisync location key, for its locations only;
        `location_blocks`: the same ids -> their whole `locations[].<id>` block (`location_model`);
        `former_locations`: ids of the POS's stores that trade on another POS now (moved away, or new
        tills installed before a move) -> location key: their counts and movements are the other POS's
        business and are left out of reads, not rejected."""
        raise NotImplementedError

    def catalog_target(self, connector: Connector, location_map: dict[str, str]) -> Any:
        """The engine's `CatalogTarget` (catalog and prices flow to the POS)."""
        raise NotImplementedError(f"{self.system}: no catalog target")

    def customer_target(self, connector: Connector) -> Any:
        """The engine's `CustomerTarget`."""
        raise NotImplementedError(f"{self.system}: no customer target")

    def fulfilment(self, connector: Connector) -> Any:
        """The engine's `StatusPos`: live stock check, the store sale that sets an online order's
        goods aside, its canonical status (`FULFILMENT_STATUSES`), voiding it."""
        raise NotImplementedError(f"{self.system}: no fulfilment adapter")

    def live_stock(self, connector: Connector) -> LiveStock:
        raise NotImplementedError(f"{self.system}: no live stock read")

    def stock_writer(self, connector: Connector) -> PosStockWriter:
        """Units into the POS's counts (`reconciliation.correction: send_to_pos`)."""
        raise NotImplementedError(f"{self.system}: no stock writer")

    def writes_stock(self) -> bool:
        return type(self).stock_writer is not PosPlugin.stock_writer

    def request_estimate(self, connector: Connector, records: Mapping[str, int],
                         writes: Mapping[str, int] | None = None) -> str | None:
        """How long reading `records` (entity -> records) and writing `writes` (flow kind, e.g. "catalog",
        -> records) take within the API's budget, in words, for a POS whose budget makes that worth
        telling (None: nothing to tell)."""
        return None

    def bench_support(self) -> Any:
        """The benchmark rigs' connector-side hooks (`bench/pos_hooks.ConnectorBench`); None: no such
        benchmarks for this POS (they report a gap, not an error)."""
        return None
