"""Sales as the 0.9 `POST /api/register_sales` writes them and the 2.0 API reads them.

A sale moves stock once, when it first reaches a status in which the goods have left (or come back
to) the outlet; saving it again with the same `id` updates it without moving stock twice.
"""

from __future__ import annotations

from decimal import Decimal

from omnisync_pipelines.sandbox.emulators.lightspeed_x.store import Store, now_iso

STATUSES = {
    "SAVED", "CLOSED", "ONACCOUNT", "LAYBY", "ONACCOUNT_CLOSED", "LAYBY_CLOSED", "AWAITING_DISPATCH",
    "AWAITING_PICKUP", "DISPATCHED_CLOSED", "PICKED_UP_CLOSED", "VOIDED", "SERVICE", "SERVICE_CLOSED",
}
MOVES_STOCK = {"CLOSED", "ONACCOUNT", "ONACCOUNT_CLOSED", "AWAITING_DISPATCH", "AWAITING_PICKUP", "DISPATCHED_CLOSED",
               "PICKED_UP_CLOSED", "LAYBY_CLOSED"}
MUST_BALANCE = {"CLOSED", "DISPATCHED_CLOSED", "PICKED_UP_CLOSED", "LAYBY_CLOSED"}


class SaleError(ValueError):
    def __init__(self, status: int, message: str, details: dict | None = None):
        super().__init__(message)
        self.status = status
        self.details = details or {}


def _money(value) -> Decimal:
    return Decimal(str(value or 0))


def save_register_sale(store: Store, body: dict) -> dict:
    register = store.get("registers", body.get("register_id") or "")
    if register is None:
        raise SaleError(400, "register_id is required and must name a register", {"register_id": body.get("register_id")})
    status = body.get("status", "SAVED")
    if status not in STATUSES:
        raise SaleError(400, f"invalid status {status!r}")
    existing = store.get("sales", body["id"]) if body.get("id") else None
    if body.get("id") and existing is None:
        raise SaleError(404, f"sale {body['id']} not found")
    if body.get("customer_id") and store.get("customers", body["customer_id"]) is None:
        raise SaleError(400, "unknown customer_id", {"customer_id": body["customer_id"]})
    lines = [_line(store, raw, i) for i, raw in enumerate(body.get("register_sale_products") or [])]
    payments = [_payment(store, raw) for raw in body.get("register_sale_payments") or []]
    if existing is not None:
        lines = lines or existing["line_items"]
        payments = existing["payments"] + payments
    total_price = sum(_money(x["price"]) * x["quantity"] for x in lines)
    total_tax = sum(_money(x["tax"]) * x["quantity"] for x in lines)
    if status in MUST_BALANCE:
        _check_balance(payments, total_price + total_tax)
    sale = dict(existing) if existing else {
        "id": store.new_id(), "outlet_id": register["outlet_id"], "register_id": register["id"],
        "created_at": now_iso(), "invoice_number": body.get("invoice_number") or _next_invoice(store),
        "return_for": None, "_stock_moved": False,
    }
    sale.update({
        "user_id": body.get("user_id", sale.get("user_id")),
        "customer_id": body.get("customer_id", sale.get("customer_id")),
        "sale_date": body.get("sale_date") or sale.get("sale_date") or now_iso(),
        "status": status, "note": body.get("note", sale.get("note", "")),
        "source": body.get("source", sale.get("source", "USER")), "source_id": body.get("source_id", sale.get("source_id")),
        "receipt_number": sale["invoice_number"], "updated_at": now_iso(),
        "total_price": float(total_price), "total_tax": float(total_tax),
        "line_items": lines, "payments": payments,
        "taxes": _taxes(lines),
    })
    return _settle_stock(store, sale)


def _check_balance(payments: list[dict], total: Decimal) -> None:
    """A sale can only be closed (at the till, or by fulfilling it) once its payments cover it."""
    paid = sum((_money(p["amount"]) for p in payments), Decimal(0))
    if paid.quantize(Decimal("0.01")) != total.quantize(Decimal("0.01")):
        raise SaleError(400, f"payments ({paid}) do not balance the sale total ({total})",
                        {"paid": float(paid), "total": float(total)})


def _settle_stock(store: Store, sale: dict) -> dict:
    if sale["status"] == "VOIDED" and sale["_stock_moved"]:  # voiding a sale puts its goods back
        for line in sale["line_items"]:
            if line["status"] != "VOIDED":
                store.move_stock(line["product_id"], sale["outlet_id"], int(line["quantity"]))
        sale["_stock_moved"] = False
    elif sale["status"] in MOVES_STOCK and not sale["_stock_moved"]:
        for line in sale["line_items"]:
            if line["status"] != "VOIDED":
                store.move_stock(line["product_id"], sale["outlet_id"], -int(line["quantity"]))
        sale["_stock_moved"] = True
    return store.bump("sales", sale)


