"""Sales (sale.md, sales tutorial): POST and PUT build lines, attach reservation lines (`saleLineID`),
take payments and, once `completed`, must balance; completion takes the units from qoh and ends their
layaway holds; `voided: true` restocks a completed sale (or releases an open one's holds) and records a
SaleVoid; DELETE archives an open sale. Every check runs before anything is written."""

from __future__ import annotations

from datetime import UTC

from omnisync_pipelines.sandbox.emulators.lightspeed_r import lines as saleline
from omnisync_pipelines.sandbox.emulators.lightspeed_r.errors import WriteError
from omnisync_pipelines.sandbox.emulators.lightspeed_r.shipping import ship_to
from omnisync_pipelines.sandbox.emulators.lightspeed_r.store import Store
from omnisync_pipelines.sandbox.emulators.lightspeed_r.writes import need, typed
from omnisync_pipelines.sandbox.emulators.lightspeed_r.xmljson import iso, parse_time, unwrap

PAYMENT_DEFAULTS = {"tipAmount": 0.0, "archived": False, "remoteReference": "", "paymentID": "", "ccChargeID": 0,
                    "refPaymentID": 0, "creditAccountID": 0}


def lines_of(store: Store, sale_id: int) -> list[dict]:
    return [r for r in store.tables["SaleLine"].values() if r["saleID"] == sale_id]


def payments_of(store: Store, sale_id: int) -> list[dict]:
    return [r for r in store.tables["SalePayment"].values() if r["saleID"] == sale_id]


def _complete_time(store: Store, body: dict) -> str | None:
    if not body.get("completeTime"):
        return None
    try:
        moment = parse_time(str(body["completeTime"]))
    except ValueError as exc:
        raise WriteError(f"Invalid completeTime: {body['completeTime']}") from exc
    if moment.timestamp() > store.clock() + 1:
        raise WriteError("completeTime can be set to a past date/time, but not into the future.")
    return iso(moment.astimezone(UTC).timestamp())


def _payments(store: Store, body: dict, register_id: int, employee_id: int) -> list[dict]:
    out = []
    for given in unwrap(body.get("SalePayments"), "SalePayment"):
        kind = need(store, "PaymentType", given.get("paymentTypeID"), "PaymentType")
        out.append({"amount": round(float(given.get("amount", 0)), 2), "createTime": store.now(), **PAYMENT_DEFAULTS,
                    "paymentTypeID": kind, "registerID": register_id, "employeeID": employee_id})
    return out


def _plan_lines(store: Store, body: dict, sale: dict) -> tuple[list[dict], list[dict]]:
    """(new lines, reservation lines to attach) of a body's SaleLines."""
    new, attach, planned = [], [], {}
    for given in unwrap(body.get("SaleLines"), "SaleLine"):
        if given.get("saleLineID"):
            line = store.tables["SaleLine"].get(int(given["saleLineID"]))
            if line is None:
                raise WriteError(f"SaleLine {given['saleLineID']} not found.")
            check_attachable(store, line, sale)
            attach.append(line)
            continue
        line = saleline.build(store, given, shop_id=sale["shopID"], employee_id=sale["employeeID"],
                              customer_id=sale["customerID"], planned=planned)
        if line["isLayaway"] or line["isSpecialOrder"]:
            raise WriteError("isLayaway and isSpecialOrder can only be set through the SaleLine endpoint.")
        new.append((line, given))
    return new, attach


def check_attachable(store: Store, line: dict, sale: dict) -> None:
    if sale["completed"] or sale["voided"] or sale["archived"]:
        raise WriteError(f"Sale {sale['saleID']} is not open.", 422)
    if line["saleID"] not in (0, sale.get("saleID")) or not (line["isLayaway"] or line["isSpecialOrder"]):
        raise WriteError(f"SaleLine {line['saleLineID']} is not a reservation that can be attached.", 422)
    if line["customerID"] != sale["customerID"]:
        raise WriteError("Reservation sale lines can only be attached to sales of the same customer.", 422)


def _check_balance(store: Store, total: float, payments: list[dict]) -> None:
    """Payments must equal the total; cash paid over a positive total is change (sales tutorial)."""
    paid = round(sum(p["amount"] for p in payments), 2)
    cash = any(store.tables["PaymentType"][p["paymentTypeID"]]["type"] == "cash" for p in payments)
    change = paid - total if total > 0 and cash and paid > total else 0.0
    if abs(paid - change - total) > 0.005:
        raise WriteError(f"Sale can not be completed: payments ({paid}) do not balance the total ({total}).", 422)


def new_sale(store: Store, body: dict) -> dict:
    header = {"shopID": need(store, "Shop", body.get("shopID"), "Shop"),
              "registerID": need(store, "Register", body.get("registerID"), "Register"),
              "employeeID": need(store, "Employee", body.get("employeeID"), "Employee"),
              "customerID": need(store, "Customer", body["customerID"], "Customer") if int(body.get("customerID") or 0) else 0}
    return commit(store, header, body, None)


