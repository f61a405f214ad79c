"""Units into an R-Series shop's count (the contract's `PosStockWriter`). R-Series has no relative stock
write: `PUT Item/{id}` sets an ItemShop's `qoh`, and a till may sell between our read and our write.
The InventoryLog tells what happened: every qoh change is a row, ours is the first row after the log
position read before the count that names no sale, order, transfer, count or vendor return, and its
`qohChange` (target minus the count at the moment of writing) gives the units of other movements the
write overwrote. Those are put back by another round (read, write, verify), at most `ROUNDS` times.

Every round's evidence (item, shop, count and log position read, units) is handed to the caller before
its write, so a run that stops mid-write can later `settle` it from the log instead of writing twice.
"""

from __future__ import annotations

from collections.abc import Callable

from omnisync_pipelines.connectors.lightspeed_r import mapping, shapes
from omnisync_pipelines.connectors.lightspeed_r.connector import LightspeedRConnector
from omnisync_pipelines.connectors.pos import PosStockWrite, StockWriteUnsettled

ROUNDS = 3
REFERENCES = ("saleID", "orderID", "transferID", "inventoryCountID", "vendorReturnID", "transferItemID")


class UnknownCount(LookupError):
    """No item with the SKU, or no ItemShop of it at the location's shop."""


class LightspeedRStockWriter:
    def __init__(self, connector: LightspeedRConnector):
        self.connector = connector
        self.client = connector.client
        self._shop_of = {key: shop for shop, key in connector.location_map.items()}

    async def add_units(self, sku: str, location_key: str, units: int,
                        record_intent: Callable[[dict], None]) -> PosStockWrite:
        item_id, shop_id = await self._ids(sku, location_key)
        read = await self._read(item_id, shop_id, units)
        evidence = {**read, "round": 0, "restored": 0, "first_before": read["before"], "first_units": units}
        return await self._rounds(evidence, record_intent, written=False)

    async def settle(self, evidence: dict, record_intent: Callable[[dict], None]) -> PosStockWrite | None:
        written, owed = await self._outcome(evidence)
        if not written and evidence["round"] == 0:
            return None  # never made (or it changed nothing): the units are still owed, planned again
        return await self._rounds(evidence, record_intent, written=True)

    async def _rounds(self, evidence: dict, record_intent: Callable[[dict], None], *, written: bool) -> PosStockWrite:
        for _ in range(ROUNDS):
            if not written:
                record_intent(evidence)
                await self._write(evidence)
            made, owed = await self._outcome(evidence)
            if made and owed == 0:
                return PosStockWrite(evidence["first_before"], evidence["first_units"], evidence["restored"], evidence)
            units = owed if made else evidence["units"]  # put back what was overwritten, or write again
            evidence = {**await self._read(evidence["item_id"], evidence["shop_id"], units),
                        "round": evidence["round"] + 1, "restored": evidence["restored"] + (owed if made else 0),
                        "first_before": evidence["first_before"], "first_units": evidence["first_units"]}
            written = False
        raise StockWriteUnsettled(f"item {evidence['item_id']} at shop {evidence['shop_id']}: the count kept "
                                   f"changing under {ROUNDS} writes; {evidence['units']} units still to put back")

    async def _ids(self, sku: str, location_key: str) -> tuple[int, int]:
        shop = self._shop_of.get(location_key)
        found = await self.connector.items_where("customSku", [sku])
        item = next(iter(mapping.sku_index(found)), None)
        if shop is None or item is None:
            raise UnknownCount(f"{sku}@{location_key}: no R-Series {'shop' if shop is None else 'item'} for it")
        return int(item), int(shop)

    async def _read(self, item_id: int, shop_id: int, units: int) -> dict:
        """The log position first, then the count: a movement between the two is in the count we read
        and after the position, where `_outcome` does not mistake it for ours."""
        body = await self.client.call("GET", "InventoryLog", params={"itemID": item_id, "sort": "-inventoryLogID",
                                                                    "limit": 1})
        latest = shapes.rows_of(body, "InventoryLog")
        item = await self.client.one("Item", item_id, relations=["ItemShops"])
        row = next((r for r in shapes.many((item or {}).get("ItemShops"), "ItemShop")
                    if shapes.integer(r.get("shopID")) == shop_id), None)
        if row is None:
            raise UnknownCount(f"item {item_id} has no ItemShop at shop {shop_id}")
        return {"item_id": item_id, "shop_id": shop_id, "item_shop_id": shapes.integer(row.get("itemShopID")),
                "before": shapes.integer(row.get("qoh")), "units": units,
                "log_after": shapes.integer(latest[0].get("inventoryLogID")) if latest else 0}

    async def _write(self, evidence: dict) -> None:
        qoh = evidence["before"] + evidence["units"]
        await self.client.update("Item", evidence["item_id"], {
            "ItemShops": {"ItemShop": [{"itemShopID": str(evidence["item_shop_id"]), "qoh": str(qoh)}]}})

    async def _outcome(self, evidence: dict) -> tuple[bool, int]:
        """(was the write made, units of other movements it overwrote). Ours is the first unreferenced
        row after the log position; its change is the target minus the count it found."""
        rows = await self.client.rows("InventoryLog", params={
            "itemID": evidence["item_id"], "inventoryLogID": f">,{evidence['log_after']}", "sort": "inventoryLogID"})
        for row in rows:
            if shapes.integer(row.get("shopID")) != evidence["shop_id"]:
                continue
            if not any(shapes.ident(row.get(ref)) for ref in REFERENCES) and not shapes.flag(row.get("automated")):
                return True, evidence["units"] - shapes.integer(row.get("qohChange"))
        return False, 0
