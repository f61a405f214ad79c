"""X-Series sales and consignments -> orders, returns and stock movements. Pure functions.

Payments (what the till took) must fit the currency. X-Series keeps per-unit amounts to 5
decimals, so a discount that does not divide evenly leaves the sale total and its lines with
sub-cent digits: a sale's total is then its payments when they are that total rounded to the
minor unit, and its lines and line taxes are rounded to add up to it exactly (largest remainder,
`canonical.money.fit_to_total`), the rounding recorded on the order (`Order.rounding`). A return's
refund is likewise what the till paid out, its lines fitted to it.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from omnisync_pipelines.canonical.models import (
    Fulfilment,
    MovementKind,
    Order,
    OrderChannel,
    OrderLine,
    Payment,
    PaymentMethod,
    Rejection,
    Return,
    ReturnLine,
    StockMovement,
)
from omnisync_pipelines.canonical.money import currency_digits, fit_to_total, round_half_up, within_rounding
from omnisync_pipelines.connectors.lightspeed_x.mapping import (
    MappingError,
    decimal,
    minor_units,
    rejecting,
    round_minor,
    timestamp,
    whole,
)
from omnisync_pipelines.connectors.lightspeed_x.settings import SYSTEM

# statuses after which the goods have left the outlet and the money is taken or owed
COMPLETED = frozenset({"CLOSED", "ONACCOUNT", "ONACCOUNT_CLOSED", "LAYBY_CLOSED", "AWAITING_DISPATCH",
                       "AWAITING_PICKUP", "DISPATCHED_CLOSED", "PICKED_UP_CLOSED"})
FULFILMENT = {"AWAITING_PICKUP": Fulfilment.CLICK_AND_COLLECT, "PICKED_UP_CLOSED": Fulfilment.CLICK_AND_COLLECT,
              "AWAITING_DISPATCH": Fulfilment.SHIP_FROM_STORE, "DISPATCHED_CLOSED": Fulfilment.SHIP_FROM_STORE}
# payment type name (lower case) contains -> method; first match wins, so the specific words come first
DEFAULT_TENDERS: tuple[tuple[str, PaymentMethod], ...] = (
    ("gift", PaymentMethod.GIFT_CARD), ("voucher", PaymentMethod.GIFT_CARD),
    ("store credit", PaymentMethod.STORE_CREDIT), ("credit note", PaymentMethod.STORE_CREDIT),
    ("on account", PaymentMethod.STORE_CREDIT), ("loyalty", PaymentMethod.STORE_CREDIT),
    ("cash", PaymentMethod.CASH), ("card", PaymentMethod.CARD), ("credit", PaymentMethod.CARD),
    ("debit", PaymentMethod.CARD), ("eftpos", PaymentMethod.CARD), ("visa", PaymentMethod.CARD),
    ("mastercard", PaymentMethod.CARD), ("amex", PaymentMethod.CARD), ("other", PaymentMethod.OTHER),
)
OWN_SOURCE = "omnisync"  # `source` of the sales omnisync registers itself (see drafts.register_sale_payload)


def tender(payment: dict, tender_map: dict[str, str] | None = None) -> str:
    """Payment -> PaymentMethod: the configured map (by lower-case name, or `type:<payment_type_id>`)
    first, then the default keywords; an unknown tender is an error, never guessed as `other`."""
    name = (payment.get("name") or "").strip().lower()
    configured = {k.lower(): v for k, v in (tender_map or {}).items()}
    for key in (name, f"type:{payment.get('payment_type_id')}"):
        if key in configured:
            return PaymentMethod(configured[key]).value
    for word, method in DEFAULT_TENDERS:
        if word in name:
            return method.value
    raise MappingError("payments", f"unknown tender {payment.get('name')!r} "
                                   f"(payment type {payment.get('payment_type_id')!r}): add it to the tender map")


def live_lines(sale: dict) -> list[dict]:
    items = sale.get("line_items") or []
    if not isinstance(items, list) or not all(isinstance(line, dict) for line in items):
        raise MappingError("line_items", f"sale {sale.get('id')}: line_items is not a list of lines")
    return [line for line in items if line.get("status") != "VOIDED"]


def is_return(sale: dict) -> bool:
    """A return sale (`return_for` set), or a sale of nothing but negative lines."""
    try:
        lines = live_lines(sale)
    except MappingError:
        lines = []  # classified as a sale; its mapping rejects it naming line_items
    return bool(sale.get("return_for")) or (bool(lines) and all(_signed(line.get("quantity")) < 0 for line in lines))


def _signed(value) -> float:
    """A quantity's sign for classifying; a malformed one is left to the mapping to reject with its field."""
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def is_own_write(sale: dict) -> bool:
    return sale.get("source") == OWN_SOURCE