def commit(store: Store, header: dict, body: dict, sale: dict | None, lines_given: list | None = None) -> dict:
    """Creates (`sale` None) or extends an open sale from `body`; completes it when asked."""
    completing = typed(False, body.get("completed", sale["completed"] if sale else False))
    draft = sale or {**header, "saleID": 0, "completed": False, "voided": False, "archived": False}
    new, attach = lines_given if lines_given is not None else _plan_lines(store, body, draft)
    payments = _payments(store, body, draft["registerID"], draft["employeeID"])
    complete_time = _complete_time(store, body)
    if completing:
        every_line = [line for line, _ in new] + attach + (lines_of(store, sale["saleID"]) if sale else [])
        old_payments = payments_of(store, sale["saleID"]) if sale else []
        _check_balance(store, round(sum(x["calcTotal"] for x in every_line), 2), old_payments + payments)
    shipping = ship_to(store, body, draft) if isinstance(body.get("ShipTo"), dict) else None
    if sale is None:
        sale = store.insert("Sale", blank(store, header, body))
        sale["ticketNumber"] = f"2200000{sale['saleID']:05d}"
    for line, given in new:
        row = store.insert("SaleLine", {**line, "saleID": sale["saleID"]})
        saleline.set_note(store, row, given)
    for line in attach:
        line["saleID"] = sale["saleID"]
        store.touch(line)
    for payment in payments:
        store.insert("SalePayment", {**payment, "saleID": sale["saleID"]})
    if shipping is not None:
        shipping["saleID"], sale["shipToID"] = sale["saleID"], shipping["shipToID"]
    if completing:
        finish(store, sale, complete_time)
    elif complete_time and sale["completed"]:
        sale["completeTime"] = sale["timeStamp"] = complete_time
    totals(store, sale)
    return sale


def blank(store: Store, header: dict, body: dict) -> dict:
    tax_cat = saleline.tax_category(store, header["shopID"])
    return {"discountPercent": 0.0, "completed": False, "archived": False, "voided": False,
            "enablePromotions": typed(False, body.get("enablePromotions", False)),
            "isTaxInclusive": bool(tax_cat.get("isTaxInclusive", False)), "createTime": store.now(),
            "updatetime": store.now(), "completeTime": "", "referenceNumber": str(body.get("referenceNumber", "")),
            "referenceNumberSource": str(body.get("referenceNumberSource", "")), "tax1Rate": tax_cat.get("tax1Rate", 0.0),
            "tax2Rate": tax_cat.get("tax2Rate", 0.0), "change": 0.0, "tipEnabled": False, "receiptPreference": "printed",
            "displayableSubtotal": 0.0, "ticketNumber": "", "calcDiscount": 0.0, "calcTotal": 0.0, "calcSubtotal": 0.0,
            "calcTaxable": 0.0, "calcNonTaxable": 0.0, "calcAvgCost": 0.0, "calcFIFOCost": 0.0, "calcTax1": 0.0,
            "calcTax2": 0.0, "calcPayments": 0.0, "calcTips": 0.0, "total": 0.0, "totalDue": 0.0,
            "displayableTotal": 0.0, "balance": 0.0, **header, "discountID": 0, "tipEmployeeID": header["employeeID"],
            "quoteID": 0, "shipToID": 0, "taxCategoryID": tax_cat.get("taxCategoryID", 0), "taxTotal": 0.0}


def totals(store: Store, sale: dict) -> None:
    lines, payments = lines_of(store, sale["saleID"]), payments_of(store, sale["saleID"])

    def total(field: str, chosen=lines) -> float:
        return round(sum(x[field] for x in chosen), 2)
    taxed = [x for x in lines if x["calcTax1"] or x["calcTax2"]]
    sale.update({"calcSubtotal": total("calcSubtotal"), "calcDiscount": total("calcLineDiscount"),
                 "calcTax1": total("calcTax1"), "calcTax2": total("calcTax2"), "calcTotal": total("calcTotal"),
                 "displayableSubtotal": total("displayableSubtotal"), "calcTaxable": total("calcSubtotal", taxed),
                 "calcNonTaxable": round(total("calcSubtotal") - total("calcSubtotal", taxed), 2),
                 "calcAvgCost": round(sum(x["avgCost"] * x["unitQuantity"] for x in lines), 2),
                 "calcFIFOCost": round(sum(x["fifoCost"] * x["unitQuantity"] for x in lines), 2),
                 "calcPayments": total("amount", payments)})
    sale["total"] = sale["totalDue"] = sale["displayableTotal"] = sale["calcTotal"]
    sale["taxTotal"] = round(sale["calcTax1"] + sale["calcTax2"], 2)
    sale["balance"] = round(sale["total"] - sale["calcPayments"], 2)


