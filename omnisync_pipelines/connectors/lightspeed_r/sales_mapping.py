"""R-Series Sales -> orders and returns. Pure functions.

A store order is a completed, non-voided Sale of positive lines that omnisync did not create itself
(`referenceNumberSource` "omnisync" marks the open sales of click-and-collect and ship-from-store).
A return is a completed, non-voided Sale of negative lines: a refund of a till sale (each line's
`parentSaleLineID` names the original line, whose sale is the original order) or of an online order
(`referenceNumber` = its orderNumber, `referenceNumberSource` "commercetools"); the reason code is
the refund lines' Note. Amounts: a line's `calcTotal` is what it costs after discounts and with tax;
the order's total is what the till took (its payments) when they are its `total` rounded to the
minor unit, and the lines are fitted to add up to it exactly (`canonical.money.fit_to_total`).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from omnisync_pipelines.canonical.models import (
    Fulfilment,
    Order,
    OrderChannel,
    OrderLine,
    Payment,
    PaymentMethod,
    Rejection,
    Return,
    ReturnLine,
)
from omnisync_pipelines.canonical.money import currency_digits, fit_to_total, round_half_up, within_rounding
from omnisync_pipelines.connectors.lightspeed_r import shapes
from omnisync_pipelines.connectors.lightspeed_r.mapping import (
    MappingError,
    minor_units,
    number,
    rejecting,
    round_minor,
    timestamp,
    whole,
)
from omnisync_pipelines.connectors.lightspeed_r.settings import SYSTEM

OWN_SOURCE = "omnisync"  # referenceNumberSource of the open sales omnisync creates for fulfilment
WEB_SOURCE = "commercetools"  # referenceNumberSource of a till refund of an online order
SALE_RELATIONS = ["SaleLines", "SalePayments", "SalePayments.PaymentType"]
RETURN_RELATIONS = ["SaleLines", "SaleLines.Note", "SalePayments", "SalePayments.PaymentType"]
# payment type name or type (lower case) contains -> method; first match wins, specific words first
DEFAULT_TENDERS: tuple[tuple[str, PaymentMethod], ...] = (
    ("gift", PaymentMethod.GIFT_CARD), ("voucher", PaymentMethod.GIFT_CARD),
    ("store credit", PaymentMethod.STORE_CREDIT), ("credit account", PaymentMethod.STORE_CREDIT),
    ("on account", PaymentMethod.STORE_CREDIT), ("loyalty", PaymentMethod.STORE_CREDIT),
    ("cash", PaymentMethod.CASH), ("card", PaymentMethod.CARD), ("credit", PaymentMethod.CARD),
    ("debit", PaymentMethod.CARD), ("visa", PaymentMethod.CARD), ("mastercard", PaymentMethod.CARD),
    ("amex", PaymentMethod.CARD), ("other", PaymentMethod.OTHER),
)


def lines_of(sale: dict) -> list[dict]:
    return shapes.many(sale.get("SaleLines"), "SaleLine")


def payments_of(sale: dict) -> list[dict]:
    return [p for p in shapes.many(sale.get("SalePayments"), "SalePayment") if not shapes.flag(p.get("archived"))]


def _quantity(line: dict) -> int:
    try:
        return shapes.integer(line.get("unitQuantity"))
    except ValueError:
        return 0  # classified as a sale; the mapping rejects it naming unitQuantity


FLAGS = ("completed", "voided", "archived")


def _unreadable_flags(sale: dict) -> list[str]:
    """The sale's state flags that are neither true nor false (the API prints "true" / "false")."""
    return [name for name in FLAGS if not isinstance(sale.get(name), bool)
            and shapes.text(sale.get(name)).strip().lower() not in ("true", "false", "")]


def is_settled(sale: dict) -> bool:
    """Completed and neither voided nor archived: the goods have left (or come back) and the money moved.
    A sale whose flags cannot be read counts as settled, so that its mapping rejects it (naming the flag)
    rather than it being passed over in silence."""
    if _unreadable_flags(sale):
        return True
    return shapes.flag(sale.get("completed")) and not shapes.flag(sale.get("voided")) \
        and not shapes.flag(sale.get("archived"))


def _check_flags(sale: dict) -> None:
    for name in _unreadable_flags(sale):
        raise MappingError(name, f"sale {sale.get('saleID')}: {name} is {shapes.text(sale.get(name))[:40]!r}, "
                                 "neither true nor false")


def _check_balance(sale: dict, currency: str, paid: int) -> None:
    """A completed sale's payments add up to its total (cash over a positive total is given back as
    change, so what is left is the total): a till never completes one that does not balance."""
    exact = number(sale, "total").scaleb(currency_digits(currency))
    if not within_rounding(paid, exact):
        raise MappingError("SalePayments.amount", f"sale {sale.get('saleID')}: payments of {paid} minor units "
                                                  f"do not balance the total {exact.normalize()}")


