"""X-Series current counts outside a snapshot (the contract's `LiveStock`): which products a webhook
event may have moved, their counts at every mapped outlet, and one sale read again for reprocessing."""

from __future__ import annotations

import asyncio

from omnisync_pipelines.canonical.models import (
    Order,
    OrderLine,
    Payment,
    Rejection,
    StockLevel,
    normalise_email,
)
from omnisync_pipelines.connectors.lightspeed_x import sales_mapping
from omnisync_pipelines.connectors.lightspeed_x.connector import LightspeedXConnector
from omnisync_pipelines.connectors.lightspeed_x.mapping import map_inventory
from omnisync_pipelines.connectors.lightspeed_x.settings import SYSTEM
from omnisync_pipelines.rest.errors import NotFound

STOCK_EVENT_TYPES = frozenset({"sale.update", "inventory.update", "product.update"})


def product_ids_of(event_type: str, payload: dict) -> set[str]:
    """The POS products whose counts an X-Series event may have moved."""
    if event_type == "product.update":
        return {str(payload["id"])} if payload.get("id") else set()
    if event_type == "inventory.update":
        product = payload.get("product_id") or (payload.get("product") or {}).get("id")
        return {str(product)} if product else set()
    if event_type == "sale.update":
        lines = payload.get("line_items") or payload.get("register_sale_products") or []
        return {str(line["product_id"]) for line in lines if isinstance(line, dict) and line.get("product_id")}
    return set()


class LightspeedXLiveStock:
    def __init__(self, connector: LightspeedXConnector):
        self.connector = connector
        self.client = connector.client
        self._sku_of: dict[str, str | None] = {}

    def forget(self, event_type: str, payload: dict) -> None:
        if event_type == "product.update":  # a product edit may have changed its SKU
            for product_id in product_ids_of(event_type, payload):
                self._sku_of.pop(product_id, None)

    async def levels(self, item_ids: list[str]) -> tuple[list[StockLevel], list[str]]:
        location_map = self.connector.location_map

        async def one(product_id: str):
            sku = await self._sku(product_id)
            if sku is None:
                return [], [f"product {product_id}: no SKU"]
            rows = await self.client.product_inventory(product_id)
            mapped = [map_inventory(r, sku_of={product_id: sku}, location_map=location_map) for r in rows]
            return [m for m in mapped if isinstance(m, StockLevel)], [m.reason for m in mapped if not isinstance(m, StockLevel)]

        found = await asyncio.gather(*(one(p) for p in item_ids))
        return [lvl for levels, _ in found for lvl in levels], [reason for _, bad in found for reason in bad]

    async def _sku(self, product_id: str) -> str | None:
        if product_id not in self._sku_of:
            product = await self.client.get("products", product_id)
            self._sku_of[product_id] = (product.get("sku") or "").strip() or None
        return self._sku_of[product_id]

    async def items_for_skus(self, skus: set[str]) -> dict[str, str]:
        if not skus:
            return {}
        found = {}
        for product in (await self.client.products()).rows:
            sku = (product.get("sku") or "").strip()
            if sku in skus and not product.get("deleted_at"):
                found[sku] = product["id"]
        return found

    async def read_sale(self, sale_id: str) -> tuple[Order, list[OrderLine], list[Payment]] | Rejection | None:
        pos = self.connector
        try:
            raw = await self.client.get("sales", sale_id)
        except NotFound:
            return None
        if raw.get("status") not in sales_mapping.COMPLETED or sales_mapping.is_return(raw) or sales_mapping.is_own_write(raw):
            return Rejection(SYSTEM, "orders", sale_id, "status",
                             f"sale {sale_id} is not a completed store sale (status {raw.get('status')!r})", "")
        currency = (await pos.currency_of()).get(raw.get("outlet_id")) or pos.default_currency
        if currency is None:
            return Rejection(SYSTEM, "orders", sale_id, "currency", f"{sale_id}: outlet {raw.get('outlet_id')} has no currency", "")
        email_of = {}
        if raw.get("customer_id"):
            try:
                email = normalise_email((await self.client.get("customers", raw["customer_id"])).get("email"))
            except NotFound:
                email = None
            email_of = {raw["customer_id"]: email} if email else {}
        return sales_mapping.map_sale(raw, sku_of=await pos.sku_of(), location_map=pos.location_map, currency=currency,
                                      tender_map=pos.tender_map, email_of=email_of)