def order_number(sale: dict) -> str:
    """Invoice numbers restart per register sequence, so the outlet is part of the number."""
    outlet_short = (sale.get("outlet_id") or "").replace("-", "")[:8] or "x"
    return f"LSX-{outlet_short}-{sale.get('invoice_number') or sale.get('short_code') or sale['id']}"


def sale_gross(sale: dict, currency: str) -> int:
    return minor_units(decimal(sale.get("total_price"), "total_price") + decimal(sale.get("total_tax"), "total_tax"),
                       currency, "total_price")


def _location(sale: dict, location_map: dict[str, str]) -> str:
    if sale.get("outlet_id") not in location_map:
        raise MappingError("outlet_id", f"sale {sale.get('id')}: outlet {sale.get('outlet_id')} is not in the location map")
    return location_map[sale["outlet_id"]]


def _sku(line: dict, sku_of: dict[str, str], sale: dict) -> str:
    if line.get("product_id") not in sku_of:
        raise MappingError("line_items.product_id",
                           f"sale {sale.get('id')}: product {line.get('product_id')} unknown, without SKU or sharing its SKU")
    return sku_of[line["product_id"]]


def line_money(line: dict, currency: str) -> tuple[int, int, int, int, int]:
    """(quantity, unit gross before discount, line discount, line tax, line gross after discount).

    `price`, `tax` and `discount` are per unit, net of tax, `price` after the discount.
    """
    quantity = whole(line.get("quantity"), "line_items.quantity")
    net, tax = decimal(line.get("price"), "line_items.price"), decimal(line.get("tax") or 0, "line_items.tax")
    unit_discount = decimal(line.get("discount") or 0, "line_items.discount")
    gross_factor = (net + tax) / net if net else Decimal(1)
    count = abs(quantity)
    unit_after = round_minor(net + tax, currency)
    unit_before = round_minor(net + tax + unit_discount * gross_factor, currency)
    # per unit, from the two rounded unit prices: quantity x unit before - discount = line total, exactly
    discount = (unit_before - unit_after) * count if unit_discount else 0
    return quantity, unit_before, discount, round_minor(tax * count, currency), unit_after * count


def _exact_line(line: dict, currency: str) -> tuple[int, Decimal, Decimal, int, int]:
    """(quantity, exact line gross, exact line tax, unit gross before discount, unit gross after
    discount), the exact amounts in minor units with the POS's own decimals, the unit prices rounded."""
    quantity = whole(line.get("quantity"), "line_items.quantity")
    net, tax = decimal(line.get("price"), "line_items.price"), decimal(line.get("tax") or 0, "line_items.tax")
    unit_discount = decimal(line.get("discount") or 0, "line_items.discount")
    gross_factor = (net + tax) / net if net else Decimal(1)
    digits = currency_digits(currency)
    return (quantity, ((net + tax) * quantity).scaleb(digits), (tax * quantity).scaleb(digits),
            round_minor(net + tax + unit_discount * gross_factor, currency), round_minor(net + tax, currency))