def is_own_write(sale: dict) -> bool:
    return shapes.text(sale.get("referenceNumberSource")).strip().lower() == OWN_SOURCE


def is_return(sale: dict) -> bool:
    lines = lines_of(sale)
    return bool(lines) and all(_quantity(line) < 0 for line in lines)


def is_store_order(sale: dict) -> bool:
    return is_settled(sale) and not is_return(sale) and not is_own_write(sale)


def tender(payment: dict, tender_map: dict[str, str] | None = None) -> str:
    """SalePayment -> PaymentMethod: the configured map (payment type name, lower case, or
    `type:<paymentTypeID>`) first, then keywords of the type's name and kind; unknown is an error."""
    kind = payment.get("PaymentType") if isinstance(payment.get("PaymentType"), dict) else {}
    name = shapes.text(kind.get("name")).strip().lower()
    type_id = shapes.text(payment.get("paymentTypeID"))
    configured = {k.lower(): v for k, v in (tender_map or {}).items()}
    for key in (name, f"type:{type_id}"):
        if key and key in configured:
            return PaymentMethod(configured[key]).value
    for text in (name, shapes.text(kind.get("type")).strip().lower()):
        for word, method in DEFAULT_TENDERS:
            if text and word in text:
                return method.value
    raise MappingError("SalePayments", f"unknown tender {kind.get('name')!r} (paymentTypeID {type_id}): "
                                       "add it to the tender map")


def _location(sale: dict, location_map: dict[str, str]) -> str:
    shop_id = shapes.text(sale.get("shopID"))
    if shop_id not in location_map:
        raise MappingError("shopID", f"sale {sale.get('saleID')}: shop {shop_id} is not in the location map")
    return location_map[shop_id]


def _sku(line: dict, sku_of: dict[str, str], sale: dict) -> str:
    item_id = shapes.text(line.get("itemID"))
    if item_id not in sku_of:
        raise MappingError("SaleLines.itemID", f"sale {sale.get('saleID')}: item {item_id} unknown, without SKU or sharing its SKU")
    return sku_of[item_id]


def _exact(line: dict, currency: str) -> tuple[Decimal, Decimal]:
    """(line gross after discount, line tax), exact, in minor units."""
    digits = currency_digits(currency)
    tax = (number(line, "calcTax1", required=False) or 0) + (number(line, "calcTax2", required=False) or 0)
    return number(line, "calcTotal").scaleb(digits), Decimal(tax).scaleb(digits)


def unit_gross(line: dict, currency: str, tax_inclusive: bool) -> int:
    """The unit price before discount, gross: `unitPrice` where prices include tax, else grossed up by
    the line's rates."""
    price = number(line, "unitPrice")
    if not tax_inclusive and shapes.flag(line.get("tax")):
        rates = (number(line, "tax1Rate", required=False) or 0) + (number(line, "tax2Rate", required=False) or 0)
        price *= 1 + rates
    return round_minor(price, currency)


def sale_total(sale: dict, currency: str, paid: int) -> int:
    exact = number(sale, "total").scaleb(currency_digits(currency))
    return paid if within_rounding(paid, exact) else round_half_up(exact)


def _payments(sale: dict, currency: str, tender_map) -> list[Payment]:
    sale_id = shapes.text(sale["saleID"])
    return [Payment(SYSTEM, sale_id, shapes.text(p.get("salePaymentID")) or f"{sale_id}:{i}", tender(p, tender_map),
                    minor_units(number(p, "amount"), currency, "SalePayments.amount"), currency,
                    shapes.ident(p.get("paymentTypeID"))) for i, p in enumerate(payments_of(sale))]


def _sale(sale, sku_of, location_map, currency, tender_map, email_of, tax_inclusive):
    sale_id = shapes.text(sale["saleID"])
    _check_flags(sale)
    location_key = _location(sale, location_map)
    payments = _payments(sale, currency, tender_map)
    raw_lines = lines_of(sale)
    if not raw_lines:
        raise MappingError("SaleLines", f"sale {sale_id}: no lines")
    _check_balance(sale, currency, sum(p.amount for p in payments))
    total = sale_total(sale, currency, sum(p.amount for p in payments))
    exact = [_exact(line, currency) for line in raw_lines]
    tax_total = round_half_up(sum((e[1] for e in exact), Decimal(0)))
    totals = fit_to_total([e[0] for e in exact], total) or [round_half_up(e[0]) for e in exact]
    taxes = fit_to_total([e[1] for e in exact], tax_total) or [round_half_up(e[1]) for e in exact]
    lines = []
    for line, line_total, tax in zip(raw_lines, totals, taxes, strict=True):
        quantity = whole(line, "unitQuantity")
        if quantity <= 0:
            raise MappingError("SaleLines.unitQuantity", f"sale {sale_id}: a line of {quantity} units in a sale")
        unit = max(unit_gross(line, currency, tax_inclusive),
                   int((Decimal(line_total) / quantity).to_integral_value(ROUND_CEILING)))
        lines.append(OrderLine(SYSTEM, sale_id, shapes.text(line.get("saleLineID")), _sku(line, sku_of, sale),
                               quantity, unit, unit * quantity - line_total, tax, line_total))
    created = timestamp(sale.get("completeTime"), "completeTime") or timestamp(sale.get("createTime"), "createTime")
    if created is None:
        raise MappingError("completeTime", f"sale {sale_id}: no completeTime")
    customer = shapes.ident(sale.get("customerID"))
    fulfilment = Fulfilment.SHIP_FROM_STORE if shapes.ident(sale.get("shipToID")) else Fulfilment.IN_STORE
    order = Order(SYSTEM, sale_id, f"LSR-{shapes.text(sale.get('ticketNumber')).strip() or sale_id}",
                  OrderChannel.STORE.value, currency, total, tax_total, sum(line.discount for line in lines),
                  "completed", created, location_key, customer, (email_of or {}).get(customer or ""),
                  fulfilment.value, timestamp(sale.get("updatetime"), "updatetime") or timestamp(sale.get("timeStamp")),
                  rounding=total - sum(round_half_up(e[0]) for e in exact))
    return order, lines, payments


