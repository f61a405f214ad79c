"""Puts a world and its trading days into the emulators through their public APIs, as the
retailer's tills, back office and storefront would (plain httpx: independent of the connectors).

commercetools gets the catalog, channels, stores and web customers; each store trades on one POS
(`store_pos`), whose sandbox plugin (`systems.sandbox_plugin`) seeds its side and plays its tills.
`pos_sides` maps each POS to the (client, emulator) its plugin talks to.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import httpx

from omnisync_pipelines import systems
from omnisync_pipelines.sandbox.loader_commercetools import CommercetoolsLoader
from omnisync_pipelines.sandbox.pos import LoadedPos
from omnisync_pipelines.sandbox.world import (
    Adjustment,
    OnlineOrder,
    Receiving,
    Sale,
    StoreReturn,
    TradingDay,
    Transfer,
    World,
)

PosSides = dict[str, tuple[httpx.AsyncClient, object]]  # pos id -> (client, emulator)


@dataclass
class LoadedWorld:
    world: World
    location_map: list[dict]  # the configuration's `locations[]`
    store_pos: dict[str, str] = field(default_factory=dict)  # store key -> the POS it trades on
    pos: dict[str, LoadedPos] = field(default_factory=dict)
    channel_ids: dict[str, str] = field(default_factory=dict)  # store key -> commercetools channel id
    ct_credentials: dict = field(default_factory=dict)

    @property
    def sale_ids(self) -> dict[str, str]:
        """World event id -> the POS's sale id, over every POS."""
        return {event: sale for loaded in self.pos.values() for event, sale in loaded.sale_ids.items()}


@dataclass
class PlayReport:
    posted: Counter
    expected_pos_stock: dict[tuple[str, str], int]

    def summary(self) -> str:
        return "played: " + ", ".join(f"{n} {kind}" for kind, n in sorted(self.posted.items()))


def assign_stores(world: World, pos_ids: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Each store to a POS in turn: store i trades on pos_ids[i % n] (no POS: none)."""
    if not pos_ids:
        return {}
    return {store.key: pos_ids[i % len(pos_ids)] for i, store in enumerate(world.stores)}


async def load_world(world: World, ct: httpx.AsyncClient | None, ct_credentials: dict, pos_sides: PosSides,
                     store_pos: dict[str, str] | None = None, installed: dict[str, str] | None = None) -> LoadedWorld:
    """Load the world into commercetools (skipped when `ct` is None) and into each POS of `pos_sides`
    for its stores (default: the stores spread over them in turn). `installed`: store key -> a second
    POS whose tills are already installed there (seeded too) before the store moves to it (`switch_store`)."""
    store_pos = store_pos if store_pos is not None else assign_stores(world, tuple(pos_sides))
    installed = installed or {}
    loaded = LoadedWorld(world, [], store_pos=store_pos, ct_credentials=ct_credentials)
    if ct is not None:
        loaded.channel_ids = await CommercetoolsLoader(ct, ct_credentials).load(world)
    for pos, (client, emulator) in pos_sides.items():
        stores = [s for s in world.stores if pos in (store_pos.get(s.key), installed.get(s.key))]
        loaded.pos[pos] = await systems.sandbox_plugin(pos).load(world, stores, client, emulator)
    for store in world.stores:
        location = {"key": store.key, "country": store.country}
        pos = store_pos.get(store.key)
        if pos is not None:
            location["pos"] = pos
        if ct is not None:
            location["commercetools"] = {"supply_channel_key": store.channel_key, "store_key": store.key}
        for at in (pos, installed.get(store.key)):
            if at in loaded.pos:
                location[at] = loaded.pos[at].location_blocks[store.key]
        loaded.location_map.append(location)
    return loaded


def switch_store(loaded: LoadedWorld, store: str, to_pos: str, emulators: dict[str, object]) -> int:
    """The store starts trading on `to_pos` (installed there by `load_world`): staff count every SKU's
    shelf into the new tills (the old POS's count is what is physically there), and the store's
    location names its new POS. `emulators`: POS id -> its emulator. Returns the units counted."""
    from_pos = loaded.store_pos[store]
    old = systems.sandbox_plugin(from_pos).probe(emulators[from_pos], loaded.pos[from_pos])
    new = systems.sandbox_plugin(to_pos).probe(emulators[to_pos], loaded.pos[to_pos])
    counted = 0
    for variant in loaded.world.variants:
        units = old.count(variant.sku, store)
        new.set_count(variant.sku, store, units)
        counted += units
    loaded.store_pos[store] = to_pos
    next(location for location in loaded.location_map if location["key"] == store)["pos"] = to_pos
    return counted


def stores_of(event) -> tuple[str, ...]:
    """The stores whose tills or back office record a till event."""
    if isinstance(event, Transfer):
        return (event.from_store, event.to_store)
    return (event.store,)


async def play_events(events: list, loaded: LoadedWorld, pos_sides: PosSides) -> None:
    """Till events, in order, each played by the POS of its store (a transfer between stores of two
    POS by both, each for its own store)."""
    for event in events:
        for pos in dict.fromkeys(loaded.store_pos[store] for store in stores_of(event)):
            client, emulator = pos_sides[pos]
            await systems.sandbox_plugin(pos).play([event], loaded.pos[pos], loaded.world, client, emulator)


async def play_day(day: TradingDay, loaded: LoadedWorld, ct: httpx.AsyncClient, pos_sides: PosSides) -> PlayReport:
    storefront = CommercetoolsLoader(ct, loaded.ct_credentials, loaded.channel_ids)
    posted: Counter = Counter()
    held: list[Sale] = []  # sales made while the store was offline, posted when it is back
    for event in day.events:
        if held and day.offline and event.at >= day.offline.end:
            await play_events(held, loaded, pos_sides)
            posted["offline_sale"] += len(held)
            held = []
        if isinstance(event, Sale) and event.posted_late:
            held.append(event)
            continue
        if isinstance(event, OnlineOrder):
            await storefront.online_order(event, loaded.world)
        else:
            await play_events([event], loaded, pos_sides)
        posted[type(event).__name__] += 1
    await play_events(held, loaded, pos_sides)
    posted["offline_sale"] += len(held)
    posted = +posted  # no zero counts in the summary
    return PlayReport(posted, expected_pos_stock(loaded.world, [day]))


def expected_pos_stock(world: World, days: list[TradingDay]) -> dict[tuple[str, str], int]:
    """What each store should hold after the days, from the events alone (not from any emulator)."""
    stock = dict(world.stock)
    for day in days:
        for event in day.events:
            if isinstance(event, Sale):
                for line in event.lines:
                    stock[(line.sku, event.store)] -= line.quantity
            elif isinstance(event, StoreReturn):
                for sku, quantity in event.lines:
                    stock[(sku, event.store)] += quantity
            elif isinstance(event, Adjustment):
                stock[(event.sku, event.store)] += event.delta
            elif isinstance(event, Transfer):
                for sku, quantity in event.lines:
                    stock[(sku, event.from_store)] -= quantity
                    stock[(sku, event.to_store)] += quantity
            elif isinstance(event, Receiving):
                for sku, quantity in event.lines:
                    stock[(sku, event.store)] += quantity
            elif isinstance(event, OnlineOrder):  # click-and-collect / ship-from-store: set aside at its store
                for line in event.lines:
                    stock[(line.sku, event.store)] -= line.quantity
    return stock
