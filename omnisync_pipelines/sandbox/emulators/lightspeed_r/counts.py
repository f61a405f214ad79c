"""Inventory counts (inventorycount.md, inventorycountitem.md, inventorycountcalc.md,
inventorycountreconcile.md, the inventory-levels tutorial): a count of one shop (`shopID` required),
counted items (`qty`, `itemID`, `employeeID` required; the qoh "is not adjusted until the count is
reconciled"), the read-only InventoryCountCalc sums (total counted vs the qoh when the last count was
added), and reconciling, a POST InventoryCountReconcile (or `InventoryCount/{id}/Reconcile`, changelog
2026.03.17) of one item or of the whole count: each counted item's qoh becomes the total counted,
logged (AddInventoryForCount / RemoveForInventoryCount) with the inventoryCountID, and an
InventoryCountReconcile row records the change. A reconcile "can not be undone": an item is reconciled
once per count."""

from __future__ import annotations

from omnisync_pipelines.sandbox.emulators.lightspeed_r.errors import WriteError
from omnisync_pipelines.sandbox.emulators.lightspeed_r.store import Store
from omnisync_pipelines.sandbox.emulators.lightspeed_r.writes import need

ADDED, REMOVED = "AddInventoryForCount", "RemoveForInventoryCount"  # InventoryLog's Reasons list


def new_count(store: Store, body: dict) -> dict:
    if not body.get("shopID"):
        raise WriteError("shopID is required.")
    shop_id = need(store, "Shop", body["shopID"], "Shop")
    return store.insert("InventoryCount", {"name": str(body.get("name") or ""), "timeStamp": "",
                                           "archived": False, "shopID": shop_id})


def update_count(store: Store, row: dict, body: dict) -> dict:
    if "shopID" in body:
        shop_id = need(store, "Shop", body["shopID"], "Shop")
        if shop_id != row["shopID"] and _reconciled(store, row["inventoryCountID"]):
            raise WriteError("The shop of a reconciled count can not change.", 422)
        row["shopID"] = shop_id
    if "name" in body:
        row["name"] = str(body["name"] or "")
    if "archived" in body:
        row["archived"] = str(body["archived"]).lower() == "true"
    store.touch(row)
    for item_id in {i["itemID"] for i in _items(store, row["inventoryCountID"])}:
        _calc(store, row, item_id)
    return row


def delete_count(store: Store, row: dict) -> dict:
    """Permanent (inventorycount.md); its counted items and sums go with it, the reconciles stay."""
    count_id = row["inventoryCountID"]
    for table in ("InventoryCountItem", "InventoryCountCalc"):
        for key in [k for k, r in store.tables[table].items() if r["inventoryCountID"] == count_id]:
            del store.tables[table][key]
    return store.tables["InventoryCount"].pop(count_id)


def _items(store: Store, count_id: int, item_id: int | None = None) -> list[dict]:
    return [r for r in store.tables["InventoryCountItem"].values()
            if r["inventoryCountID"] == count_id and item_id in (None, r["itemID"])]


def _reconciled(store: Store, count_id: int, item_id: int | None = None) -> list[dict]:
    return [r for r in store.tables["InventoryCountReconcile"].values()
            if r["inventoryCountID"] == count_id and item_id in (None, r["itemID"])]


