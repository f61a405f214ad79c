"""`LightspeedXConnector`: reads every entity into canonical records, by version cursor.

`since` is the X-Series version (`version.max` of the last page read); ReadResult.cursor is the
new one. Records that cannot be mapped become Rejections naming the field; the rest proceed.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from omnisync_pipelines.canonical.models import Rejection
from omnisync_pipelines.connectors.base import ReadResult, UnknownEntity
from omnisync_pipelines.connectors.lightspeed_x import mapping
from omnisync_pipelines.connectors.lightspeed_x.client import LightspeedXClient
from omnisync_pipelines.connectors.lightspeed_x.mapping import MappingError
from omnisync_pipelines.connectors.lightspeed_x.settings import SYSTEM
from omnisync_pipelines.rest.redact import redact_body


class LightspeedXConnector:
    system = SYSTEM

    def __init__(self, client: LightspeedXClient, location_map: dict[str, str], tender_map: dict[str, str] | None = None):
        """`location_map`: outlet id -> location key; `tender_map`: payment type name (lower case) -> method."""
        self.client = client
        self.location_map = dict(location_map)
        self.tender_map = tender_map
        self._products: list[dict] | None = None
        self._outlets: list[dict] | None = None

    async def products(self) -> list[dict]:
        if self._products is None:
            self._products, _ = await self.client.all("products")
        return self._products

    async def sku_of(self) -> dict[str, str]:
        return {p["id"]: p["sku"].strip() for p in await self.products() if (p.get("sku") or "").strip()}

    async def outlets(self) -> list[dict]:
        if self._outlets is None:
            self._outlets, _ = await self.client.all("outlets")
        return self._outlets

    async def currency_of(self) -> dict[str, str]:
        return {o["id"]: o.get("currency") or "EUR" for o in await self.outlets()}

    async def read(self, entity: str, *, since: str | None = None) -> ReadResult:
        readers: dict[str, Callable] = {
            "locations": self._locations, "catalog": self._catalog, "prices": self._prices, "stock": self._stock,
            "stock_movements": self._movements, "orders": self._orders, "returns": self._returns,
            "customers": self._customers,
        }
        if entity not in readers:
            raise UnknownEntity(SYSTEM, entity)
        return await readers[entity](int(since) if since else 0)

    # entities ---------------------------------------------------------------------------------------
    async def _locations(self, after: int) -> ReadResult:
        rows, version = await self.client.all("outlets", after=after)
        return self._result({"locations": [mapping.location(r, self.location_map) for r in rows]}, [], version, after, len(rows))

    async def _catalog(self, after: int) -> ReadResult:
        rows, version = await self.client.all("products", after=after)
        items, rejected = self._map(rows, "catalog", mapping.catalog_item)
        return self._result({"catalog": items}, rejected, version, after, len(rows))

    async def _prices(self, after: int) -> ReadResult:
        rows, version = await self.client.all("products", after=after)
        currencies = sorted({c for o, c in (await self.currency_of()).items() if o in self.location_map}) or ["EUR"]
        prices, rejected = [], []
        for currency in currencies:
            mapped, bad = self._map(rows, "prices", lambda r, c=currency: mapping.price(r, c))
            prices += mapped
            rejected += bad
        return self._result({"prices": prices}, rejected, version, after, len(rows))

    async def _stock(self, after: int) -> ReadResult:
        rows, version = await self.client.all("inventory", after=after)
        sku_of = await self.sku_of()
        levels, rejected = self._map(rows, "stock", lambda r: mapping.stock_level(r, sku_of, self.location_map))
        return self._result({"stock": levels}, rejected, version, after, len(rows))

    async def _movements(self, after: int) -> ReadResult:
        sku_of = await self.sku_of()
        sales, sales_version = await self.client.all("sales", after=after)
        consignments, cons_version = await self.client.all("consignments", after=after)
        moved = [m for s in sales for m in mapping.sale_movements(s, sku_of, self.location_map)]
        for consignment in consignments:
            lines = await self.client.consignment_products(consignment["id"])
            moved += mapping.consignment_movements(consignment, lines, sku_of, self.location_map)
        unique = {m.movement_id: m for m in moved}
        version = max([v for v in (sales_version, cons_version) if v] or [after]) or None
        return self._result({"stock_movements": list(unique.values())}, [], version, after, len(sales) + len(consignments))

    async def _orders(self, after: int) -> ReadResult:
        rows, version = await self.client.all("sales", after=after)
        sku_of, currency_of = await self.sku_of(), await self.currency_of()
        emails = {c["id"]: c["email"] for c in (await self.client.all("customers"))[0] if c.get("email")}
        tables: dict[str, list] = {"orders": [], "order_lines": [], "order_payments": []}
        rejected = []
        for raw in rows:
            if mapping.is_return(raw) or raw.get("status") not in mapping.COMPLETED:
                continue
            try:
                order, lines, payments = mapping.sale(raw, sku_of=sku_of, location_map=self.location_map,
                                                      currency=currency_of.get(raw.get("outlet_id"), "EUR"),
                                                      tender_map=self.tender_map, email_of=emails)
            except MappingError as exc:
                rejected.append(self._rejection("orders", raw, exc))
                continue
            tables["orders"].append(order)
            tables["order_lines"] += lines
            tables["order_payments"] += payments
        return self._result(tables, rejected, version, after, len(rows))

    async def _returns(self, after: int) -> ReadResult:
        rows, version = await self.client.all("sales", after=after)
        sku_of, currency_of = await self.sku_of(), await self.currency_of()
        tables: dict[str, list] = {"returns": [], "return_lines": []}
        rejected = []
        for raw in rows:
            if not mapping.is_return(raw) or raw.get("status") not in mapping.COMPLETED:
                continue
            try:
                ret, lines = mapping.sale_return(raw, sku_of=sku_of, location_map=self.location_map,
                                                 currency=currency_of.get(raw.get("outlet_id"), "EUR"))
            except MappingError as exc:
                rejected.append(self._rejection("returns", raw, exc))
                continue
            tables["returns"].append(ret)
            tables["return_lines"] += lines
        return self._result(tables, rejected, version, after, len(rows))

    async def _customers(self, after: int) -> ReadResult:
        rows, version = await self.client.all("customers", after=after)
        customers, rejected = self._map(rows, "customers", mapping.customer)
        return self._result({"customers": customers}, rejected, version, after, len(rows))

    # helpers ----------------------------------------------------------------------------------------
    def _map(self, rows: list[dict], entity: str, fn) -> tuple[list, list[Rejection]]:
        mapped, rejected = [], []
        for raw in rows:
            try:
                mapped.append(fn(raw))
            except MappingError as exc:
                rejected.append(self._rejection(entity, raw, exc))
        return mapped, rejected

    @staticmethod
    def _rejection(entity: str, raw: dict, exc: MappingError) -> Rejection:
        return Rejection(SYSTEM, entity, str(raw.get("id")), exc.field, exc.reason,
                         redact_body(raw, 4000) or json.dumps({"id": raw.get("id")}))

    @staticmethod
    def _result(tables, rejected, version, after, raw_count) -> ReadResult:
        cursor = str(version) if version else (str(after) if after else None)
        return ReadResult(tables=tables, rejected=rejected, cursor=cursor, raw_count=raw_count)

    async def aclose(self) -> None:
        await self.client.aclose()
