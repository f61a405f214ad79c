"""The InventoryLog rows the R-Series emulator writes for stock documents (a purchase order checked in,
a transfer received, a count reconciled), as the API prints them, map to the canonical movement kinds
and name their document."""

from __future__ import annotations

from omnisync_pipelines.connectors.lightspeed_r import mapping
from omnisync_pipelines.sandbox.emulators.lightspeed_r import LightspeedREmulator, counts
from omnisync_pipelines.sandbox.emulators.lightspeed_r.xmljson import shape


def test_stock_documents_map_to_receiving_transfer_and_adjustment_movements():
    emu = LightspeedREmulator(seed=5, clock=lambda: 1_780_000_000.0)
    hamburg = emu.seed_shop("Hamburg")["shopID"]
    item = emu.seed_item("Tee", "TEE-S", qoh={1: 10})
    first = max(emu.store.tables["InventoryLog"])
    order = emu.receive_stock(item["itemID"], hamburg, 12)
    transfer = emu.transfer_stock(item["itemID"], 1, hamburg, 4)
    count = counts.new_count(emu.store, {"name": "June", "shopID": 1})
    counts.new_item(emu.store, {"inventoryCountID": count["inventoryCountID"], "itemID": item["itemID"], "qty": 5,
                                "employeeID": 1})
    counts.reconcile(emu.store, {"inventoryCountID": count["inventoryCountID"]})
    logs = [shape(r) for i, r in emu.store.tables["InventoryLog"].items() if i > first]
    moved = [mapping.map_inventory_log(log, sku_of={str(item["itemID"]): "TEE-S"},
                                       location_map={"1": "berlin", str(hamburg): "hamburg"}) for log in logs]
    assert [(m.location_key, m.quantity, m.kind, m.source_ref) for m in moved] == [
        ("hamburg", 12, "receiving", f"order:{order['orderID']}"),
        ("berlin", -4, "transfer_out", f"transfer:{transfer['transferID']}"),
        ("hamburg", 4, "transfer_in", f"transfer:{transfer['transferID']}"),
        ("berlin", -1, "adjustment", f"count:{count['inventoryCountID']}")]


def test_work_and_special_order_reasons_are_not_purchase_order_receipts():
    def kind(reason, **refs):
        log = {"inventoryLogID": "9", "itemID": "47", "shopID": "1", "qohChange": "-1", "reason": reason,
               "createTime": "2024-05-01T10:00:00+00:00", "orderID": "0", **refs}
        return mapping.map_inventory_log(log, sku_of={"47": "TEE-S"}, location_map={"1": "berlin"}).kind

    assert kind("RemoveForWorkorder") != "receiving"
    assert kind("RemoveForSpecialOrder") != "receiving"
    assert kind("AddInventoryForCount", inventoryCountID="3") == "adjustment"
    assert kind("GenericReason", orderID="14") == "receiving"
