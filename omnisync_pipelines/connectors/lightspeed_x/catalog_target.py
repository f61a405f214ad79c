"""X-Series side of the engine's `CatalogTarget`: desired catalog items and prices -> 2.1 products and
2.0 price books.

Items. A SKU the account lacks is created with the other new variants of its product (`expect`
hands over the plan, so a new family is one `POST /api/2.1/products`); a variant of a family that
exists already is added with "Add Single Variant" on the family's parent (a sellable product of
its own, the one without `variant_parent_id`). An update is one `PUT /api/2.1/products/{id}`
with the whole desired state (`common` = family fields, `details` = this variant), so sending it
again is harmless. When the plan row changes the prices too, that PUT carries the new base price
(`details.price_excluding_tax`; docs "Updating Variants": `common` and `details` go in one request),
and `set_prices` then finds it in place: a rename with a new price is one write. Variant attributes
are sent by name as the attribute id (the sandbox's accounts use the names as ids).

Prices. X-Series has one retail price per product and price books for the rest, so per SKU:
the base price is the amount most locations sell at; every location selling at another amount
gets an entry in its outlet's price book ("omnisync <location>"), and every customer-group price
one in the (outlet, group) book. An entry once written is kept and updated, never deleted, so a
delta read (which does not list deleted rows) and a full read see the same prices. Amounts are
tax inclusive in the plan; X-Series stores net prices, split with the rate of the product's tax.

Writes: a family's common fields (docs "Updating Variants": `common` updates every member of the
family, `details` only the product in the URL) travel once per family: a variant whose only change
is the family's name is covered by its sibling's `PUT`. Price book entries go as lists, one request
per book per 100 entries (`price_books.py`); the base price stays on the product (`details`), the
general price book being the product's own retail price.

Reads grow with the plan, not the catalog. A product the run's snapshots describe (`expect` with
the X-Series catalog and prices snapshots; `catalog_snapshot.py`) is not looked up: its id, handle,
tax, retail price and whether any price book holds it are known. Only the other SKUs (new ones) are
looked up with the search endpoint (one request per 100 SKUs), and a SKU whose `PUT` answers 404
(deleted since the snapshot) is searched for again, then written where it now is or created. A new
variant's family is found by its name, a product's price book entries by product (only when the
product has entries or a SKU wants a store or group price, and omnisync's outlet books exist); the
price book list only then, a tax by its id (the snapshots keep gross prices, not rates), outlets
when a create needs the default tax: each at most once per target. A plan of more than
`FULL_READ_ABOVE` rows (a first sync) reads every product and entry once instead, the cheaper way
then. Nothing is read back after a write: the target keeps what it wrote.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from decimal import Decimal

import pandas as pd

from omnisync_pipelines.connectors.lightspeed_x.catalog_snapshot import products_from_snapshot
from omnisync_pipelines.connectors.lightspeed_x.client import LightspeedXClient
from omnisync_pipelines.connectors.lightspeed_x.drafts import net_of, product_codes
from omnisync_pipelines.connectors.lightspeed_x.mapping import (
    ALL_CUSTOMERS_GROUP_ID,
    book_customer_group,
    major_units,
    round_minor,
    tax_rates,
)
from omnisync_pipelines.connectors.lightspeed_x.price_books import PriceBookSender, QueuedEntry
from omnisync_pipelines.connectors.lightspeed_x.settings import SYSTEM
from omnisync_pipelines.rest.errors import ApiError, NotFound

API = "/api/2.0"
FULL_READ_ABOVE = 200  # plan rows; past this, one full read costs fewer requests than lookups
FAMILY_FIELDS = ("name",)  # plan fields a family shares (X-Series `common`), written once per family


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


def family_key(product: dict) -> str:
    """What the members of an X-Series family share and nothing else does: the family's handle."""
    return product.get("handle") or product["id"]


def gross_minor(net: object, rate: Decimal, currency: str) -> int | None:
    return None if net is None else round_minor(Decimal(str(net)) * (1 + rate), currency)


def sku_of(product: dict) -> str:
    return (product.get("sku") or "").strip()


