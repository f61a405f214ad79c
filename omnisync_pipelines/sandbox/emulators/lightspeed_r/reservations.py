"""The SaleLine endpoint (saleline.md, reservations tutorial): POST creates a layaway or special-order
line for a customer (`saleID` 0; a layaway holds free units, all of them or a 422 with
`requireFullReservation`); PUT re-reserves on a new quantity, customer or shop, attaches a reservation
to an open sale of the same customer (`saleID`), or edits a line of an open sale; DELETE cancels a
reservation (units back to available) or removes a line from an open sale."""

from __future__ import annotations

from omnisync_pipelines.sandbox.emulators.lightspeed_r import lines as saleline
from omnisync_pipelines.sandbox.emulators.lightspeed_r import sales
from omnisync_pipelines.sandbox.emulators.lightspeed_r.errors import WriteError
from omnisync_pipelines.sandbox.emulators.lightspeed_r.store import Store
from omnisync_pipelines.sandbox.emulators.lightspeed_r.writes import need, typed

EDITABLE = ("unitPrice", "discountAmount", "discountPercent", "tax")


def new_reservation(store: Store, body: dict) -> dict:
    layaway, special = typed(False, body.get("isLayaway", False)), typed(False, body.get("isSpecialOrder", False))
    if not (layaway or special):
        raise WriteError("A SaleLine can only be created with isLayaway or isSpecialOrder set to true.")
    if int(body.get("saleID") or 0):
        raise WriteError("saleID cannot be set on create: attach the line with PUT SaleLine {saleID} "
                         "or POST Sale with SaleLines.SaleLine.saleLineID.")
    if int(float(body.get("unitQuantity") or 0)) <= 0:
        raise WriteError("unitQuantity must be positive for create.")
    customer_id = need(store, "Customer", body.get("customerID"), "Customer")
    shop_id = need(store, "Shop", body.get("shopID"), "Shop")
    employee_id = need(store, "Employee", body.get("employeeID"), "Employee")
    line = saleline.build(store, {**body, "isLayaway": layaway and not special}, shop_id=shop_id,
                          employee_id=employee_id, customer_id=customer_id)
    require_full = typed(False, body.get("requireFullReservation", False))
    item = store.tables["Item"][line["itemID"]]
    if line["isLayaway"] and require_full and item["itemType"] != "non_inventory":
        free = max(0, store.available(line["itemID"], shop_id))
        if free < line["unitQuantity"]:
            raise WriteError(f"Insufficient inventory to reserve {line['unitQuantity']} of item {line['itemID']}: "
                             f"{free} available.", 422)
    row = store.insert("SaleLine", line)
    saleline.set_note(store, row, body)
    saleline.reserve(store, row, require_full)
    return row


def update_line(store: Store, row: dict, body: dict) -> dict:
    sale = store.tables["Sale"].get(row["saleID"])
    if sale is not None and (sale["completed"] or sale["voided"] or sale["archived"]):
        raise WriteError(f"SaleLine {row['saleLineID']} is on a closed sale and can not be changed.", 422)
    reservation = row["isLayaway"] or row["isSpecialOrder"]
    moved = {}
    if body.get("customerID") not in (None, "") and int(body["customerID"]) != row["customerID"]:
        moved["customerID"] = need(store, "Customer", body["customerID"], "Customer")
    if body.get("shopID") not in (None, "") and int(body["shopID"]) != row["shopID"]:
        moved["shopID"] = need(store, "Shop", body["shopID"], "Shop")
    if "unitQuantity" in body and int(float(body["unitQuantity"])) <= 0 and reservation:
        raise WriteError("unitQuantity of a reservation must be positive.")
    target = None
    if int(body.get("saleID") or 0) and int(body["saleID"]) != row["saleID"]:
        target = store.tables["Sale"].get(int(body["saleID"]))
        if target is None:
            raise WriteError(f"Sale {body['saleID']} not found.")
        sales.check_attachable(store, {**row, **moved}, target)
    require_full = typed(False, body.get("requireFullReservation", False))
    becomes_layaway = typed(False, body.get("isLayaway", row["isLayaway"]))
    before = {k: row[k] for k in ("unitQuantity", "customerID", "shopID", "isLayaway")}
    if moved:  # a new customer or shop: everything goes back and is reserved again
        saleline.release(store, row)
    row.update(moved)
    if "unitQuantity" in body:
        row["unitQuantity"] = int(float(body["unitQuantity"]))
    row.update({k: typed(row[k], body[k]) for k in EDITABLE if k in body})
    if becomes_layaway and not row["isLayaway"]:  # docs: "relation to Sale will be removed"
        row["isLayaway"], row["saleID"] = True, 0
    try:
        saleline.reserve(store, row, require_full)
    except WriteError:
        row.update(before)
        saleline.reserve(store, row, False)
        raise
    if target is not None:
        row["saleID"] = target["saleID"]
    saleline.price_line(store, row)
    saleline.set_note(store, row, body)
    store.touch(row)
    for sale_id in {sale["saleID"] if sale else 0, row["saleID"]} - {0}:
        sales.totals(store, store.tables["Sale"][sale_id])
    return row


def delete_line(store: Store, row: dict) -> dict:
    sale = store.tables["Sale"].get(row["saleID"])
    if sale is not None and (sale["completed"] or sale["voided"]):
        raise WriteError("You can't delete a sale line of a completed or cancelled sale.", 422)
    saleline.release(store, row)
    del store.tables["SaleLine"][row["saleLineID"]]
    if sale is not None:
        sales.totals(store, sale)
    return row
