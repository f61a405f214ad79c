"""X-Series side of the engine's `CatalogTarget`: desired catalog items and prices -> 2.1 products and
2.0 price books.

Items. A SKU the account lacks is created with the other new variants of its product (`expect`
hands over the plan, so a new family is one `POST /api/2.1/products`); a variant of a family that
exists already is added with "Add Single Variant" on the family's parent (a sellable product of
its own, the one without `variant_parent_id`). An update is one `PUT /api/2.1/products/{id}`
with the whole desired state (`common` = family fields, `details` = this variant), so sending it
again is harmless. Variant attributes are sent by name as the attribute id (the sandbox's accounts
use the names as ids).

Prices. X-Series has one retail price per product and price books for the rest, so per SKU:
the base price is the amount most locations sell at; every location selling at another amount
gets an entry in its outlet's price book ("omnisync <location>"), and every customer-group price
one in the (outlet, group) book. An entry once written is kept and updated, never deleted, so a
delta read (which does not list deleted rows) and a full read see the same prices. Amounts are
tax inclusive in the plan; X-Series stores net prices, split with the rate of the product's tax.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from decimal import Decimal

import pandas as pd

from omnisync_pipelines.connectors.lightspeed_x.client import LightspeedXClient
from omnisync_pipelines.connectors.lightspeed_x.drafts import net_of, product_codes
from omnisync_pipelines.connectors.lightspeed_x.mapping import major_units, round_minor, tax_rates
from omnisync_pipelines.connectors.lightspeed_x.settings import SYSTEM

API = "/api/2.0"


def base_amount(prices_by_location: dict) -> tuple[int, str] | None:
    """(amount, currency) most locations sell at; ties go to the lower amount."""
    amounts = Counter((slot["amount"], slot["currency"]) for slot in prices_by_location.values()
                      if slot.get("amount") is not None)
    if not amounts:
        return None
    return sorted(amounts.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1]))[0][0]


def family_parent_id(members: list[dict]) -> str:
    """The product a family is addressed by: its parent (a sellable member without `variant_parent_id`);
    a standard product is the parent of the family it is about to become."""
    parents = {m.get("variant_parent_id") or m["id"] for m in members}
    if len(parents) != 1:
        raise LookupError(f"{SYSTEM} products {sorted(m['id'] for m in members)} share a handle but not a family")
    return parents.pop()


def gross_minor(net: object, rate: Decimal, currency: str) -> int | None:
    return None if net is None else round_minor(Decimal(str(net)) * (1 + rate), currency)


class LightspeedXCatalog:
    """`CatalogTarget` over a `LightspeedXClient`; `outlet_of`: location key -> outlet id."""

    system = SYSTEM

    def __init__(self, client: LightspeedXClient, outlet_of: dict[str, str]):
        self.client = client
        self.outlet_of = dict(outlet_of)
        self._loaded = False
        self._load_lock = asyncio.Lock()
        self._family_locks: dict[str, asyncio.Lock] = {}
        self._book_lock = asyncio.Lock()
        self.by_sku: dict[str, dict] = {}
        self.books: dict[tuple[str | None, str | None], dict] = {}  # (outlet id, customer group) -> book
        self.entries: dict[tuple[str, str], dict] = {}  # (book id, product id) -> unit-price entry
        self.rates: dict[str, Decimal] = {}
        self.default_tax_id: str | None = None
        self.expected: dict[str, dict] = {}  # sku -> {"desired", "prices"} of the plan's creates

    # setup -------------------------------------------------------------------------------------
    def expect(self, plan: pd.DataFrame) -> None:
        """The plan about to be pushed: its creates are grouped into families."""
        for row in plan.itertuples(index=False):
            if row.action == "create":
                self.expected[row.sku] = {"desired": json.loads(row.desired), "prices": json.loads(row.prices)}

    async def load(self) -> None:
        async with self._load_lock:
            if self._loaded:
                return
            products = (await self.client.products()).rows
            self.by_sku = {(p.get("sku") or "").strip(): p for p in products if (p.get("sku") or "").strip()}
            self.rates = tax_rates((await self.client.taxes()).rows)
            outlets = {o["id"]: o for o in (await self.client.outlets()).rows}
            self.default_tax_id = next((outlets[o].get("default_tax_id") for o in self.outlet_of.values()
                                        if o in outlets and outlets[o].get("default_tax_id")), None)
            for book in (await self.client.price_books()).rows:
                if not book.get("valid_from") and not book.get("valid_to"):
                    self.books.setdefault((book.get("outlet_id"), book.get("customer_group_id")), book)
            book_ids = {b["id"] for b in self.books.values()}
            for entry in (await self.client.price_book_products()).rows:
                if entry.get("price_book_id") in book_ids and not entry.get("min_units"):
                    self.entries[(entry["price_book_id"], entry["product_id"])] = entry
            self._loaded = True

    # items -------------------------------------------------------------------------------------
    async def upsert_item(self, desired: dict) -> dict:
        await self.load()
        sku = desired["sku"]
        lock = self._family_locks.setdefault(desired.get("product_key") or sku, asyncio.Lock())
        async with lock:
            current = self.by_sku.get(sku)
            if current is None:
                return await self._create(desired)
            if current.get("_created_now"):
                return {"status": "created", "system_id": current["id"]}
            tax_id = desired.get("tax_category") or current.get("tax_id")
            common = {"name": desired["name"], "active": bool(desired["active"]), "tax_id": tax_id}
            await self.client.update_product(current["id"], common=common, details=self._details(desired))
            await self._refresh(current["id"])
            return {"status": "updated", "system_id": current["id"]}

    def _details(self, desired: dict, tax_id: str | None = None, prices: dict | None = None) -> dict:
        attributes = desired.get("attributes") or {}
        details: dict = {"sku": desired["sku"], "product_codes": product_codes(desired.get("barcode")),
                         "variant_definitions": [{"attribute_id": name, "value": value}
                                                 for name, value in sorted(attributes.items())]}
        base = base_amount(prices or {})
        if base is not None:
            amount, currency = base
            details["price_excluding_tax"] = float(net_of(major_units(amount, currency), self._rate(tax_id)))
        return details

    def _rate(self, tax_id: str | None) -> Decimal:
        return self.rates.get(tax_id or "", Decimal(0))

    async def _create(self, desired: dict) -> dict:
        family_key = desired.get("product_key")
        siblings = [p for p in self.by_sku.values() if family_key and p.get("handle") == family_key]
        tax_id = desired.get("tax_category") or (siblings[0].get("tax_id") if siblings else None) or self.default_tax_id
        prices = self.expected.get(desired["sku"], {}).get("prices")
        if siblings:  # the family exists: add this one variant through its parent
            new_id = (await self.client.call(
                "POST", f"/api/2.1/products/{family_parent_id(siblings)}/variants",
                json={"details": self._details(desired, tax_id, prices)}))["data"]
            await self._refresh(new_id)
            return {"status": "created", "system_id": new_id}
        family = [desired] + [e["desired"] for sku, e in sorted(self.expected.items())
                              if sku != desired["sku"] and family_key and e["desired"].get("product_key") == family_key
                              and sku not in self.by_sku]
        common = {"name": desired["name"], "handle": family_key or desired["sku"].lower(), "active": bool(desired["active"]),
                  "tax_id": tax_id}
        variants = [self._details(d, tax_id, self.expected.get(d["sku"], {}).get("prices", prices)) for d in family]
        ids = await self.client.create_product(common, variants)
        for item, product_id in zip(family, ids, strict=True):
            await self._refresh(product_id, created_now=item["sku"] != desired["sku"])
        return {"status": "created", "system_id": ids[0], "family": [d["sku"] for d in family]}

    async def _refresh(self, product_id: str, *, created_now: bool = False) -> None:
        product = await self.client.get("products", product_id)
        self.by_sku[product["sku"]] = {**product, "_created_now": created_now}

    # prices ------------------------------------------------------------------------------------
    async def set_prices(self, sku: str, prices_by_location: dict) -> dict:
        await self.load()
        product = self.by_sku.get(sku)
        if product is None:
            raise LookupError(f"{SYSTEM} has no product with SKU {sku}: its item write must come first")
        rate = self._rate(product.get("tax_id"))
        writes = 0
        base = base_amount(prices_by_location)
        if base is not None:
            amount, currency = base
            if gross_minor(product.get("price_including_tax"), Decimal(0), currency) != amount:
                net = float(net_of(major_units(amount, currency), rate))
                await self.client.update_product(product["id"], details={"price_excluding_tax": net})
                product["price_including_tax"] = float(major_units(amount, currency))
                writes += 1
        wanted: dict[tuple[str | None, str | None], int] = {}
        currency_of: dict[tuple[str | None, str | None], str] = {}
        for location, slot in sorted(prices_by_location.items()):
            outlet = self.outlet_of.get(location)
            if outlet is None:
                continue
            scopes = [(None, slot.get("amount"))] + sorted((slot.get("price_books") or {}).items())
            for group, amount in scopes:
                if amount is None:
                    continue
                book = self.books.get((outlet, group))
                has_entry = book is not None and (book["id"], product["id"]) in self.entries
                if group is None and base is not None and amount == base[0] and not has_entry:
                    continue  # sold at the base price: no price book needed
                wanted[(outlet, group)] = amount
                currency_of[(outlet, group)] = slot["currency"]
        for scope, amount in wanted.items():
            book = await self._book(scope)
            entry = self.entries.get((book["id"], product["id"]))
            if entry is not None and gross_minor(entry.get("price"), self._rate(entry.get("tax_id")), currency_of[scope]) == amount:
                continue
            body = [{"product_id": product["id"], "tax_id": product.get("tax_id"),
                     "price": float(net_of(major_units(amount, currency_of[scope]), rate))}]
            saved = (await self.client.call("POST", f"{API}/price_books/{book['id']}/products", json=body))["data"]
            self.entries[(book["id"], product["id"])] = saved[0]
            writes += 1
        return {"status": "applied" if writes else "unchanged", "writes": writes}

    async def _book(self, scope: tuple[str | None, str | None]) -> dict:
        async with self._book_lock:
            if scope not in self.books:
                outlet, group = scope
                location = next((k for k, v in self.outlet_of.items() if v == outlet), outlet)
                body = {"name": " ".join(p for p in ("omnisync", location, group) if p), "outlet_id": outlet,
                        "customer_group_id": group}
                self.books[scope] = (await self.client.call("POST", f"{API}/price_books", json=body))["data"]
            return self.books[scope]