class LightspeedXCatalog:
    """`CatalogTarget` over a `LightspeedXClient`; `outlet_of`: location key -> outlet id."""

    system = SYSTEM

    def __init__(self, client: LightspeedXClient, outlet_of: dict[str, str]):
        self.client = client
        self.outlet_of = dict(outlet_of)
        self._lock = asyncio.Lock()  # product lookups, taxes, outlets
        self._family_locks: dict[str, asyncio.Lock] = {}
        self._book_lock = asyncio.Lock()  # price books
        self.by_sku: dict[str, dict] = {}
        self.looked_up: set[str] = set()  # SKUs searched for, found or not
        self.full = False  # every product and price book entry of the account is in memory
        self.books: dict[tuple[str | None, str | None], dict] | None = None  # (outlet id, group) -> book
        self.entries: dict[tuple[str, str], dict] = {}  # (book id, product id) -> unit-price entry
        self.entries_known: set[str] = set()  # product ids whose entries are in `entries`
        self.without_entries: set[str] = set()  # product ids no price book holds (snapshot, or created now)
        self.rates: dict[str, Decimal] = {}  # tax id -> rate, read per id when first needed
        self.outlets: dict[str, dict] | None = None
        self.family_named: dict[str, str] = {}  # family (`family_key`) -> the name this push gave it
        self.expected: dict[str, dict] = {}  # sku -> the plan row: action, desired, prices, changes

    # setup and reads ---------------------------------------------------------------------------
    def expect(self, plan: pd.DataFrame, pos_catalog: pd.DataFrame | None = None,
               pos_prices: pd.DataFrame | None = None) -> None:
        """The plan about to be pushed: its creates grouped into families, and its SKUs known from this
        run's X-Series snapshots (`pos_catalog`, `pos_prices`) or else looked up together."""
        for row in plan.itertuples(index=False):
            self.expected[row.sku] = {"action": row.action, "desired": json.loads(row.desired),
                                      "prices": json.loads(row.prices), "changes": list(row.changes)}
        if len(plan) > FULL_READ_ABOVE:
            return  # read in full at the first lookup
        for sku, product in products_from_snapshot(plan, pos_catalog, pos_prices).items():
            has_entries = product.pop("has_entries")
            self.by_sku[sku] = {**product, "from_snapshot": True}  # no `variant_parent_id`: not a family's parent
            if not has_entries:
                self.entries_known.add(product["id"])
                self.without_entries.add(product["id"])

    async def _look_up(self, sku: str) -> dict | None:
        """The account's product with this SKU; the first call looks up every SKU of the plan."""
        async with self._lock:
            if not self.full and sku not in self.by_sku and sku not in self.looked_up:
                if not self.looked_up and len(self.expected) > FULL_READ_ABOVE:
                    await self._read_everything()
                else:
                    wanted = {sku, *(s for s in self.expected if s not in self.by_sku)} - self.looked_up
                    for product in await self.client.products_by_sku(sorted(wanted)):
                        if sku_of(product) in wanted:
                            self.by_sku.setdefault(sku_of(product), product)
                    self.looked_up |= wanted
        return self.by_sku.get(sku)

    async def _live(self, sku: str, product: dict, write) -> dict:
        """`write(product)`; when the product is gone (404: deleted since it was read), the SKU is searched
        for again and written where it now is. Raises the 404 when the account no longer has the SKU."""
        try:
            await write(product)
            return product
        except NotFound:
            self.by_sku.pop(sku, None)
            found = [p for p in await self.client.products_by_sku([sku]) if sku_of(p) == sku and p["id"] != product["id"]]
            if not found:
                raise
            self.by_sku[sku] = found[0]
            await write(found[0])
            return found[0]

    async def _read_everything(self) -> None:
        for product in (await self.client.products()).rows:
            if sku_of(product):
                self.by_sku[sku_of(product)] = product
        book_ids = {b["id"] for b in (await self._price_books()).values()}
        for entry in (await self.client.price_book_products()).rows:
            if entry.get("price_book_id") in book_ids and not entry.get("min_units"):
                self.entries[(entry["price_book_id"], entry["product_id"])] = entry
        self.full = True

    async def _price_books(self) -> dict:
        if self.books is None:
            async with self._book_lock:
                if self.books is None:
                    books: dict = {}
                    for book in (await self.client.price_books()).rows:
                        if not book.get("valid_from") and not book.get("valid_to"):
                            books.setdefault((book.get("outlet_id"), book_customer_group(book)), book)
                    self.books = books
        return self.books

    async def _all_customers_group(self) -> str:
        groups = (await self.client.customer_groups()).rows
        found = next((g["id"] for g in groups if g.get("group_id") == ALL_CUSTOMERS_GROUP_ID and not g.get("deleted_at")),
                     None)
        if found is None:
            raise RuntimeError(f"{SYSTEM}: the retailer has no \"All Customers\" customer group")
        return found

    async def _entries_of(self, product: dict) -> None:
        if self.full or product["id"] in self.entries_known:
            return
        ours = set(self.outlet_of.values())  # only outlet books can hold an entry omnisync compares
        book_ids = {b["id"] for (outlet, _), b in (await self._price_books()).items() if outlet in ours}
        if book_ids:  # with no such book there is no entry to find
            for entry in await self.client.price_book_entries_of(product["id"]):
                if entry.get("price_book_id") in book_ids and not entry.get("min_units"):
                    self.entries[(entry["price_book_id"], entry["product_id"])] = entry
        self.entries_known.add(product["id"])

    async def _rate(self, tax_id: str | None) -> Decimal:
        """The tax's rate, from the tax list read once when a rate is first needed (API 2.0 has no
        `GET /taxes/{id}`; the list is a few rows); an unknown tax counts as untaxed."""
        if tax_id and tax_id not in self.rates:
            async with self._lock:
                if tax_id not in self.rates:
                    self.rates.update(tax_rates((await self.client.taxes()).rows))
                    self.rates.setdefault(tax_id, Decimal(0))
        return self.rates.get(tax_id or "", Decimal(0))

    async def _default_tax_id(self) -> str | None:
        if self.outlets is None:
            async with self._lock:
                if self.outlets is None:
                    self.outlets = {o["id"]: o for o in (await self.client.outlets()).rows}
        return next((self.outlets[o].get("default_tax_id") for o in self.outlet_of.values()
                     if o in self.outlets and self.outlets[o].get("default_tax_id")), None)

    async def _family(self, desired: dict) -> list[dict]:
        """The existing members of the desired item's family (same handle), by name when not yet known."""
        handle = desired.get("product_key")
        if not handle:
            return []
        members = [p for p in self.by_sku.values() if p.get("handle") == handle and not p.get("from_snapshot")]
        if not members and not self.full:
            for product in await self.client.product_family(desired["name"]):
                if product.get("handle") == handle and sku_of(product):
                    known = self.by_sku.setdefault(sku_of(product), product)
                    if known.pop("from_snapshot", False):
                        known.update(product)  # the live row names the family's parent
                    members.append(known)
        return members

    # items -------------------------------------------------------------------------------------
    async def upsert_item(self, desired: dict) -> dict:
        sku = desired["sku"]
        await self._look_up(sku)
        async with self._family_locks.setdefault(desired.get("product_key") or sku, asyncio.Lock()):
            current = self.by_sku.get(sku)
            if current is None:
                return await self._create(desired)
            if current.get("_created_now"):
                return {"status": "created", "system_id": current["id"]}
            planned = self.expected.get(sku, {})
            if self._named_by_sibling(planned, family_key(current), desired["name"]):
                current["name"] = desired["name"]
                return {"status": "updated", "system_id": current["id"], "with_family": True}
            base = base_amount(planned["prices"]) if "prices" in planned.get("changes", ()) else None

            async def put(product: dict) -> None:
                # an update sends only what it sets: a tax neither side names stays as the till has it
                # (API 2.0 rows may carry none); a new gross price still needs a rate, the outlets' default
                tax_id = desired.get("tax_category") or product.get("tax_id")
                common = {"name": desired["name"], **({"tax_id": tax_id} if tax_id else {})}
                rate_of = tax_id or (await self._default_tax_id() if base is not None else None)
                await self.client.update_product(product["id"], common=common,
                                                 details=self._details(desired, await self._net(base, rate_of)))

            try:
                current = await self._live(sku, current, put)
            except NotFound:
                return await self._create(desired)
            self.family_named[family_key(current)] = desired["name"]
            current.update({"name": desired["name"], "tax_id": desired.get("tax_category") or current.get("tax_id")})
            if base is not None:
                current["price_including_tax"] = float(major_units(*base))
            return {"status": "updated", "system_id": current["id"]}

    def _named_by_sibling(self, planned: dict, family: str, name: str) -> bool:
        """This push already gave the family this name, and the name is all that changed here."""
        changes = set(planned.get("changes", ()))
        return bool(changes) and changes <= set(FAMILY_FIELDS) and self.family_named.get(family) == name

    def _details(self, desired: dict, net: float | None = None) -> dict:
        attributes = desired.get("attributes") or {}
        # `is_active` per product in `details`, as the vendor's 2.1 Postman requests and ProductCreateBody name it
        details: dict = {"sku": desired["sku"], "product_codes": product_codes(desired.get("barcode")),
                         "variant_definitions": [{"attribute_id": name, "value": value}
                                                 for name, value in sorted(attributes.items())],
                         "is_active": bool(desired.get("active", True))}
        if net is not None:
            details["price_excluding_tax"] = net
        return details

    async def _net(self, base: tuple[int, str] | None, tax_id: str | None) -> float | None:
        return None if base is None else float(net_of(major_units(*base), await self._rate(tax_id)))

    async def _create(self, desired: dict) -> dict:
        family_key = desired.get("product_key")
        siblings = await self._family(desired)
        tax_id = (desired.get("tax_category") or (siblings[0].get("tax_id") if siblings else None)
                  or await self._default_tax_id())
        prices = self.expected.get(desired["sku"], {}).get("prices")
        if siblings:  # the family exists: add this one variant through its parent
            parent = family_parent_id(siblings)
            base = base_amount(prices or {})
            new_id = (await self.client.call(
                "POST", f"/api/2.1/products/{parent}/variants",
                json={"details": self._details(desired, await self._net(base, tax_id))}))["data"]
            self._keep(desired["sku"], new_id, family_key, tax_id, base, parent=parent)
            return {"status": "created", "system_id": new_id}
        family = [desired] + [e["desired"] for sku, e in sorted(self.expected.items())
                              if sku != desired["sku"] and family_key and e["desired"].get("product_key") == family_key
                              and sku not in self.by_sku]
        common = {"name": desired["name"], "handle": family_key or desired["sku"].lower(), "tax_id": tax_id}
        bases = [base_amount(self.expected.get(d["sku"], {}).get("prices", prices) or {}) for d in family]
        variants = [self._details(d, await self._net(base, tax_id)) for d, base in zip(family, bases, strict=True)]
        ids = await self.client.create_product(common, variants)
        for item, base, product_id in zip(family, bases, ids, strict=True):
            parent = ids[0] if len(ids) > 1 and product_id != ids[0] else None
            self._keep(item["sku"], product_id, common["handle"], tax_id, base, parent=parent,
                       created_now=item["sku"] != desired["sku"])
        return {"status": "created", "system_id": ids[0], "family": [d["sku"] for d in family]}

    def _keep(self, sku: str, product_id: str, handle: str | None, tax_id: str | None, base, *,
              parent: str | None, created_now: bool = False) -> None:
        """What the account now holds for a product just created (docs "Variants": the first of a new
        family is its parent), instead of reading it back."""
        self.by_sku[sku] = {"id": product_id, "sku": sku, "handle": handle, "tax_id": tax_id, "variant_parent_id": parent,
                            "price_including_tax": float(major_units(*base)) if base else None,
                            "_created_now": created_now}
        self.entries_known.add(product_id)  # a new product is in no price book yet
        self.without_entries.add(product_id)

    # prices ------------------------------------------------------------------------------------
    async def set_prices(self, sku: str, prices_by_location: dict) -> dict:
        outcome = (await self.set_prices_many({sku: prices_by_location}))[sku]
        if isinstance(outcome, ApiError):
            raise outcome
        return outcome

    async def set_prices_many(self, wanted: dict[str, dict]) -> dict[str, dict | ApiError]:
        """Each SKU's base price (its own `PUT`, when it differs) and price book entries (lists per
        book); per SKU its outcome, or the `ApiError` that kept its prices from landing."""
        queued: list[QueuedEntry] = []
        outcomes: dict[str, dict | ApiError] = {}

        async def prepare(sku: str, prices_by_location: dict) -> None:
            try:
                base_written, entries = await self._price_writes(sku, prices_by_location)
            except ApiError as exc:
                outcomes[sku] = exc
                return
            outcomes[sku] = {"base_written": base_written}
            queued.extend(entries)

        await asyncio.gather(*(prepare(sku, prices) for sku, prices in wanted.items()))
        sender = PriceBookSender(self.client, self.entries)
        await sender.send(queued)
        for sku, outcome in outcomes.items():
            if isinstance(outcome, ApiError):
                continue
            if sku in sender.failed:
                outcomes[sku] = sender.failed[sku]
                continue
            entries = sender.sent.get(sku, 0)
            written = entries or outcome["base_written"]
            outcomes[sku] = {"status": "applied" if written else "unchanged", "entries": entries,
                             "base_written": outcome["base_written"]}
        return outcomes

    async def _price_writes(self, sku: str, prices_by_location: dict) -> tuple[bool, list[QueuedEntry]]:
        """Writes the base price when it differs; returns whether it did, and the entries to send."""
        product = await self._look_up(sku)
        if product is None:
            raise LookupError(f"{SYSTEM} has no product with SKU {sku}: its item write must come first")
        base_written = False
        base = base_amount(prices_by_location)
        if base is not None and gross_minor(product.get("price_including_tax"), Decimal(0), base[1]) != base[0]:

            async def put(live: dict) -> None:
                net = await self._net(base, live.get("tax_id"))
                await self.client.update_product(live["id"], details={"price_excluding_tax": net})

            product = await self._live(sku, product, put)
            product["price_including_tax"] = float(major_units(*base))
            base_written = True
        if product["id"] in self.without_entries and not self._wants_book_prices(prices_by_location, base):
            return base_written, []  # nothing to write or reset in any price book
        rate = await self._rate(product.get("tax_id"))
        books = await self._price_books()
        await self._entries_of(product)
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
                book = books.get((outlet, group))
                has_entry = book is not None and (book["id"], product["id"]) in self.entries
                if group is None and base is not None and amount == base[0] and not has_entry:
                    continue  # sold at the base price: no price book needed
                wanted[(outlet, group)] = amount
                currency_of[(outlet, group)] = slot["currency"]
        entries = []
        for scope, amount in wanted.items():
            book = await self._book(scope)
            entry = self.entries.get((book["id"], product["id"]))
            if entry is not None and gross_minor(entry.get("price"), await self._rate(entry.get("tax_id")),
                                                 currency_of[scope]) == amount:
                continue
            body = {"product_id": product["id"], "tax_id": product.get("tax_id"),
                    "price": float(net_of(major_units(amount, currency_of[scope]), rate))}
            entries.append(QueuedEntry(sku, book["id"], body))
        return base_written, entries

    def _wants_book_prices(self, prices_by_location: dict, base: tuple[int, str] | None) -> bool:
        """Some store of ours sells at other than the base price, or some customer group has a price."""
        return any(slot.get("price_books") or (slot.get("amount") is not None
                                               and (slot["amount"], slot["currency"]) != base)
                   for location, slot in prices_by_location.items() if location in self.outlet_of)

    async def _book(self, scope: tuple[str | None, str | None]) -> dict:
        books = await self._price_books()
        async with self._book_lock:  # one new book per scope, however many SKUs want it at once
            if scope not in books:
                outlet, group = scope
                location = next((k for k, v in self.outlet_of.items() if v == outlet), outlet)
                # every 2.0 book names a customer group (PriceBookCreateRequest): a store's book for
                # everyone names the retailer's "All Customers" group
                body = {"name": " ".join(p for p in ("omnisync", location, group) if p), "outlet_id": outlet,
                        "customer_group_id": group or await self._all_customers_group()}
                books[scope] = (await self.client.call("POST", f"{API}/price_books", json=body))["data"]
            return books[scope]

