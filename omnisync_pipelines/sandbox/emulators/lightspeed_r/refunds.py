"""`POST Sale/{saleID or ticketNumber}/refund` (sale-refund.md, sales tutorial): a refund Sale of the
whole original (every line with units left) or of the given `parentSaleLineID` lines, negative
quantities capped by what is left of each parent, completed by default (then it must balance and the
units go back to qoh), paid back by the given payment types (a single payment without `amount`
refunds the whole total)."""

from __future__ import annotations

from omnisync_pipelines.sandbox.emulators.lightspeed_r import lines as saleline
from omnisync_pipelines.sandbox.emulators.lightspeed_r import sales
from omnisync_pipelines.sandbox.emulators.lightspeed_r.errors import WriteError
from omnisync_pipelines.sandbox.emulators.lightspeed_r.store import Store
from omnisync_pipelines.sandbox.emulators.lightspeed_r.writes import need, typed
from omnisync_pipelines.sandbox.emulators.lightspeed_r.xmljson import unwrap


def find_sale(store: Store, ref: str) -> dict | None:
    if not ref.isdigit():
        return None
    sale = store.tables["Sale"].get(int(ref))
    return sale or next((s for s in store.tables["Sale"].values() if s["ticketNumber"] == ref), None)


def refund(store: Store, original: dict, body: dict) -> dict:
    if not original["completed"] or original["voided"]:
        raise WriteError(f"Sale {original['saleID']} is not a completed sale and can not be refunded.", 422)
    header = {"shopID": need(store, "Shop", body.get("shopID"), "Shop"),
              "registerID": need(store, "Register", body.get("registerID"), "Register"),
              "employeeID": need(store, "Employee", body.get("employeeID"), "Employee"),
              "customerID": original["customerID"]}
    parents = {x["saleLineID"]: x for x in sales.lines_of(store, original["saleID"]) if x["unitQuantity"] > 0}
    asked = unwrap(body.get("SaleLines"), "SaleLine")
    if not asked:
        asked = [{"parentSaleLineID": i, "unitQuantity": -saleline.refundable(store, p)}
                 for i, p in parents.items() if saleline.refundable(store, p) > 0]
        if not asked:
            raise WriteError(f"Nothing is left to refund on Sale {original['saleID']}.", 422)
    planned, new = {}, []
    for given in asked:
        parent = parents.get(int(given.get("parentSaleLineID") or 0))
        if parent is None:
            raise WriteError(f"SaleLine {given.get('parentSaleLineID')} is not a line of Sale {original['saleID']}.")
        qty = int(float(given.get("unitQuantity") or -saleline.refundable(store, parent)))
        share = abs(qty) / parent["unitQuantity"]
        line_given = {**given, "itemID": parent["itemID"], "unitQuantity": qty, "unitPrice": parent["unitPrice"],
                      "discountAmount": round(parent["discountAmount"] * share, 2), "tax": parent["tax"],
                      "parentSaleLineID": parent["saleLineID"]}
        new.append((saleline.build(store, line_given, shop_id=header["shopID"], employee_id=header["employeeID"],
                                   customer_id=header["customerID"], planned=planned), given))
    total = round(sum(line["calcTotal"] for line, _ in new), 2)
    payments = unwrap(body.get("SalePayments"), "SalePayment")
    if not payments or not all(p.get("paymentTypeID") for p in payments):
        raise WriteError("At least one SalePayment with a paymentTypeID must say how the money is refunded.")
    if len(payments) == 1 and "amount" not in payments[0]:
        payments = [{**payments[0], "amount": total}]
    elif any("amount" not in p for p in payments):
        raise WriteError("Every SalePayment needs an amount when several are given.")
    completed = typed(True, body.get("completed", True))
    return sales.commit(store, header, {"SalePayments": {"SalePayment": payments}, "completed": completed},
                        None, (new, []))
