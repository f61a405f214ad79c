"""R-Series current counts outside a snapshot (the contract's `LiveStock`): the counts of some items
at every mapped shop, SKU lookups, and one sale read again for reprocessing. R-Series pushes no
events, so there is nothing to forget."""

from __future__ import annotations

import json

from omnisync_pipelines.canonical.models import Order, OrderLine, Payment, Rejection, StockLevel
from omnisync_pipelines.connectors.lightspeed_r import sales_mapping, shapes
from omnisync_pipelines.connectors.lightspeed_r.connector import IN_BATCH, LightspeedRConnector
from omnisync_pipelines.connectors.lightspeed_r.mapping import map_item_shop, sku_index
from omnisync_pipelines.connectors.lightspeed_r.settings import SYSTEM


class LightspeedRLiveStock:
    def __init__(self, connector: LightspeedRConnector):
        self.connector = connector
        self.client = connector.client

    def forget(self, event_type: str, payload: dict) -> None:
        return None

    async def levels(self, item_ids: list[str]) -> tuple[list[StockLevel], list[str]]:
        """One Item query (with its ItemShops) per 100 items."""
        levels, problems = [], []
        wanted = sorted({str(i) for i in item_ids}, key=int)
        for start in range(0, len(wanted), IN_BATCH):
            batch = [int(i) for i in wanted[start:start + IN_BATCH]]
            items = await self.client.rows("Item", params={"itemID": f"IN,{json.dumps(batch)}"}, relations=["ItemShops"])
            sku_of = sku_index(items)
            for item in items:
                for row in shapes.many(item.get("ItemShops"), "ItemShop"):
                    if shapes.text(row.get("shopID")) not in self.connector.location_map:
                        continue  # the all-shops summary, or a shop this deployment does not sync
                    mapped = map_item_shop(row, sku_of=sku_of, location_map=self.connector.location_map)
                    (levels if isinstance(mapped, StockLevel) else problems).append(
                        mapped if isinstance(mapped, StockLevel) else mapped.reason)
        return levels, problems

    async def items_for_skus(self, skus: set[str]) -> dict[str, str]:
        if not skus:
            return {}
        found = await self.connector.items_where("customSku", sorted(skus))
        return {sku: item_id for item_id, sku in sku_index(found).items() if sku in skus}

    async def read_sale(self, sale_id: str) -> tuple[Order, list[OrderLine], list[Payment]] | Rejection | None:
        raw = await self.client.one("Sale", sale_id, relations=sales_mapping.SALE_RELATIONS)
        if raw is None:
            return None
        if not sales_mapping.is_store_order(raw):
            return Rejection(SYSTEM, "orders", sale_id, "completed",
                             f"sale {sale_id} is not a completed store sale (completed {raw.get('completed')!r}, "
                             f"voided {raw.get('voided')!r})", "")
        customer = shapes.ident(raw.get("customerID"))
        email_of = await self.connector.emails({customer}) if customer else {}
        items = {shapes.text(line.get("itemID")) for line in shapes.many(raw.get("SaleLines"), "SaleLine")}
        return await self.connector.map_sale(raw, await self.connector.skus_of_items(items), email_of)
