"""`LightspeedXConnector`: reads every entity into canonical records by version cursor.

`since` is an X-Series version (`version.max` of the last page read before); `ReadResult.cursor`
is the new one. Prices follow two feeds (products, price book entries) and keep one version per feed
(`products:<v>;price_book_products:<v>`, a plain version standing for both), so neither feed is
re-read from the other's older position. Movements (sales + consignments) keep the lower of the two
maxima. Reference data (outlets, for currencies) is read only when there are rows to map, once per
connector. Records that cannot be mapped become Rejections naming the field; the rest proceeds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from omnisync_pipelines.canonical.models import Rejection, normalise_email
from omnisync_pipelines.connectors.base import ReadResult, UnknownEntity
from omnisync_pipelines.connectors.lightspeed_x import mapping, sales_mapping
from omnisync_pipelines.connectors.lightspeed_x.client import LightspeedXClient
from omnisync_pipelines.connectors.lightspeed_x.mapping import MappingError, rejection, split
from omnisync_pipelines.connectors.lightspeed_x.settings import SYSTEM
from omnisync_pipelines.rest.errors import NotFound

PRODUCTS, BOOK_ENTRIES = "products", "price_book_products"  # the two feeds prices follow
ENTITIES = ("locations", "catalog", "prices", "stock", "stock_movements", "orders", "returns", "customers")


class LightspeedXConnector:
    system = SYSTEM

    def __init__(self, client: LightspeedXClient, location_map: dict[str, str], tender_map: dict[str, str] | None = None,
                 *, default_currency: str | None = None, price_books: bool = True,
                 online_payment_type: str | None = None, counted_elsewhere: set[str] | None = None):
        """`location_map`: outlet id -> location key; `tender_map`: payment type name (or `type:<id>`) ->
        payment method; `default_currency` for outlets that report none; `online_payment_type`: the
        payment type (name or `type:<id>`) that records an online order's prepayment on its till sale;
        `counted_elsewhere`: outlets of stores that trade on another POS now (their counts and movements
        are left out; their sales still come in, or are rejected, never dropped)."""
        self.client = client
        self.location_map = dict(location_map)
        self.counted_elsewhere = set(counted_elsewhere or ())
        self.tender_map = tender_map
        self.online_payment_type = online_payment_type
        self.default_currency = default_currency
        self.price_books = price_books
        self._products: list[dict] | None = None
        self._outlets: list[dict] | None = None

    async def read(self, entity: str, *, since: str | None = None) -> ReadResult:
        readers: dict[str, Callable[[int], Awaitable[ReadResult]]] = {
            "locations": self._locations, "catalog": self._catalog, "stock": self._stock,
            "stock_movements": self._movements, "orders": self._orders, "returns": self._returns,
            "customers": self._customers,
        }
        if entity == "prices":
            return await self._prices(feed_cursors(since))
        if entity not in readers:
            raise UnknownEntity(SYSTEM, entity)
        return await readers[entity](min(feed_cursors(since).values()))

    # cached lookups -----------------------------------------------------------------------------------
    async def products(self) -> list[dict]:
        """Every product, read once per connector instance (ids -> SKUs for stock, sales, price books)."""
        if self._products is None:
            self._products = (await self.client.products()).rows
        return self._products

    async def sku_of(self) -> dict[str, str]:
        return mapping.sku_index(await self.products())

    async def verify_locations(self) -> None:
        """Every configured outlet id is a live outlet, else `LocationMapError` naming each one."""
        from omnisync_pipelines.connectors.base import unknown_locations

        live = {o["id"] for o in await self.outlets() if not o.get("deleted_at")}
        missing = {loc: outlet for outlet, loc in self.location_map.items() if outlet not in live}
        if missing:
            raise unknown_locations("lightspeed_x", "outlet_id", missing)

    async def outlets(self) -> list[dict]:
        if self._outlets is None:
            self._outlets = (await self.client.outlets()).rows
        return self._outlets

    async def currency_of(self) -> dict[str, str]:
        return {o["id"]: o["currency"] for o in await self.outlets() if o.get("currency")}

    async def _currencies(self) -> list[str]:
        currency_of = await self.currency_of()
        found = {currency_of[o] for o in self.location_map if o in currency_of}
        return sorted(found) or ([self.default_currency] if self.default_currency else [])

    def _currency(self, currency_of: dict[str, str], raw: dict) -> str:
        currency = currency_of.get(raw.get("outlet_id")) or self.default_currency
        if currency is None:
            raise MappingError("currency", f"{raw.get('id')}: outlet {raw.get('outlet_id')} has no currency")
        return currency

    # entities -----------------------------------------------------------------------------------------
    async def _locations(self, after: int) -> ReadResult:
        rows, version = await self.client.collect("outlets", after=after)
        return _result({"locations": [mapping.map_outlet(r, self.location_map) for r in rows]}, [], after,
                       len(rows), version)

    async def _catalog(self, after: int) -> ReadResult:
        rows, version = await self.client.products(after)
        if after == 0:
            self._products = rows
        shared = mapping.duplicate_skus(rows)
        currency = next(iter(await self._currencies()), None) if rows else None
        items, rejected = split([
            rejection("catalog", r, MappingError("sku", f"SKU {r['sku'].strip()} is shared by several products"))
            if (r.get("sku") or "").strip() in shared else mapping.map_product(r, currency) for r in rows])
        return _result({"catalog": items}, rejected, after, len(rows), version)

    async def _prices(self, after: dict[str, int]) -> ReadResult:
        rows, version = await self.client.products(after[PRODUCTS])
        entries, book_version = (await self.client.price_book_products(after[BOOK_ENTRIES])) if self.price_books \
            else ([], None)
        cursor = prices_cursor({PRODUCTS: version or after[PRODUCTS], BOOK_ENTRIES: book_version or after[BOOK_ENTRIES]})
        raw_count = len(rows) + len(entries)
        if not raw_count:
            return ReadResult(tables={"prices": []}, rejected=[], cursor=cursor, raw_count=0)
        currencies = await self._currencies()
        if not currencies:
            bad = [rejection("prices", r, MappingError("currency", "no outlet currency and no default"))
                   for r in rows + entries]
            return ReadResult(tables={"prices": []}, rejected=bad, cursor=cursor, raw_count=raw_count)
        prices, rejected = split([mapping.map_product_price(r, c) for r in rows for c in currencies])
        if entries:
            book_prices, book_rejected = await self._price_book_prices(entries, currencies[0])
            prices, rejected = prices + book_prices, rejected + book_rejected
        return ReadResult(tables={"prices": prices}, rejected=rejected, cursor=cursor, raw_count=raw_count)

    async def _price_book_prices(self, entries: list[dict], currency: str):
        books = {b["id"]: b for b in (await self.client.price_books()).rows}
        rates = mapping.tax_rates((await self.client.taxes()).rows)
        sku_of, results = await self.sku_of(), []
        currency_of = await self.currency_of()  # an outlet's price book is in that outlet's currency
        for entry in entries:
            book = books.get(entry.get("price_book_id"))
            if book is None:
                results.append(rejection("prices", entry, MappingError("price_book_id", "price book unknown")))
                continue
            results.append(mapping.map_price_book_entry(
                entry, book, sku_of=sku_of, location_map=self.location_map,
                currency=currency_of.get(book.get("outlet_id") or "", currency), tax_rate_of=rates))
        return split(results)

    async def _stock(self, after: int) -> ReadResult:
        """The inventory feed first, then the product list (so every product a row names is in it).
        A first read has millions of (product, outlet) rows: each is kept only with the fields the
        mapping reads while the feed is paged, not as the whole JSON record."""
        rows, raw_count, version = [], 0, None
        async for page, page_version in self.client.iter_pages("inventory", after=after):
            raw_count += len(page)
            version = page_version if page_version is not None else version
            rows += [{name: row.get(name) for name in mapping.INVENTORY_FIELDS} for row in page
                     if row.get("outlet_id") not in self.counted_elsewhere]
        sku_of = await self.sku_of()
        levels, rejected = split([mapping.map_inventory(r, sku_of=sku_of, location_map=self.location_map) for r in rows])
        return _result({"stock": levels}, rejected, after, raw_count, int(version) if version is not None else None)

    async def _movements(self, after: int) -> ReadResult:
        sku_of = await self.sku_of()
        sales, sales_version = await self.client.sales(after)
        consignments, cons_version = await self.client.consignments_with_products(after)
        elsewhere = self.counted_elsewhere
        results = [sales_mapping.map_sale_movements(s, sku_of=sku_of, location_map=self.location_map) for s in sales
                   if s.get("outlet_id") not in elsewhere]
        results += [sales_mapping.map_consignment_movements(c, lines, sku_of=sku_of, location_map=self.location_map)
                    for c, lines in consignments
                    if not elsewhere or not {c.get("outlet_id"), c.get("source_outlet_id")} - {None} <= elsewhere]
        batches, rejected = split(results)
        unique = {m.movement_id: m for batch in batches for m in batch}
        return _result({"stock_movements": list(unique.values())}, rejected, after,
                       len(sales) + len(consignments), sales_version, cons_version)

    async def _orders(self, after: int) -> ReadResult:
        rows, version = await self.client.sales(after)
        sku_of, currency_of = await self.sku_of(), await self.currency_of()
        wanted = [r for r in rows if r.get("status") in sales_mapping.COMPLETED
                  and not sales_mapping.is_return(r) and not sales_mapping.is_own_write(r)]
        email_of = await self._emails({r["customer_id"] for r in wanted if r.get("customer_id")})
        tables: dict[str, list] = {"orders": [], "order_lines": [], "order_payments": []}
        rejected: list[Rejection] = []
        for raw in wanted:
            try:
                currency = self._currency(currency_of, raw)
            except MappingError as exc:
                rejected.append(rejection("orders", raw, exc))
                continue
            mapped = sales_mapping.map_sale(raw, sku_of=sku_of, location_map=self.location_map, currency=currency,
                                            tender_map=self.tender_map, email_of=email_of)
            if isinstance(mapped, Rejection):
                rejected.append(mapped)
                continue
            order, lines, payments = mapped
            tables["orders"].append(order)
            tables["order_lines"] += lines
            tables["order_payments"] += payments
        return _result(tables, rejected, after, len(rows), version)

    async def _emails(self, customer_ids: set[str]) -> dict[str, str]:
        async def email(customer_id: str) -> tuple[str, str | None]:
            try:
                return customer_id, (await self.client.get("customers", customer_id)).get("email")
            except NotFound:
                return customer_id, None

        found = await asyncio.gather(*(email(c) for c in sorted(customer_ids)))
        return {c: e for c, raw in found if (e := normalise_email(raw))}

    async def _returns(self, after: int) -> ReadResult:
        rows, version = await self.client.sales(after)
        sku_of, currency_of = await self.sku_of(), await self.currency_of()
        tables: dict[str, list] = {"returns": [], "return_lines": []}
        rejected: list[Rejection] = []
        for raw in rows:
            if raw.get("status") not in sales_mapping.COMPLETED or not sales_mapping.is_return(raw):
                continue
            try:
                currency = self._currency(currency_of, raw)
            except MappingError as exc:
                rejected.append(rejection("returns", raw, exc))
                continue
            mapped = sales_mapping.map_return(raw, sku_of=sku_of, location_map=self.location_map, currency=currency)
            if isinstance(mapped, Rejection):
                rejected.append(mapped)
                continue
            tables["returns"].append(mapped[0])
            tables["return_lines"] += mapped[1]
        return _result(tables, rejected, after, len(rows), version)

    async def _customers(self, after: int) -> ReadResult:
        rows, version = await self.client.customers(after)
        customers, rejected = split([mapping.map_customer(r) for r in rows])
        return _result({"customers": customers}, rejected, after, len(rows), version)

    async def aclose(self) -> None:
        await self.client.aclose()


def feed_cursors(since: str | None) -> dict[str, int]:
    """A prices cursor (`products:<v>;price_book_products:<v>`) per feed; a plain version is every feed's."""
    if not since:
        return {PRODUCTS: 0, BOOK_ENTRIES: 0}
    if ":" not in since:
        return {PRODUCTS: int(since), BOOK_ENTRIES: int(since)}
    found = dict(part.split(":", 1) for part in since.split(";"))
    return {PRODUCTS: int(found.get(PRODUCTS, 0)), BOOK_ENTRIES: int(found.get(BOOK_ENTRIES, 0))}


def prices_cursor(versions: dict[str, int]) -> str | None:
    return ";".join(f"{feed}:{v}" for feed, v in versions.items()) if any(versions.values()) else None


def _result(tables: dict, rejected: list[Rejection], after: int, raw_count: int, *versions: int | None) -> ReadResult:
    seen = [v for v in versions if v is not None]
    cursor = min(seen) if seen else (after or None)
    return ReadResult(tables=tables, rejected=rejected, cursor=str(cursor) if cursor else None, raw_count=raw_count)
