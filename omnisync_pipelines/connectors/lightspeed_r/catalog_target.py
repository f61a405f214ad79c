"""R-Series side of the engine's `CatalogTarget`: desired catalog items and prices -> `Item`s.

Items. One `Item` per SKU (`customSku`); `ean` (or `upc` for a 12-digit code) is the barcode,
`description` the product name and its variant values ("Tee / M / red", values in attribute-name
order), `taxClassID` the configured tax class. Variants of one product share an `ItemMatrix`
(`itemMatrixID`): the one a sibling of this push already holds, else the account's matrix whose
description is the product name, else a new one. An inactive SKU is archived (`DELETE Item`, the
only way the docs allow; it zeroes the item's stock) and a reactivated one is un-archived with
`PUT {"archived": false}`.

Prices. `Prices.ItemPrice` per price level: a store sells at the level its `Shop.priceLevelID`
names, and the `Default` level (useTypeID 1) holds the base price: the amount of the stores on the
Default level, else the amount most stores sell at. Stores sharing a level and wanting different
amounts cannot all be served; the most common amount wins (reconciliation shows the rest).
Customer-group prices have no R-Series home here and are left out.

Economy. The plan's SKUs are read together, `customSku=IN,[...]` per 100 (searching tutorial,
query parameters), archived ones included; the shops once. A write carries everything the plan row
changes (fields and prices in one `POST`/`PUT`), so `set_prices` finds the prices in place and
writes nothing; nothing is read back after a write (the answer is the new row).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from decimal import Decimal

import pandas as pd

from omnisync_pipelines.canonical.money import currency_digits
from omnisync_pipelines.connectors.lightspeed_r.client import LightspeedRClient
from omnisync_pipelines.connectors.lightspeed_r.settings import SYSTEM
from omnisync_pipelines.connectors.lightspeed_r.shapes import decimal, flag, integer, many, text

LOOKUP_CHUNK = 100  # values an `IN` takes per field
DEFAULT_LEVEL = 1  # the `Default` price level (useTypeID 1): the base price


def major(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-currency_digits(currency))


def description(desired: dict) -> str:
    values = [str(v) for _, v in sorted((desired.get("attributes") or {}).items()) if v not in (None, "")]
    return " / ".join([desired["name"], *values])


def barcode_fields(code: str | None) -> dict:
    """`ean`/`upc` take 11-14 digits (Item fields); anything else is not written as a barcode."""
    if not code or not code.isdigit() or not 11 <= len(code) <= 14:
        return {}
    return {"upc": code} if len(code) == 12 else {"ean": code}


def item_fields(desired: dict) -> dict:
    """The Item fields the desired state sets (no prices, no matrix)."""
    fields = {"customSku": desired["sku"], "description": description(desired), **barcode_fields(desired.get("barcode"))}
    if str(desired.get("tax_category") or "").isdigit():  # catalog.tax_classes maps to TaxClass ids
        fields["taxClassID"] = int(desired["tax_category"])
    return fields


def _most_common(counts: Counter) -> tuple[str, Decimal]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


def level_amounts(prices_by_location: dict, level_of: dict[str, int]) -> dict[int, Decimal | None]:
    """Price level id -> the gross amount it should hold for these locations' prices; None: the level
    stays empty, its shops selling at the Default price. A level serves shops of one currency; the
    Default level holds the price of the shops on it, else the most common (currency, amount)."""
    wanted: dict[int, Counter] = {}
    overall: Counter = Counter()
    for location, slot in sorted(prices_by_location.items()):
        if slot.get("amount") is None:
            continue
        price = (slot["currency"], major(slot["amount"], slot["currency"]))
        overall[price] += 1
        wanted.setdefault(level_of.get(location, DEFAULT_LEVEL), Counter())[price] += 1
    if not overall:
        return {}
    default = _most_common(wanted.get(DEFAULT_LEVEL) or overall)
    chosen = {level: _most_common(counts) for level, counts in wanted.items()}
    return {DEFAULT_LEVEL: default[1], **{level: None if price == default else price[1]
                                          for level, price in chosen.items() if level != DEFAULT_LEVEL}}


def price_changes(item: dict | None, wanted: dict[int, Decimal | None]) -> list[dict]:
    """The ItemPrice entries to write: the wanted levels whose amount differs from the item's (an
    amount of 0 empties a level that should sell at the Default price)."""
    have = {integer(p.get("useTypeID")): decimal(p.get("amount")) for p in many((item or {}).get("Prices"), "ItemPrice")}
    changes = []
    for level, amount in sorted(wanted.items()):
        if amount is None:
            if have.get(level):
                changes.append({"useTypeID": level, "amount": "0"})
        elif have.get(level) != amount:
            changes.append({"useTypeID": level, "amount": str(amount)})
    return changes


def changed_fields(item: dict, fields: dict) -> dict:
    return {k: v for k, v in fields.items() if text(item.get(k)) != str(v)}


class LightspeedRCatalog:
    """`CatalogTarget` over a `LightspeedRClient`; `shop_of`: location key -> shopID."""

    system = SYSTEM

    def __init__(self, client: LightspeedRClient, shop_of: dict[str, str]):
        self.client = client
        self.shop_of = {k: str(v) for k, v in shop_of.items()}
        self.by_sku: dict[str, dict] = {}
        self.looked_up: set[str] = set()
        self.expected: dict[str, dict] = {}  # sku -> plan row: desired, prices, changes
        self.matrix_of: dict[str, int] = {}  # product key -> itemMatrixID
        self._level_of: dict[str, int] | None = None  # location key -> priceLevelID of its shop
        self._lock = asyncio.Lock()
        self._family_locks: dict[str, asyncio.Lock] = {}

    def expect(self, plan: pd.DataFrame, pos_catalog: pd.DataFrame | None = None,
               pos_prices: pd.DataFrame | None = None) -> None:
        """The plan about to be pushed: its SKUs are looked up together, its prices go with the item writes."""
        for row in plan.itertuples(index=False):
            self.expected[row.sku] = {"desired": json.loads(row.desired), "prices": json.loads(row.prices),
                                      "changes": list(row.changes)}

    # reads -------------------------------------------------------------------------------------
    async def _look_up(self, sku: str) -> dict | None:
        async with self._lock:
            if sku not in self.by_sku and sku not in self.looked_up:
                wanted = sorted({sku, *self.expected} - self.looked_up - set(self.by_sku))
                for start in range(0, len(wanted), LOOKUP_CHUNK):
                    chunk = wanted[start:start + LOOKUP_CHUNK]
                    params = {"customSku": "IN," + json.dumps(chunk), "archived": "true"}
                    for item in await self.client.rows("Item", params=params):
                        found = text(item.get("customSku")).strip()
                        if found in chunk and (found not in self.by_sku or not flag(item.get("archived"))):
                            self.by_sku[found] = item  # a live item wins over an archived one
                self.looked_up |= set(wanted)
        return self.by_sku.get(sku)

    async def level_of(self) -> dict[str, int]:
        if self._level_of is None:
            async with self._lock:
                if self._level_of is None:
                    shops = {text(s.get("shopID")): s for s in await self.client.rows("Shop")}
                    self._level_of = {loc: integer(shops[shop].get("priceLevelID")) or DEFAULT_LEVEL
                                      for loc, shop in self.shop_of.items() if shop in shops}
        return self._level_of

    async def _matrix(self, desired: dict) -> int | None:
        """The ItemMatrix of the desired item's product; None for a product without variants."""
        key = desired.get("product_key")
        if not key or not desired.get("attributes"):
            return None
        if key not in self.matrix_of:
            siblings = [self.by_sku.get(s) for s, row in self.expected.items()
                        if s != desired["sku"] and row["desired"].get("product_key") == key]
            held = [integer(i.get("itemMatrixID")) for i in siblings if i and integer(i.get("itemMatrixID"))]
            if held:
                self.matrix_of[key] = held[0]
            else:
                named = [m for m in await self.client.rows("ItemMatrix", params={"description": desired["name"]})
                         if not flag(m.get("archived"))]
                if len(named) == 1:
                    self.matrix_of[key] = integer(named[0].get("itemMatrixID"))
                else:  # `itemAttributeSetID` is required (item-matrices tutorial; its payload uses 1)
                    made = await self.client.create("ItemMatrix", {"description": desired["name"],
                                                                   "itemAttributeSetID": 1})
                    self.matrix_of[key] = integer(made.get("itemMatrixID"))
        return self.matrix_of[key]

    # items -------------------------------------------------------------------------------------
    async def upsert_item(self, desired: dict) -> dict:
        sku = desired["sku"]
        current = await self._look_up(sku)
        if current is None and desired.get("system_id"):
            current = await self.client.one("Item", desired["system_id"])
        planned = self.expected.get(sku, {})
        wanted = {}
        if "prices" in planned.get("changes", ()):
            wanted = level_amounts(planned["prices"], await self.level_of())
        async with self._family_locks.setdefault(desired.get("product_key") or sku, asyncio.Lock()):
            if current is None:
                return await self._create(desired, wanted)
            return await self._update(current, desired, wanted)

    async def _create(self, desired: dict, wanted: dict[int, Decimal]) -> dict:
        body = item_fields(desired)
        matrix = await self._matrix(desired)
        if matrix:
            body["itemMatrixID"] = matrix
        if wanted:
            body["Prices"] = {"ItemPrice": price_changes(None, wanted)}
        item = await self.client.create("Item", body)
        self._keep(desired["sku"], item)
        if not desired.get("active", True):
            self._keep(desired["sku"], await self.client.archive("Item", text(item.get("itemID"))))
        return {"status": "created", "system_id": text(item.get("itemID"))}

    async def _update(self, current: dict, desired: dict, wanted: dict[int, Decimal]) -> dict:
        item_id = text(current.get("itemID"))
        body = changed_fields(current, item_fields(desired))
        active, archived = bool(desired.get("active", True)), flag(current.get("archived"))
        if active and archived:
            body["archived"] = False  # "can only be set to false on update"
        matrix = await self._matrix(desired) if not integer(current.get("itemMatrixID")) else None
        if matrix:
            body["itemMatrixID"] = matrix
        if changes := price_changes(current, wanted):
            body["Prices"] = {"ItemPrice": changes}
        if body:
            current = await self.client.update("Item", item_id, body)
            self._keep(desired["sku"], current)
        if not active and not archived:
            self._keep(desired["sku"], await self.client.archive("Item", item_id))
        written = bool(body) or (not active and not archived)
        return {"status": "updated" if written else "unchanged", "system_id": item_id}

    def _keep(self, sku: str, item: dict) -> None:
        if item:
            self.by_sku[sku] = item
            if integer(item.get("itemMatrixID")):
                key = self.expected.get(sku, {}).get("desired", {}).get("product_key")
                if key:
                    self.matrix_of.setdefault(key, integer(item.get("itemMatrixID")))

    # prices ------------------------------------------------------------------------------------
    async def set_prices(self, sku: str, prices_by_location: dict) -> dict:
        item = await self._look_up(sku)
        if item is None:
            raise LookupError(f"{SYSTEM} has no item with customSku {sku}: its item write must come first")
        changes = price_changes(item, level_amounts(prices_by_location, await self.level_of()))
        if not changes:
            return {"status": "unchanged", "levels": 0}
        self._keep(sku, await self.client.update("Item", text(item.get("itemID")), {"Prices": {"ItemPrice": changes}}))
        return {"status": "applied", "levels": len(changes)}
