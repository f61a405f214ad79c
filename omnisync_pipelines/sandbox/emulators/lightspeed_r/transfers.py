"""Transfers between shops (inventory-transfer.md, inventory-transfer-transferitems.md): a Transfer is
created and edited while open, its TransferItems added, updated and deleted by itemID (at most 100 a
payload, an item once per transfer), then sent; a sent transfer can not change. The pages say inventory
"will only change when the transfer is received and completed", and receiving is UI-only: sending marks
the units in transit (ItemShop onTransferOut at the sender, onTransferIn at the receiver, itemshop.md);
`receive` is the UI's receipt, for the sandbox, which takes the units off the sender's qoh
(RemoveForTransfer) and adds what arrived to the receiver's (AddForTransfer), both logged with the
transferID. The deprecated `Transfer`/`TransferItem` endpoints (transfer.md, transferitem.md) are not
the Transfer served here; TransferItem rows are also listed read-only at `TransferItem.json`."""

from __future__ import annotations

from omnisync_pipelines.sandbox.emulators.lightspeed_r.errors import WriteError
from omnisync_pipelines.sandbox.emulators.lightspeed_r.store import Store
from omnisync_pipelines.sandbox.emulators.lightspeed_r.writes import need
from omnisync_pipelines.sandbox.emulators.lightspeed_r.xmljson import iso, parse_time, unwrap

MAX_ITEMS = 100
SHOWN = ["SendingShop", "ReceivingShop", "CreatedByEmployee"]  # what the write samples embed


def items_of(store: Store, transfer_id: int) -> list[dict]:
    return sorted((r for r in store.tables["TransferItem"].values() if r["transferID"] == transfer_id),
                  key=lambda r: r["transferItemID"])


def acting_employee(store: Store) -> int:
    """The API client's employee (the token's user; the sandbox's first employee)."""
    return min(store.tables["Employee"], default=0)


def _shops_and_dates(store: Store, row: dict, body: dict) -> None:
    for key in ("sendingShopID", "receivingShopID"):
        if key in body:
            row[key] = need(store, "Shop", body[key], "Shop")
    if row["sendingShopID"] == row["receivingShopID"]:
        raise WriteError("The sending and receiving shops of a transfer must differ.")
    if "note" in body:
        row["note"] = str(body["note"] or "")
    if "needBy" in body:
        text = str(body["needBy"] or "").strip()
        try:
            row["needBy"] = iso(parse_time(text).timestamp()) if text else ""
        except ValueError as exc:
            raise WriteError(f"Invalid value for needBy: {text}") from exc


def new_transfer(store: Store, body: dict) -> dict:
    for key in ("sendingShopID", "receivingShopID"):
        if not body.get(key):
            raise WriteError(f"{key} is required.")
    row = {"note": "", "archived": False, "timeStamp": "", "createTime": store.now(), "status": "open",
           "sentOn": "", "needBy": "", "sendingShopID": 0, "sentByEmployeeID": 0, "receivingShopID": 0,
           "createdByEmployeeID": acting_employee(store)}
    _shops_and_dates(store, row, body)
    return store.insert("Transfer", row)


def _open(row: dict) -> None:
    if row["status"] != "open":
        raise WriteError(f"Transfer {row['transferID']} has been sent and can not be modified.", 422)


def update_transfer(store: Store, row: dict, body: dict) -> dict:
    _open(row)
    if "status" in body and str(body["status"]) != row["status"]:
        raise WriteError("The status of a transfer can not be changed directly: send it with POST …/Send.")
    draft = dict(row)
    _shops_and_dates(store, draft, body)
    row.update(draft)
    store.touch(row)
    return row


def archive(store: Store, row: dict, body: dict) -> dict:
    row["archived"] = True
    store.touch(row)
    return row


def restore(store: Store, row: dict, body: dict) -> dict:
    row["archived"] = False
    store.touch(row)
    return row


def _given(body: dict) -> list[dict]:
    given = unwrap(body.get("TransferItems"), "TransferItem")
    if not given or not all(isinstance(g, dict) for g in given):
        raise WriteError('TransferItems must be a list: {"TransferItems": [{"itemID": …, "toSend": …}]}.')
    if len(given) > MAX_ITEMS:
        raise WriteError(f"At most {MAX_ITEMS} transfer items a request.")
    return given