def map_sale(sale: dict, *, sku_of: dict[str, str], location_map: dict[str, str], currency: str,
             tender_map: dict[str, str] | None = None, email_of: dict[str, str] | None = None,
             tax_inclusive: bool = True) -> tuple[Order, list[OrderLine], list[Payment]] | Rejection:
    """`tax_inclusive`: the sale's TaxCategory says prices include tax (`isTaxInclusive`)."""
    return rejecting("orders", _sale, sale, sku_of, location_map, currency, tender_map, email_of, tax_inclusive)


def reason_of(sale: dict) -> str | None:
    """The refund's reason code: the first refund line's Note."""
    for line in lines_of(sale):
        note = line.get("Note")
        text = shapes.text(note.get("note")).strip() if isinstance(note, dict) else ""
        if text:
            return text
    return None


def original_line_ids(sale: dict) -> set[str]:
    return {ref for line in lines_of(sale) if (ref := shapes.ident(line.get("parentSaleLineID")))}


def _return(sale, sku_of, location_map, currency, sale_of_line):
    sale_id = shapes.text(sale["saleID"])
    _check_flags(sale)
    location_key = _location(sale, location_map)
    raw_lines = lines_of(sale)
    payments = payments_of(sale)
    paid = sum(minor_units(number(p, "amount"), currency, "SalePayments.amount") for p in payments)
    if payments:
        _check_balance(sale, currency, paid)
    unknown = sorted(ref for ref in original_line_ids(sale) if ref not in sale_of_line)
    if unknown:
        raise MappingError("SaleLines.parentSaleLineID", f"refund {sale_id}: refunds sale line(s) {unknown[:5]}, "
                                                         "which no sale holds")
    taken = sale_total(sale, currency, paid) if payments else round_half_up(
        number(sale, "total").scaleb(currency_digits(currency)))
    refund = max(0, -taken)  # what the till paid out
    exact = [-_exact(line, currency)[0] for line in raw_lines]
    amounts = fit_to_total(exact, refund) or [round_half_up(e) for e in exact]
    lines = [ReturnLine(SYSTEM, sale_id, shapes.text(line.get("saleLineID")), _sku(line, sku_of, sale),
                        -whole(line, "unitQuantity"), amount, shapes.ident(line.get("parentSaleLineID")))
             for line, amount in zip(raw_lines, amounts, strict=True)]
    created = timestamp(sale.get("completeTime"), "completeTime") or timestamp(sale.get("createTime"), "createTime")
    if created is None:
        raise MappingError("completeTime", f"refund {sale_id}: no completeTime")
    originals = {sale_of_line.get(ref) for ref in original_line_ids(sale)} - {None}
    if len(originals) > 1:
        raise MappingError("SaleLines.parentSaleLineID", f"refund {sale_id}: lines of several sales {sorted(originals)}")
    original = next(iter(originals), None)
    if original is None and shapes.text(sale.get("referenceNumberSource")).strip().lower() == WEB_SOURCE:
        original = shapes.text(sale.get("referenceNumber")).strip() or None
    return Return(SYSTEM, sale_id, currency, refund, created, original, location_key, reason_of(sale)), lines


def map_return(sale: dict, *, sku_of: dict[str, str], location_map: dict[str, str], currency: str,
               sale_of_line: dict[str, str] | None = None) -> tuple[Return, list[ReturnLine]] | Rejection:
    """original_order_ref = the refunded sale's saleID (through `sale_of_line`: saleLineID -> saleID),
    or the online order's number a till refund of a web order carries in `referenceNumber`."""
    return rejecting("returns", _return, sale, sku_of, location_map, currency, sale_of_line or {})
