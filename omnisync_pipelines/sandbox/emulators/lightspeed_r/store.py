"""One R-Series account's rows, native Python values (xmljson prints them as strings), ids rising
per table, `timeStamp` from the emulator's clock. Stock lives in ItemShop rows (one per shop plus the
`shopID=0` all-shops summary); every qoh change appends an InventoryLog row."""

from __future__ import annotations

import random
from collections.abc import Callable

from omnisync_pipelines.sandbox.emulators.lightspeed_r.xmljson import iso

BUILTIN_PRICE_LEVELS = ("Default", "MSRP", "Online")  # priceLevelID 1..3 = useTypeID, as in the docs' samples
PK = {"Shop": "shopID", "Register": "registerID", "Employee": "employeeID", "Item": "itemID",
      "ItemShop": "itemShopID", "ItemMatrix": "itemMatrixID", "Category": "categoryID",
      "TaxCategory": "taxCategoryID", "Customer": "customerID", "Sale": "saleID", "SaleLine": "saleLineID",
      "SalePayment": "salePaymentID", "PaymentType": "paymentTypeID", "InventoryLog": "inventoryLogID",
      "PriceLevel": "priceLevelID", "ShipTo": "shipToID", "SaleVoid": "saleVoidID", "Note": "noteID",
      "InventorySale": "inventorySaleID", "CustomField": "customFieldID", "CustomFieldValue": "customFieldValueID",
      "Order": "orderID", "OrderLine": "orderLineID", "Transfer": "transferID", "TransferItem": "transferItemID",
      "InventoryCount": "inventoryCountID", "InventoryCountItem": "inventoryCountItemID",
      "InventoryCountReconcile": "inventoryCountReconcileID", "InventoryCountCalc": "inventoryCountCalcID"}
# tables whose documented field table has no `timeStamp`
UNSTAMPED = {"InventoryLog", "Register", "PaymentType", "SalePayment", "PriceLevel", "SaleVoid", "InventorySale",
             "InventoryCountReconcile"}


class Store:
    def __init__(self, clock: Callable[[], float], seed: int = 0):
        self.clock = clock
        self.rng = random.Random(seed)
        self.tables: dict[str, dict[int, dict]] = {name: {} for name in PK}
        self.contacts: dict[tuple[str, int], dict] = {}  # (owner table, id) -> Contact (native shape)
        for name in BUILTIN_PRICE_LEVELS:
            self.insert("PriceLevel", {"name": name, "archived": False, "canBeArchived": False, "type": "fixed",
                                       "Calculation": ""})

    def price_levels(self) -> dict[int, str]:
        """useTypeID -> useType: a price level's id and name."""
        return {i: r["name"] for i, r in self.tables["PriceLevel"].items()}

    def now(self) -> str:
        return iso(self.clock())

    def insert(self, table: str, row: dict) -> dict:
        pk = PK[table]
        row[pk] = max(self.tables[table], default=0) + 1
        row = {pk: row.pop(pk), **row}
        if table not in UNSTAMPED:
            row["timeStamp"] = self.now()
        self.tables[table][row[pk]] = row
        return row

    def touch(self, row: dict) -> None:
        row["timeStamp"] = self.now()

    # stock ------------------------------------------------------------------------------------
    def item_shops(self, item_id: int) -> list[dict]:
        return [r for r in self.tables["ItemShop"].values() if r["itemID"] == item_id]

    def item_shop(self, item_id: int, shop_id: int) -> dict | None:
        return next((r for r in self.item_shops(item_id) if r["shopID"] == shop_id), None)

    def ensure_item_shops(self, item_id: int) -> None:
        for shop_id in [0, *self.tables["Shop"]]:
            if self.item_shop(item_id, shop_id) is None:
                cost = float(self.tables["Item"].get(item_id, {}).get("defaultCost", 0.0)) if shop_id == 0 else 0.0
                # the field order and the `onWorkorder` spelling of the docs' samples (their table: onWorkOrder)
                self.insert("ItemShop", {
                    "qoh": 0, "sellable": 0, "backorder": 0, "componentQoh": 0, "componentBackorder": 0,
                    "onLayaway": 0, "onSpecialOrder": 0, "onWorkorder": 0, "onTransferOut": 0, "onTransferIn": 0,
                    "averageCost": cost, "nextFifoLotID": 0, "nextFifoLotCost": 0.0, "lastReceivedLotID": 0,
                    "lastReceivedCost": 0.0, "totalValueFifo": 0.0, "totalValueAvgCost": 0.0,
                    "totalValueNegativeInventory": 0.0, "reorderPoint": 0, "reorderLevel": 0, "timeStamp": "",
                    "itemID": item_id, "shopID": shop_id})

    def available(self, item_id: int, shop_id: int) -> int:
        """Units free to reserve: on hand minus what layaways, special orders, work orders and outgoing
        transfers already hold (itemshop.md's counters)."""
        row = self.item_shop(item_id, shop_id)
        if row is None:
            return 0
        return row["qoh"] - row["onLayaway"] - row["onSpecialOrder"] - row["onWorkorder"] - row["onTransferOut"]

    def hold(self, item_id: int, shop_id: int, units: int) -> None:
        """Moves `units` (negative: releases) into ItemShop.onLayaway of the shop and the summary row."""
        self.bump(item_id, shop_id, "onLayaway", units)

    def bump(self, item_id: int, shop_id: int, counter: str, units: int) -> None:
        """Adds `units` to an ItemShop counter (onLayaway, onTransferOut, backorder…) of the shop and the summary row."""
        for sid in (shop_id, 0):
            row = self.item_shop(item_id, sid)
            if row is not None and units:
                row[counter] += units
                self.touch(row)

    def set_qoh(self, item_id: int, shop_id: int, qoh: int, reason: str, employee_id: int = 0,
                sale_id: int = 0, customer_id: int = 0, **refs: int) -> dict | None:
        """Absolute write: the difference is logged; the summary row (shopID 0) follows."""
        row = self.item_shop(item_id, shop_id)
        if row is None or shop_id == 0:
            return None
        change = qoh - row["qoh"]
        if change == 0:
            return None
        row["qoh"], row["sellable"] = qoh, max(qoh, 0)
        self.touch(row)
        summary = self.item_shop(item_id, 0)
        if summary is not None:
            summary["qoh"] = sum(r["qoh"] for r in self.item_shops(item_id) if r["shopID"])
            summary["sellable"] = max(summary["qoh"], 0)
            self.touch(summary)
        item = self.tables["Item"].get(item_id, {})
        return self.insert("InventoryLog", {
            "shopID": shop_id, "employeeID": employee_id, "itemID": item_id, "qohChange": change,
            "costChange": float(item.get("defaultCost", 0.0)), "createTime": self.now(), "automated": False,
            "causedNegative": qoh < 0 <= qoh - change, "reason": reason, "customerID": customer_id,
            "inventoryCountID": 0, "itemImportID": 0, "orderID": 0, "saleID": sale_id, "transferID": 0,
            "vendorReturnID": 0, **refs})