def _to_send(given: dict) -> int:
    try:
        units = int(float(given["toSend"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise WriteError("toSend is required.") from exc
    if units <= 0:
        raise WriteError("toSend must be positive.")
    return units


def _on_transfer(store: Store, row: dict, given: list[dict]) -> dict[int, dict]:
    """itemID -> the transfer's line for each given item, or a 400 naming the missing one."""
    lines = {r["itemID"]: r for r in items_of(store, row["transferID"])}
    for g in given:
        item_id = need(store, "Item", g.get("itemID"), "Item")
        if item_id not in lines:
            raise WriteError(f"Item {item_id} is not on transfer {row['transferID']}.")
    return lines


def add_items(store: Store, row: dict, body: dict) -> list[dict]:
    _open(row)
    given, seen = _given(body), {r["itemID"] for r in items_of(store, row["transferID"])}
    planned = []
    for g in given:
        item_id = need(store, "Item", g.get("itemID"), "Item")
        if item_id in seen:
            raise WriteError(f"Item {item_id} is already on transfer {row['transferID']}.")
        seen.add(item_id)
        planned.append((item_id, _to_send(g), str(g.get("comment") or "")))
    added = [store.insert("TransferItem", {"toSend": units, "toReceive": 0, "sent": 0, "received": 0,
                                           "sentValue": 0.0, "receivedValue": 0.0, "comment": comment,
                                           "timeStamp": "", "transferID": row["transferID"], "itemID": item_id})
             for item_id, units, comment in planned]
    store.touch(row)
    return added


def update_items(store: Store, row: dict, body: dict) -> list[dict]:
    _open(row)
    given = _given(body)
    lines = _on_transfer(store, row, given)
    planned = [(lines[int(g["itemID"])], _to_send(g), g.get("comment")) for g in given]
    for line, units, comment in planned:
        line["toSend"] = units
        if comment is not None:
            line["comment"] = str(comment)
        store.touch(line)
    store.touch(row)
    return [line for line, _, _ in planned]


def delete_items(store: Store, row: dict, body: dict) -> list[dict]:
    _open(row)
    given = _given(body)
    lines = _on_transfer(store, row, given)
    gone = [store.tables["TransferItem"].pop(lines[int(g["itemID"])]["transferItemID"]) for g in given]
    store.touch(row)
    return gone


def _unit_cost(store: Store, item_id: int) -> float:
    item = store.tables["Item"][item_id]
    return float(item.get("avgCost") or item.get("defaultCost") or 0.0)


def send(store: Store, row: dict, body: dict) -> dict:
    _open(row)
    if row["archived"]:
        raise WriteError(f"Transfer {row['transferID']} is archived.", 422)
    lines = items_of(store, row["transferID"])
    if not lines:
        raise WriteError(f"Transfer {row['transferID']} has no items to send.", 422)
    for line in lines:
        line["sent"] = line["toSend"]
        line["sentValue"] = round(line["sent"] * _unit_cost(store, line["itemID"]), 2)
        store.touch(line)
        store.bump(line["itemID"], row["sendingShopID"], "onTransferOut", line["sent"])
        store.bump(line["itemID"], row["receivingShopID"], "onTransferIn", line["sent"])
    row.update(status="sent", sentOn=store.now(), sentByEmployeeID=acting_employee(store))
    store.touch(row)
    return row


def receive(store: Store, row: dict, received: dict[int, int] | None = None, employee_id: int = 0) -> dict:
    """The UI's receipt (not an API call): `received` is itemID -> units that arrived (default: all sent)."""
    if row["status"] != "sent":
        raise WriteError(f"Transfer {row['transferID']} is {row['status']}, not sent.", 422)
    employee_id = employee_id or acting_employee(store)
    for line in items_of(store, row["transferID"]):
        item_id, sent = line["itemID"], line["sent"]
        got = (received or {}).get(item_id, sent)
        store.bump(item_id, row["sendingShopID"], "onTransferOut", -sent)
        store.bump(item_id, row["receivingShopID"], "onTransferIn", -sent)
        for shop_id, change, reason in ((row["sendingShopID"], -sent, "RemoveForTransfer"),
                                        (row["receivingShopID"], got, "AddForTransfer")):
            shop = store.item_shop(item_id, shop_id)
            store.set_qoh(item_id, shop_id, shop["qoh"] + change, reason, employee_id=employee_id,
                          transferID=row["transferID"])
        line.update(toReceive=got, received=got, receivedValue=round(got * _unit_cost(store, item_id), 2))
        store.touch(line)
    row["status"] = "received"
    store.touch(row)
    return row