def _qty(body: dict) -> int:
    try:
        qty = int(float(body["qty"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise WriteError("qty is required.") from exc
    if qty < 0:
        raise WriteError("qty can not be negative.")
    return qty


def _calc(store: Store, count: dict, item_id: int) -> None:
    """The InventoryCountCalc row of an item: total counted, and the qoh the system had at that time."""
    row = next((r for r in store.tables["InventoryCountCalc"].values()
                if r["inventoryCountID"] == count["inventoryCountID"] and r["itemID"] == item_id), None)
    counted = _items(store, count["inventoryCountID"], item_id)
    if not counted:
        if row is not None:
            del store.tables["InventoryCountCalc"][row["inventoryCountCalcID"]]
        return
    shop = store.item_shop(item_id, count["shopID"])
    values = {"calcQoh": shop["qoh"] if shop else 0, "countedQoh": sum(r["qty"] for r in counted)}
    if row is None:
        store.insert("InventoryCountCalc", {"timeStamp": "", **values, "inventoryCountID": count["inventoryCountID"],
                                            "itemID": item_id})
    else:
        row.update(values)
        store.touch(row)


def _open_count(store: Store, count_id, item_id: int) -> dict:
    count = store.tables["InventoryCount"][need(store, "InventoryCount", count_id, "InventoryCount")]
    if _reconciled(store, count["inventoryCountID"], item_id):
        raise WriteError(f"Item {item_id} of InventoryCount {count['inventoryCountID']} is already reconciled.", 422)
    return count


def new_item(store: Store, body: dict) -> dict:
    for key in ("inventoryCountID", "itemID", "employeeID"):
        if not body.get(key):
            raise WriteError(f"{key} is required.")
    item_id = need(store, "Item", body["itemID"], "Item")
    count = _open_count(store, body["inventoryCountID"], item_id)
    row = store.insert("InventoryCountItem", {
        "qty": _qty(body), "timeStamp": "", "inventoryCountID": count["inventoryCountID"], "itemID": item_id,
        "employeeID": need(store, "Employee", body["employeeID"], "Employee")})
    _calc(store, count, item_id)
    return row


def update_item(store: Store, row: dict, body: dict) -> dict:
    count = _open_count(store, row["inventoryCountID"], row["itemID"])
    if "itemID" in body and need(store, "Item", body["itemID"], "Item") != row["itemID"]:
        raise WriteError("The itemID of a counted item can not change.")
    if "qty" in body:
        row["qty"] = _qty(body)
    if "employeeID" in body:
        row["employeeID"] = need(store, "Employee", body["employeeID"], "Employee")
    store.touch(row)
    _calc(store, count, row["itemID"])
    return row


def delete_item(store: Store, row: dict) -> dict:
    count = _open_count(store, row["inventoryCountID"], row["itemID"])
    del store.tables["InventoryCountItem"][row["inventoryCountItemID"]]
    _calc(store, count, row["itemID"])
    return row


def reconcile(store: Store, body: dict, employee_id: int = 0) -> list[dict]:
    """POST InventoryCountReconcile: `itemID` reconciles that item, none the whole count (what of it is
    not reconciled yet). Items the count does not list are left as they are."""
    if not body.get("inventoryCountID"):
        raise WriteError("inventoryCountID is required.")
    count = store.tables["InventoryCount"][need(store, "InventoryCount", body.get("inventoryCountID"), "InventoryCount")]
    count_id = count["inventoryCountID"]
    if body.get("itemID"):
        item_id = need(store, "Item", body["itemID"], "Item")
        _open_count(store, count_id, item_id)
        if not _items(store, count_id, item_id):
            raise WriteError(f"Item {item_id} is not on InventoryCount {count_id}.", 422)
        chosen = [item_id]
    else:
        done = {r["itemID"] for r in _reconciled(store, count_id)}
        chosen = sorted({r["itemID"] for r in _items(store, count_id)} - done)
        if not chosen:
            raise WriteError(f"InventoryCount {count_id} has nothing left to reconcile.", 422)
    made = []
    for item_id in chosen:
        counted = sum(r["qty"] for r in _items(store, count_id, item_id))
        shop = store.item_shop(item_id, count["shopID"])
        change = counted - shop["qoh"]
        cost = float(store.tables["Item"][item_id].get("defaultCost") or 0.0)
        store.set_qoh(item_id, count["shopID"], counted, ADDED if change > 0 else REMOVED,
                      employee_id=employee_id, inventoryCountID=count_id)
        made.append(store.insert("InventoryCountReconcile", {
            "costChange": round(change * cost, 2), "qohChange": change, "createTime": store.now(),
            "inventoryCountID": count_id, "itemID": item_id}))
    store.touch(count)
    return made


def reconcile_count(store: Store, count: dict, body: dict) -> list[dict]:
    """`POST InventoryCount/{id}/Reconcile` (changelog 2026.03.17): the whole count, or `itemID`'s item."""
    return reconcile(store, {**body, "inventoryCountID": count["inventoryCountID"]})