def _line(store: Store, raw: dict, sequence: int) -> dict:
    product = store.get("products", raw.get("product_id") or "")
    if product is None:
        raise SaleError(400, "unknown product_id in register_sale_products", {"product_id": raw.get("product_id")})
    quantity = raw.get("quantity", 1)
    if int(quantity) != quantity:
        raise SaleError(400, "quantity must be a whole number", {"quantity": quantity})
    quantity = int(quantity)
    price, tax, discount = _money(raw.get("price")), _money(raw.get("tax")), _money(raw.get("discount"))
    return {
        "id": raw.get("id") or store.new_id(), "product_id": product["id"], "quantity": quantity,
        "price": float(price), "tax": float(tax), "discount": float(discount), "tax_id": raw.get("tax_id"),
        "price_total": float(price * quantity), "tax_total": float(tax * quantity),
        "discount_total": float(discount * quantity), "unit_price": float(price), "unit_tax": float(tax),
        "unit_discount": float(discount), "total_price": float(price * quantity), "total_tax": float(tax * quantity),
        "sequence": int(raw.get("sequence", sequence)), "status": raw.get("status", "CONFIRMED"),
        "is_return": quantity < 0, "note": raw.get("note"),
    }


def _payment(store: Store, raw: dict) -> dict:
    payment_type = store.get("payment_types", raw.get("retailer_payment_type_id") or "")
    if payment_type is None:
        raise SaleError(400, "unknown retailer_payment_type_id", {"retailer_payment_type_id": raw.get("retailer_payment_type_id")})
    return {
        "id": store.new_id(), "retailer_payment_type_id": payment_type["id"],
        "payment_type_id": str(payment_type["type_id"]),  # text on a sale payment (Payment schema)
        "name": payment_type["name"], "amount": float(_money(raw.get("amount"))),
        "payment_date": raw.get("payment_date") or now_iso(),
    }


def _taxes(lines: list[dict]) -> list[dict]:
    by_tax: dict[str, Decimal] = {}
    for line in lines:
        if line.get("tax_id"):
            by_tax[line["tax_id"]] = by_tax.get(line["tax_id"], Decimal(0)) + _money(line["tax"]) * line["quantity"]
    return [{"id": tax_id, "amount": float(amount)} for tax_id, amount in by_tax.items()]


def _next_invoice(store: Store) -> str:
    store.invoice_counter += 1
    return str(store.invoice_counter)


def start_return(store: Store, sale_id: str) -> dict:
    """`PUT /api/2.0/sales/{id}/actions/return`: a SAVED sale with the lines negated, linked to the original."""
    original = store.get("sales", sale_id)
    if original is None:
        raise SaleError(404, f"sale {sale_id} not found")
    if original["status"] not in MOVES_STOCK:
        raise SaleError(400, f"sale {sale_id} is {original['status']} and cannot be returned")
    lines = []
    for line in original["line_items"]:
        returned = {**line, "id": store.new_id(), "quantity": -line["quantity"], "is_return": True,
                    "price_total": -line["price_total"], "tax_total": -line["tax_total"],
                    "total_price": -line["total_price"], "total_tax": -line["total_tax"]}
        lines.append(returned)
    sale = {
        "id": store.new_id(), "outlet_id": original["outlet_id"], "register_id": original["register_id"],
        "user_id": original["user_id"], "customer_id": original["customer_id"], "created_at": now_iso(),
        "updated_at": now_iso(), "sale_date": now_iso(), "status": "SAVED", "note": "",
        "invoice_number": _next_invoice(store), "return_for": original["id"], "source": "USER", "source_id": None,
        "total_price": -original["total_price"], "total_tax": -original["total_tax"],
        "line_items": lines, "payments": [], "taxes": [], "_stock_moved": False,
    }
    sale["receipt_number"] = sale["invoice_number"]
    return store.bump("sales", sale)


FULFILLED = {("AWAITING_PICKUP", "PICKED_UP"): "PICKED_UP_CLOSED", ("AWAITING_DISPATCH", "SHIPPED"): "DISPATCHED_CLOSED"}


def fulfill(store: Store, sale_id: str, fulfillment_type: str) -> dict:
    sale = store.get("sales", sale_id)
    if sale is None:
        raise SaleError(404, f"sale {sale_id} not found")
    target = FULFILLED.get((sale["status"], fulfillment_type))
    if target is None:
        raise SaleError(400, f"a {sale['status']} sale cannot be fulfilled as {fulfillment_type}")
    if target in MUST_BALANCE:
        _check_balance(sale["payments"], _money(sale["total_price"]) + _money(sale["total_tax"]))
    fulfillment = {"id": store.new_id(), "sale_id": sale["id"], "outlet_id": sale["outlet_id"],
                   "user_id": sale.get("user_id"), "status": fulfillment_type, "created_at": now_iso(),
                   "line_items": [{"id": store.new_id(), "product_id": x["product_id"], "quantity": x["quantity"]}
                                  for x in sale["line_items"] if x["status"] != "VOIDED"]}
    sale = {**sale, "status": target, "updated_at": now_iso(), "_fulfillments": [*sale.get("_fulfillments", []), fulfillment]}
    _settle_stock(store, sale)
    return fulfillment


def fulfillments(sale: dict) -> list[dict]:
    """`GET /sales/{id}/fulfillments`: the document's Fulfillment objects (`status` SHIPPED / PICKED_UP)."""
    return [{k: v for k, v in f.items() if v is not None} for f in sale.get("_fulfillments", [])]


# the document types these as strings without `nullable`: a sale without them leaves them out
OMITTED_WHEN_NULL = ("customer_id", "source_id", "user_id")


def public(sale: dict) -> dict:
    return {k: v for k, v in sale.items() if not k.startswith("_") and not (v is None and k in OMITTED_WHEN_NULL)}