def _sale_lines(sale: dict, currency: str, sku_of, paid: int) -> tuple[list[OrderLine], int, int, int]:
    """(lines, total gross, total tax, rounding) of a sale. The total is what the till took when the
    payments are the sale's gross rounded to the minor unit, else the gross rounded half-up (the
    engine then rejects the sale for payments that do not add up). Lines and taxes are fitted to add
    up to the totals exactly; a sale whose lines cannot be (they add up to a minor unit or more away
    from its total) keeps its lines rounded one by one, for the engine to reject naming the difference."""
    raw_lines = live_lines(sale)
    exact = [_exact_line(line, currency) for line in raw_lines]
    digits = currency_digits(currency)
    gross = (decimal(sale.get("total_price"), "total_price") + decimal(sale.get("total_tax"), "total_tax")).scaleb(digits)
    total = paid if within_rounding(paid, gross) else round_half_up(gross)
    total_tax = round_minor(decimal(sale.get("total_tax"), "total_tax"), currency)
    sold = all(quantity > 0 for quantity, *_ in exact)  # a line given back is not this fit's (the engine rejects it)
    totals = (fit_to_total([e[1] for e in exact], total) if sold else None) or [round_half_up(e[1]) for e in exact]
    taxes = (fit_to_total([e[2] for e in exact], total_tax) if sold else None) or [round_half_up(e[2]) for e in exact]
    lines = []
    for line, (quantity, _, _, unit_before, _), line_total, tax in zip(raw_lines, exact, totals, taxes, strict=True):
        if quantity > 0:  # the list price never below the price paid: the discount is what was taken off
            unit_before = max(unit_before, int((Decimal(line_total) / quantity).to_integral_value(ROUND_CEILING)))
            discount = unit_before * quantity - line_total
        else:
            _, unit_before, discount, tax, line_total = line_money(line, currency)
        lines.append(OrderLine(SYSTEM, sale["id"], line.get("id") or f"{sale['id']}:{line.get('sequence')}",
                               _sku(line, sku_of, sale), quantity, unit_before, discount, tax, line_total))
    rounding = total - sum(quantity * unit_after for quantity, *_, unit_after in exact)
    return lines, total, total_tax, rounding


def _payments(sale: dict, currency: str, tender_map: dict[str, str] | None) -> list[Payment]:
    return [Payment(SYSTEM, sale["id"], p.get("id") or f"{sale['id']}:{i}", tender(p, tender_map),
                    minor_units(p.get("amount"), currency, "payments.amount"), currency,
                    p.get("retailer_payment_type_id")) for i, p in enumerate(sale.get("payments") or [])]


def _sale(sale: dict, sku_of, location_map, currency, tender_map, email_of) -> tuple[Order, list[OrderLine], list[Payment]]:
    location_key = _location(sale, location_map)
    payments = _payments(sale, currency, tender_map)
    lines, total, total_tax, rounding = _sale_lines(sale, currency, sku_of, sum(p.amount for p in payments))
    created = timestamp(sale.get("sale_date") or sale.get("created_at"), "sale_date")
    if created is None:
        raise MappingError("sale_date", f"sale {sale.get('id')}: no sale date")
    customer = sale.get("customer_id") or None
    order = Order(
        SYSTEM, sale["id"], order_number(sale), OrderChannel.STORE.value, currency, total,
        total_tax, sum(line.discount for line in lines),
        sale.get("status") or "", created, location_key, customer, (email_of or {}).get(customer or ""),
        FULFILMENT.get(sale.get("status"), Fulfilment.IN_STORE).value, timestamp(sale.get("updated_at")),
        rounding=rounding,
    )
    return order, lines, payments


