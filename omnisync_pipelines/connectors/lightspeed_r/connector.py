"""`LightspeedRConnector`: reads every entity into canonical records by polling (R-Series has no
webhooks). Delta reads follow a change column: `timeStamp` for shops, items, item shops and customers,
`updatetime` for sales (a sale's `timeStamp` is its completion time, which an offline sale posted
late has in the past), `inventoryLogID` for the inventory log. Times have second precision, so a
delta re-reads the cursor's own second and drops what it already handed over (`delta_cursor.py`). Records that cannot be mapped become Rejections naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from omnisync_pipelines.canonical.models import Rejection, normalise_email
from omnisync_pipelines.connectors.base import ReadResult, UnknownEntity, unknown_locations
from omnisync_pipelines.connectors.lightspeed_r import delta_cursor, mapping, sales_mapping, shapes
from omnisync_pipelines.connectors.lightspeed_r.client import LightspeedRClient
from omnisync_pipelines.connectors.lightspeed_r.mapping import MappingError, rejection, split
from omnisync_pipelines.connectors.lightspeed_r.request_plan import (
    RequestPlan,
    log_plan,
    plan_reads,
    plan_writes,
)
from omnisync_pipelines.connectors.lightspeed_r.settings import SYSTEM

ENTITIES = ("locations", "catalog", "prices", "stock", "stock_movements", "orders", "returns", "customers")
IN_BATCH = 100  # values an `IN` operator takes
ITEM_WRITE_NESTED = 3  # `Prices` and a base and a store price level in one Item write (0.5 units each)
EARLIEST = datetime.min.replace(tzinfo=UTC)


class LightspeedRConnector:
    system = SYSTEM

    def __init__(self, client: LightspeedRClient, location_map: dict[str, str], *,
                 currency_of_location: dict[str, str], default_currency: str | None = None,
                 tender_map: dict[str, str] | None = None, online_payment_type: str | None = None,
                 registers: int = 1, counted_elsewhere: set[str] | None = None):
        """`location_map`: shopID -> location key; `currency_of_location`: shopID -> the currency the
        shop trades in (R-Series keeps none per shop); `tender_map`: payment type name (or
        `type:<paymentTypeID>`) -> payment method; `online_payment_type`: the payment type that records
        an online order's prepayment on its store sale; `counted_elsewhere`: shops of stores that trade on
        another POS now (their counts and movements are left out; their sales still come in, or are
        rejected, never dropped)."""
        self.client = client
        self.location_map = dict(location_map)
        self.currency_of_location = dict(currency_of_location)
        self.default_currency = default_currency
        self.tender_map = tender_map
        self.online_payment_type = online_payment_type
        self.registers = registers
        self.counted_elsewhere = set(counted_elsewhere or ())
        self._items: list[dict] | None = None
        self._shops: list[dict] | None = None
        self._tax_inclusive: dict[str, bool] | None = None

    async def read(self, entity: str, *, since: str | None = None) -> ReadResult:
        readers: dict[str, Callable[[str | None], Awaitable[ReadResult]]] = {
            "locations": self._locations, "catalog": self._catalog, "prices": self._prices, "stock": self._stock,
            "stock_movements": self._movements, "orders": self._orders, "returns": self._returns,
            "customers": self._customers,
        }
        if entity not in readers:
            raise UnknownEntity(SYSTEM, entity)
        return await readers[entity](since)

    def plan(self, counts: dict[str, int], writes: dict[str, int] | None = None) -> RequestPlan:
        """What reading `counts` (entity -> records) and writing `writes` ("catalog": items) will cost,
        logged as calls, units and time. An item's write carries its prices (`ITEM_WRITE_NESTED`)."""
        planned = plan_reads(counts, self.registers)
        if (writes or {}).get("catalog"):
            planned = planned + plan_writes({("PUT", "Item"): (writes["catalog"], ITEM_WRITE_NESTED)}, self.registers)
        return log_plan(planned, "run")

    # cached reference data ----------------------------------------------------------------------
    async def items(self) -> list[dict]:
        """Every live item, read once per connector (itemID -> SKU for stock, movements and sales)."""
        if self._items is None:
            self._items = await self.client.rows("Item")
        return self._items

    async def sku_of(self) -> dict[str, str]:
        return mapping.sku_index(await self.items())

    async def skus_of_items(self, item_ids) -> dict[str, str]:
        """itemID -> SKU of these items, read by id so that a delta's cost follows its changes, not the
        catalog: the items, then every live item sharing their SKUs (a SKU two items share maps to neither)."""
        wanted = sorted({i for i in item_ids if i}, key=int)
        if not wanted or self._items is not None:
            index = await self.sku_of() if wanted else {}
            return {i: index[i] for i in wanted if i in index}
        found = await self.items_where("itemID", [int(i) for i in wanted])
        sharing = await self.items_where("customSku", sorted({s for r in found if (s := _sku_text(r))}))
        index = mapping.sku_index(list({shapes.text(r.get("itemID")): r for r in found + sharing}.values()))
        return {i: index[i] for i in wanted if i in index}

    async def items_where(self, field: str, values: list) -> list[dict]:
        """Live items whose `field` is one of `values`, one `IN` query per 100."""
        rows: list[dict] = []
        for start in range(0, len(values), IN_BATCH):
            batch = values[start:start + IN_BATCH]
            rows += await self.client.rows("Item", params={field: f"IN,{json.dumps(batch)}"})
        return rows

    async def shops(self) -> list[dict]:
        if self._shops is None:
            self._shops = await self.client.rows("Shop", params={"archived": "true"})
        return self._shops

    async def verify_locations(self) -> None:
        live = {shapes.text(s.get("shopID")) for s in await self.shops() if not shapes.flag(s.get("archived"))}
        missing = {loc: shop for shop, loc in self.location_map.items() if shop not in live}
        if missing:
            raise unknown_locations(SYSTEM, "shop_id", missing)

    def currency(self, shop_id: str) -> str | None:
        return self.currency_of_location.get(shop_id) or self.default_currency

    def currencies(self) -> list[str]:
        found = {c for shop in self.location_map if (c := self.currency(shop))}
        return sorted(found)

    async def tax_inclusive(self, tax_category_id: str) -> bool:
        if self._tax_inclusive is None:
            rows = await self.client.rows("TaxCategory")
            self._tax_inclusive = {shapes.text(r.get("taxCategoryID")): shapes.flag(r.get("isTaxInclusive"))
                                   for r in rows}
        return self._tax_inclusive.get(tax_category_id, False)

    # entities -----------------------------------------------------------------------------------
    async def _changed(self, resource: str, since: str | None, *, column: str = "timeStamp",
                       relations: list[str] | None = None, params: dict | None = None) -> tuple[list[dict], str | None]:
        """Rows changed since the cursor `since` in `column` order, each once, and the new cursor
        (`delta_cursor`: the cursor's own second is read again, without what it already handed over)."""
        moment, seen = delta_cursor.decode(since)
        query = {"sort": column, **(params or {})}
        if moment:
            query[column] = f">=,{moment}"
        rows: dict[str, dict] = {}
        id_of = _id_of(resource)
        async for page in self.client.iter_pages(resource, params=query, relations=relations):
            for row in page:
                rows[id_of(row)] = row  # a row changed while paging is seen twice: keep the last
        read = list(rows.values())
        cursor = delta_cursor.encode(read, since, lambda r: shapes.text(r.get(column)), id_of, _moment)
        return delta_cursor.unseen(read, seen, id_of), cursor

    async def _locations(self, since: str | None) -> ReadResult:
        shops = await self.shops()
        currency_of = {shapes.text(s.get("shopID")): c for s in shops if (c := self.currency(shapes.text(s.get("shopID"))))}
        return ReadResult({"locations": [mapping.map_shop(s, self.location_map, currency_of) for s in shops]},
                          [], None, len(shops))

    async def _catalog(self, since: str | None) -> ReadResult:
        rows, cursor = await self._changed("Item", since, params={"archived": "true"})
        # a delta asks only which live items share the changed items' SKUs, not for the whole catalog
        shared = mapping.duplicate_skus(await self.items_where("customSku", sorted({s for r in rows if (s := _sku_text(r))}))
                                        if since else rows)
        currency = self.default_currency or next(iter(self.currencies()), None)  # the account's: supply costs
        results = [rejection("catalog", r, MappingError("customSku", f"SKU {mapping.item_sku(r)} is shared by several items"))
                   if shapes.text(r.get("customSku")).strip() in shared and not shapes.flag(r.get("archived"))
                   else mapping.map_item(r, currency) for r in rows]
        items, rejected = split(results)
        return ReadResult({"catalog": items}, rejected, cursor, len(rows))

    async def _prices(self, since: str | None) -> ReadResult:
        rows, cursor = await self._changed("Item", since)
        # the Default level is in the account's currency; without one configured, the shops' one if they share it
        currencies = [self.default_currency] if self.default_currency else self.currencies()[:1]
        if rows and not currencies:
            bad = [rejection("prices", r, MappingError("currency", "no shop currency and no default")) for r in rows]
            return ReadResult({"prices": []}, bad, cursor, len(rows))
        shop_levels = {}
        for shop in await self.shops() if rows else []:
            shop_id = shapes.text(shop.get("shopID"))
            if shop_id in self.location_map and (currency := self.currency(shop_id)):
                shop_levels[shop_id] = (self.location_map[shop_id], shapes.integer(shop.get("priceLevelID")), currency)
        batches, rejected = split([mapping.map_item_prices(r, currencies, shop_levels) for r in rows])
        return ReadResult({"prices": [p for batch in batches for p in batch]}, rejected, cursor, len(rows))

    async def _stock(self, since: str | None) -> ReadResult:
        if since:  # Item.timeStamp ignores its ItemShops: poll the ItemShops themselves
            rows, cursor = await self._changed("ItemShop", since)
        else:  # every count, one Item page (with its ItemShops) per 100 items
            items, _ = await self._changed("Item", None, relations=["ItemShops"])
            self._items = self._items if self._items is not None else items  # every live item: the SKU index
            rows = [s for i in items for s in shapes.many(i.get("ItemShops"), "ItemShop")]
            cursor = delta_cursor.encode(rows, None, lambda r: shapes.text(r.get("timeStamp")), _id_of("ItemShop"),
                                         _moment)
        # shopID 0: the all-shops summary; a shop counted by the POS its store trades on now: not ours
        rows = [r for r in rows if shapes.ident(r.get("shopID")) and shapes.text(r.get("shopID")) not in self.counted_elsewhere]
        sku_of = await self.skus_of_items(shapes.text(r.get("itemID")) for r in rows)
        levels, rejected = split([mapping.map_item_shop(r, sku_of=sku_of, location_map=self.location_map) for r in rows])
        return ReadResult({"stock": levels}, rejected, cursor, len(rows))

    async def _movements(self, since: str | None) -> ReadResult:
        query = {"sort": "inventoryLogID", **({"inventoryLogID": f">,{int(since)}"} if since else {})}
        read = await self.client.rows("InventoryLog", params=query)
        rows = [r for r in read if shapes.text(r.get("shopID")) not in self.counted_elsewhere]
        sku_of = await self.skus_of_items(shapes.text(r.get("itemID")) for r in rows)
        moved, rejected = split([mapping.map_inventory_log(r, sku_of=sku_of, location_map=self.location_map)
                                 for r in rows])
        last = max((shapes.integer(r.get("inventoryLogID")) for r in read), default=None)
        return ReadResult({"stock_movements": moved}, rejected, str(last) if last else since, len(read))

    async def _orders(self, since: str | None) -> ReadResult:
        rows, cursor = await self._changed("Sale", since, column="updatetime", relations=sales_mapping.SALE_RELATIONS)
        wanted = [r for r in rows if sales_mapping.is_store_order(r)]
        sku_of = await self.skus_of_items(_line_items(wanted))
        email_of = await self.emails({c for r in wanted if (c := shapes.ident(r.get("customerID")))})
        tables: dict[str, list] = {"orders": [], "order_lines": [], "order_payments": []}
        rejected: list[Rejection] = []
        for raw in wanted:
            mapped = await self.map_sale(raw, sku_of, email_of)
            if isinstance(mapped, Rejection):
                rejected.append(mapped)
                continue
            tables["orders"].append(mapped[0])
            tables["order_lines"] += mapped[1]
            tables["order_payments"] += mapped[2]
        return ReadResult(tables, rejected, cursor, len(rows))

    async def map_sale(self, raw: dict, sku_of: dict[str, str], email_of: dict[str, str]):
        currency = self.currency(shapes.text(raw.get("shopID")))
        if currency is None:
            return rejection("orders", raw, MappingError("currency", f"shop {raw.get('shopID')} has no currency"))
        inclusive = await self.tax_inclusive(shapes.text(raw.get("taxCategoryID")))
        return sales_mapping.map_sale(raw, sku_of=sku_of, location_map=self.location_map, currency=currency,
                                      tender_map=self.tender_map, email_of=email_of, tax_inclusive=inclusive)

    async def emails(self, customer_ids: set[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for batch in _batches(sorted(customer_ids, key=int)):
            for row in await self.client.rows("Customer", params={"customerID": f"IN,{json.dumps(batch)}"},
                                              relations=["Contact"]):
                if email := normalise_email(mapping.primary_email(row.get("Contact"))):
                    found[shapes.text(row.get("customerID"))] = email
        return found

    async def _returns(self, since: str | None) -> ReadResult:
        rows, cursor = await self._changed("Sale", since, column="updatetime", relations=sales_mapping.RETURN_RELATIONS)
        wanted = [r for r in rows if sales_mapping.is_settled(r) and sales_mapping.is_return(r)]
        sku_of = await self.skus_of_items(_line_items(wanted))
        sale_of_line = await self.sales_of_lines({ref for r in wanted for ref in sales_mapping.original_line_ids(r)})
        results = []
        for raw in wanted:
            currency = self.currency(shapes.text(raw.get("shopID")))
            results.append(rejection("returns", raw, MappingError("currency", f"shop {raw.get('shopID')} has no currency"))
                           if currency is None else
                           sales_mapping.map_return(raw, sku_of=sku_of, location_map=self.location_map,
                                                    currency=currency, sale_of_line=sale_of_line))
        mapped, rejected = split(results)
        return ReadResult({"returns": [m[0] for m in mapped], "return_lines": [line for m in mapped for line in m[1]]},
                          rejected, cursor, len(rows))

    async def sales_of_lines(self, line_ids: set[str]) -> dict[str, str]:
        """saleLineID -> saleID of the original lines refunds point at."""
        found: dict[str, str] = {}
        for batch in _batches(sorted(line_ids, key=int)):
            for row in await self.client.rows("SaleLine", params={"saleLineID": f"IN,{json.dumps(batch)}"}):
                found[shapes.text(row.get("saleLineID"))] = shapes.text(row.get("saleID"))
        return found

    async def _customers(self, since: str | None) -> ReadResult:
        rows, cursor = await self._changed("Customer", since, relations=["Contact", "CustomFieldValues"])
        customers, rejected = split([mapping.map_customer(r) for r in rows])
        return ReadResult({"customers": customers}, rejected, cursor, len(rows))

    async def aclose(self) -> None:
        await self.client.aclose()


def _id_of(resource: str) -> Callable[[dict], str]:
    key = resource[0].lower() + resource[1:] + "ID"
    return lambda row: shapes.text(row.get(key))


def _sku_text(item: dict) -> str:
    return shapes.text(item.get("customSku")).strip()


def _line_items(sales: list[dict]) -> set[str]:
    return {shapes.text(line.get("itemID")) for sale in sales for line in shapes.many(sale.get("SaleLines"), "SaleLine")}


def _batches(ids: list[str]) -> list[list[int]]:
    return [[int(i) for i in ids[n:n + IN_BATCH]] for n in range(0, len(ids), IN_BATCH)]


def _moment(value: str) -> datetime:
    try:
        return mapping.timestamp(value) or EARLIEST
    except MappingError:
        return EARLIEST