def finish(store: Store, sale: dict, complete_time: str | None) -> None:
    """Completion: cash over the total becomes change; units leave qoh; layaway holds end."""
    lines, payments = lines_of(store, sale["saleID"]), payments_of(store, sale["saleID"])
    total = round(sum(x["calcTotal"] for x in lines), 2)
    over = round(sum(p["amount"] for p in payments) - total, 2)
    cash = next((p for p in payments if store.tables["PaymentType"][p["paymentTypeID"]]["type"] == "cash"), None)
    if over > 0.005 and total > 0 and cash is not None:
        cash["amount"], sale["change"] = round(cash["amount"] - over, 2), over
    for line in lines:
        if store.tables["Item"][line["itemID"]]["itemType"] == "non_inventory":
            continue
        held = saleline.reserved(store, line)
        store.hold(line["itemID"], line["shopID"], -held)  # the allocations stay: they now count units sold
        if line["unitQuantity"] > held:
            lot = store.item_shop(line["itemID"], line["shopID"])["itemShopID"]
            store.insert("InventorySale", {"quantity": line["unitQuantity"] - held, "createTime": store.now(),
                                           "inventoryID": lot, "saleLineID": line["saleLineID"]})
        if line["unitQuantity"] > 0:
            reason = "RemoveForLayaway" if line["isLayaway"] else "RemoveForTransaction"
        else:
            reason = "RefundAddInventory"
        _move(store, line, -line["unitQuantity"], reason, sale)
    sale["completed"] = True
    sale["completeTime"] = complete_time or store.now()
    sale["timeStamp"] = sale["completeTime"]  # sale.md: "if complete the date/time at which it was completed"
    sale["updatetime"] = store.now()


def _move(store: Store, line: dict, units: int, reason: str, sale: dict) -> None:
    shop_row = store.item_shop(line["itemID"], sale["shopID"])
    if shop_row is not None and units:
        store.set_qoh(line["itemID"], sale["shopID"], shop_row["qoh"] + units, reason, sale["employeeID"],
                      sale["saleID"], sale["customerID"])


def void(store: Store, sale: dict, body: dict) -> dict:
    if sale["voided"]:
        raise WriteError(f"Sale {sale['saleID']} is already voided.", 422)
    for line in lines_of(store, sale["saleID"]):
        if not sale["completed"]:
            saleline.release(store, line)
        elif store.tables["Item"][line["itemID"]]["itemType"] != "non_inventory":
            reason = "PutBackForTransaction" if line["unitQuantity"] > 0 else "VoidRefund"
            _move(store, line, line["unitQuantity"], reason, sale)
    employee_id = int(body.get("employeeID") or sale["employeeID"])
    who = store.tables["Employee"].get(employee_id, {})
    store.insert("SaleVoid", {"createTime": store.now(), "reason": f"{who.get('firstName', '')} {who.get('lastName', '')} Void: ".lstrip(),
                              "saleID": sale["saleID"], "employeeID": employee_id, "shopID": sale["shopID"]})
    sale["voided"], sale["updatetime"] = True, store.now()
    if not sale["completed"]:
        sale["timeStamp"] = sale["updatetime"]
    return sale


def update_sale(store: Store, sale: dict, body: dict) -> dict:
    if sale["voided"]:
        raise WriteError(f"Sale {sale['saleID']} is voided and can not be changed.", 422)
    if typed(False, body.get("voided", False)):
        return void(store, sale, body)
    changes_money = body.get("SaleLines") or body.get("SalePayments") or not typed(True, body.get("completed", True))
    if sale["completed"] and changes_money:
        raise WriteError(f"Sale {sale['saleID']} is completed: its lines and payments can not be changed.", 422)
    header = {}
    if int(body.get("customerID") or 0):
        header["customerID"] = need(store, "Customer", body["customerID"], "Customer")
    for key, table in (("employeeID", "Employee"), ("registerID", "Register")):
        if body.get(key):
            header[key] = need(store, table, body[key], table)
    if body.get("shipToID"):
        header["shipToID"] = need(store, "ShipTo", body["shipToID"], "ShipTo")
    sale.update(header)
    sale.update({k: str(body[k]) for k in ("referenceNumber", "referenceNumberSource") if k in body})
    commit(store, header, body, sale)
    sale["updatetime"] = store.now()
    if not sale["completed"]:
        sale["timeStamp"] = sale["updatetime"]
    return sale


def archive_sale(store: Store, sale: dict) -> dict:
    """DELETE archives; sale.md: "You can't archive a completed sale." Holds of its layaways end."""
    if sale["completed"]:
        raise WriteError("You can't archive a completed sale.", 422)
    for line in lines_of(store, sale["saleID"]):
        saleline.release(store, line)
    sale["archived"], sale["updatetime"] = True, store.now()
    sale["timeStamp"] = sale["updatetime"]
    return sale