def map_sale(sale: dict, *, sku_of: dict[str, str], location_map: dict[str, str], currency: str,
             tender_map: dict[str, str] | None = None, email_of: dict[str, str] | None = None,
             ) -> tuple[Order, list[OrderLine], list[Payment]] | Rejection:
    return rejecting("orders", _sale, sale, sku_of, location_map, currency, tender_map, email_of)


def note_tags(note: str | None) -> dict[str, str]:
    """`key:value` words of a sale note (e.g. "order:WEB-1 reason:size") as a dict."""
    return dict(word.split(":", 1) for word in (note or "").split() if ":" in word and not word.startswith(":"))


def _reason(note: str | None) -> str | None:
    return note_tags(note).get("reason") or (note or "").strip() or None


def _taken(sale: dict, currency: str) -> int:
    """What the till took (negative: paid out) for a sale whose gross may have sub-cent digits: its
    payments when they are that gross rounded to the minor unit, else the gross, which must then fit."""
    payments = sale.get("payments") or []
    if payments:
        paid = sum(minor_units(p.get("amount"), currency, "payments.amount") for p in payments)
        gross = (decimal(sale.get("total_price"), "total_price") + decimal(sale.get("total_tax"), "total_tax"))
        if within_rounding(paid, gross.scaleb(currency_digits(currency))):
            return paid
    return sale_gross(sale, currency)


def _return(sale: dict, sku_of, location_map, currency) -> tuple[Return, list[ReturnLine]]:
    location_key = _location(sale, location_map)
    every = live_lines(sale)
    returned = [line for line in every if whole(line.get("quantity"), "line_items.quantity") < 0]
    refund = max(0, -_taken(sale, currency))
    # a pure return's lines are fitted to the refund the till paid out, as a sale's lines to its payments
    exact = [-_exact_line(line, currency)[1] for line in returned]
    amounts = (fit_to_total(exact, refund) if len(returned) == len(every) else None) or [
        line_money(line, currency)[4] for line in returned]
    lines = [ReturnLine(SYSTEM, sale["id"], line.get("id") or f"{sale['id']}:{line.get('sequence')}",
                        _sku(line, sku_of, sale), -whole(line.get("quantity"), "line_items.quantity"), amount)
             for line, amount in zip(returned, amounts, strict=True)]
    created = timestamp(sale.get("sale_date") or sale.get("created_at"), "sale_date")
    if created is None:
        raise MappingError("sale_date", f"return {sale.get('id')}: no sale date")
    # a return of an online order has no sale to point at: the till records the order number in the note
    original = sale.get("return_for") or note_tags(sale.get("note")).get("order")
    return Return(SYSTEM, sale["id"], currency, refund, created, original, location_key,
                  _reason(sale.get("note"))), lines


def map_return(sale: dict, *, sku_of: dict[str, str], location_map: dict[str, str], currency: str,
               ) -> tuple[Return, list[ReturnLine]] | Rejection:
    """original_order_ref = the returned sale's id (`return_for`), or the online order named in the note."""
    return rejecting("returns", _return, sale, sku_of, location_map, currency)


def _sale_movements(sale: dict, sku_of, location_map) -> list[StockMovement]:
    if sale.get("status") not in COMPLETED:
        return []
    location_key = _location(sale, location_map)
    moved = []
    for line in live_lines(sale):
        quantity = whole(line.get("quantity"), "line_items.quantity")
        if quantity == 0:
            continue
        kind = MovementKind.RETURN if quantity < 0 else MovementKind.SALE
        moved.append(StockMovement(f"{SYSTEM}:sale:{sale['id']}:{line.get('id') or line.get('sequence')}", SYSTEM,
                                   _sku(line, sku_of, sale), location_key, -quantity, kind.value,
                                   f"sale:{sale['id']}", timestamp(sale.get("sale_date") or sale.get("created_at"), "sale_date")))
    return moved


def map_sale_movements(sale: dict, *, sku_of: dict[str, str], location_map: dict[str, str]) -> list[StockMovement] | Rejection:
    """Completed sales move stock: a sold line -qty (sale), a returned line +qty (return)."""
    return rejecting("stock_movements", _sale_movements, sale, sku_of, location_map)


def _outlet(consignment: dict, key: str, location_map: dict[str, str]) -> str:
    if consignment.get(key) not in location_map:
        raise MappingError(key, f"consignment {consignment.get('id')}: outlet {consignment.get(key)} is not in the location map")
    return location_map[consignment[key]]


def _consignment_movements(consignment: dict, lines: list[dict], sku_of, location_map) -> list[StockMovement]:
    kind, status = consignment.get("type"), consignment.get("status")
    cancelled = kind == "OUTLET" and status == "CANCELLED"
    sent = kind == "OUTLET" and status in ("SENT", "DISPATCHED", "RECEIVED", "CANCELLED")
    returned = kind == "RETURN" and status == "SENT"
    received = status == "RECEIVED" and kind in ("OUTLET", "SUPPLIER")
    if not (sent or returned or received):
        return []
    ref = f"consignment:{consignment['id']}"
    sent_at = timestamp(consignment.get("consignment_date") or consignment.get("created_at"))
    received_at = timestamp(consignment.get("received_at")) or sent_at
    changed_at = timestamp(consignment.get("updated_at")) or sent_at
    moved = []
    for line in lines:
        if line.get("product_id") not in sku_of:
            raise MappingError("product_id", f"{ref}: product {line.get('product_id')} unknown, without SKU or sharing its SKU")
        sku, base = sku_of[line["product_id"]], f"{SYSTEM}:{ref}:{line['product_id']}"
        # `count` is nullable (ConsignmentProduct): a line with none expected none (the vendor's example)
        count = whole(line["count"], "count") if line.get("count") is not None else 0
        arrived = whole(line["received"], "received") if line.get("received") is not None else count
        for name, units in (("count", count), ("received", arrived)):
            if units < 0:  # a consignment counts what moves; a negative count would move stock backwards
                raise MappingError(name, f"{ref}: product {line['product_id']} has {name} {units}, below zero")
        if sent:
            moved.append(StockMovement(f"{base}:out", SYSTEM, sku, _outlet(consignment, "source_outlet_id", location_map),
                                       -count, MovementKind.TRANSFER_OUT.value, ref, sent_at))
        if cancelled:  # nets the out to zero, whether or not the SENT state was read before
            moved.append(StockMovement(f"{base}:cancel", SYSTEM, sku, _outlet(consignment, "source_outlet_id", location_map),
                                       count, MovementKind.TRANSFER_IN.value, ref, changed_at))
        if returned:  # a return to the supplier leaves the outlet when sent
            moved.append(StockMovement(f"{base}:out", SYSTEM, sku, _outlet(consignment, "outlet_id", location_map),
                                       -count, MovementKind.ADJUSTMENT.value, ref, changed_at))
        if received:
            in_kind = MovementKind.TRANSFER_IN if kind == "OUTLET" else MovementKind.RECEIVING
            moved.append(StockMovement(f"{base}:in", SYSTEM, sku, _outlet(consignment, "outlet_id", location_map),
                                       arrived, in_kind.value, ref, received_at))
    return [m for m in moved if m.quantity]


def map_consignment_movements(consignment: dict, lines: list[dict], *, sku_of: dict[str, str],
                              location_map: dict[str, str]) -> list[StockMovement] | Rejection:
    """OUTLET SENT -> transfer_out at the source; RECEIVED -> transfer_in at the destination
    (plus the transfer_out, same id, if the SENT state was never read); OUTLET CANCELLED -> the
    transfer_out and its reversal at the source (the goods went back); SUPPLIER RECEIVED -> receiving
    of the `received` counts; RETURN (to a supplier) SENT -> a negative adjustment at the outlet."""
    return rejecting("stock_movements", _consignment_movements, consignment, lines, sku_of, location_map)
