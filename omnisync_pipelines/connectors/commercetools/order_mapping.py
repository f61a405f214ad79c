"""Pure mapping of commercetools orders (and their returnInfo) into canonical records.

A POS sale imported into commercetools is a store-channel order: it carries `custom.fields.posSaleId`
(type `omnisync-order`) and its store as `custom.fields.storeKey` or `store.key`.
"""

from __future__ import annotations

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
    normalise_email,
)
from omnisync_pipelines.connectors.commercetools.mapping import (
    Invalid,
    cents,
    custom_fields,
    guarded,
    ref_id,
    reject,
    require,
    timestamp,
)
from omnisync_pipelines.connectors.commercetools.settings import SYSTEM

PAYMENT_METHODS = {
    "cash": PaymentMethod.CASH,
    "card": PaymentMethod.CARD,
    "credit card": PaymentMethod.CARD,
    "creditcard": PaymentMethod.CARD,
    "debit card": PaymentMethod.CARD,
    "ec": PaymentMethod.CARD,
    "visa": PaymentMethod.CARD,
    "mastercard": PaymentMethod.CARD,
    "amex": PaymentMethod.CARD,
    "gift card": PaymentMethod.GIFT_CARD,
    "giftcard": PaymentMethod.GIFT_CARD,
    "voucher": PaymentMethod.GIFT_CARD,
    "store credit": PaymentMethod.STORE_CREDIT,
}
# Transactions that moved money: charges in, refunds out.
TENDER_SIGNS = {"Charge": 1, "Refund": -1}
OrderRows = tuple[Order, list[OrderLine], list[Payment]]


def _required_time(value, field: str):
    parsed = timestamp(value, field)
    if parsed is None:
        raise Invalid(field, "missing")
    return parsed


def payment_method(value: str | None) -> str:
    key = (value or "").strip().lower().replace("_", " ").replace("-", " ")
    return PAYMENT_METHODS.get(key, PaymentMethod.OTHER).value


def _amount(money: dict | None, field: str, default: int = 0) -> int:
    return cents(money, field)[1] if money else default


def _unit_price(line: dict, path: str) -> int:
    """Gross unit price before discounts; net prices are grossed up with the line's tax rate."""
    _, amount = cents((line.get("price") or {}).get("value"), f"{path}.price.value")
    rate = line.get("taxRate") or {}
    if rate.get("includedInPrice") is False and isinstance(rate.get("amount"), int | float):
        return round(amount * (1 + rate["amount"]))
    return amount


def _line_discount(line: dict, unit_price: int, quantity: int, path: str) -> int:
    portions = line.get("discountedPricePerQuantity") or []
    if portions:
        return sum(
            p.get("quantity", 0) * (unit_price - _amount((p.get("discountedPrice") or {}).get("value"), f"{path}.discountedPrice"))
            for p in portions
        )
    discounted = (line.get("price") or {}).get("discounted")
    if discounted:
        return quantity * (unit_price - _amount(discounted.get("value"), f"{path}.price.discounted.value"))
    return 0


def _line_tax_and_total(line: dict, path: str) -> tuple[int, int]:
    taxed = line.get("taxedPrice")
    if taxed:
        gross = _amount(taxed.get("totalGross"), f"{path}.taxedPrice.totalGross")
        if taxed.get("totalTax"):
            tax = _amount(taxed["totalTax"], f"{path}.taxedPrice.totalTax")
        else:
            tax = gross - _amount(taxed.get("totalNet"), f"{path}.taxedPrice.totalNet", gross)
        return tax, gross
    return 0, _amount(line.get("totalPrice"), f"{path}.totalPrice")


def map_line(order_id: str, line: dict, index: int) -> OrderLine:
    path = f"lineItems[{index}]"
    sku = (line.get("variant") or {}).get("sku")
    if not isinstance(sku, str) or not sku:
        raise Invalid(f"{path}.variant.sku", "line item without a SKU")
    quantity = require(line, "quantity", int, f"{path}.quantity")
    if quantity < 1:  # the API holds at least one unit per line; fewer would move stock backwards at a till
        raise Invalid(f"{path}.quantity", f"{quantity} units: a line item holds at least one")
    unit_price = _unit_price(line, path)
    tax, total = _line_tax_and_total(line, path)
    return OrderLine(
        system=SYSTEM,
        order_id=order_id,
        line_id=require(line, "id", str, f"{path}.id"),
        sku=sku,
        quantity=quantity,
        unit_price=unit_price,
        discount=_line_discount(line, unit_price, quantity, path),
        tax=tax,
        total=total,
    )


def _shipping_infos(raw: dict) -> list[tuple[str, dict]]:
    """(path, ShippingInfo) of the order: the one `shippingInfo`, or one per `shipping[]` entry in
    the `Multiple` shipping mode."""
    if isinstance(raw.get("shippingInfo"), dict):
        return [("shippingInfo", raw["shippingInfo"])]
    return [
        (f"shipping[{i}].shippingInfo", entry["shippingInfo"])
        for i, entry in enumerate(raw.get("shipping") or [])
        if isinstance(entry, dict) and isinstance(entry.get("shippingInfo"), dict)
    ]


def _shipping_money(money, field: str, currency: str) -> int:
    money_currency, amount = cents(money, field)
    if money_currency != currency:
        raise Invalid(f"{field}.currencyCode", f"shipping in {money_currency}, the order in {currency}")
    return amount


def _shipping_gross_and_tax(info: dict, path: str, currency: str) -> tuple[int, int]:
    """Gross shipping after its discount, and the tax in it: the taxed price when the API set one,
    else the (discounted) price with the tax rate applied the way `includedInPrice` says."""
    taxed = info.get("taxedPrice")
    if taxed:
        gross = _shipping_money(taxed.get("totalGross"), f"{path}.taxedPrice.totalGross", currency)
        if taxed.get("totalTax"):
            return gross, _shipping_money(taxed["totalTax"], f"{path}.taxedPrice.totalTax", currency)
        return gross, gross - _shipping_money(taxed.get("totalNet"), f"{path}.taxedPrice.totalNet", currency)
    discounted = (info.get("discountedPrice") or {}).get("value")
    if discounted:
        amount = _shipping_money(discounted, f"{path}.discountedPrice.value", currency)
    else:
        amount = _shipping_money(info.get("price"), f"{path}.price", currency)
    rate = (info.get("taxRate") or {}).get("amount")
    if not isinstance(rate, int | float):
        return amount, 0
    if info["taxRate"].get("includedInPrice") is False:
        gross = round(amount * (1 + rate))
        return gross, gross - amount
    return amount, amount - round(amount / (1 + rate))


def _one_or_joined(values: list[str | None]) -> str | None:
    distinct = sorted({v for v in values if v})
    return ", ".join(distinct) or None


def map_shipping(raw: dict, currency: str) -> dict:
    """The Order's shipping fields. The method key needs `expand=shippingInfo.shippingMethod`
    (ORDER_EXPAND); a custom shipping method has no key."""
    infos = _shipping_infos(raw)
    amounts = [_shipping_gross_and_tax(info, path, currency) for path, info in infos]
    for (path, _), (gross, tax) in zip(infos, amounts, strict=True):
        if gross < 0 or tax < 0:  # the import API accepts negative prices; a snapshot row may not
            raise Invalid(f"{path}.price", f"negative shipping price or tax ({gross}, {tax})")
    return {
        "shipping_method_name": _one_or_joined([info.get("shippingMethodName") for _, info in infos]),
        "shipping_method_key": _one_or_joined(
            [((info.get("shippingMethod") or {}).get("obj") or {}).get("key") for _, info in infos]
        ),
        "shipping_price": sum(gross for gross, _ in amounts),
        "shipping_tax": sum(tax for _, tax in amounts),
    }


def map_payments(order_id: str, raw: dict) -> list[Payment]:
    """Successful Charge and Refund transactions of the (expanded) payments; refunds are negative."""
    out: list[Payment] = []
    for p_index, ref in enumerate((raw.get("paymentInfo") or {}).get("payments") or []):
        payment = ref.get("obj") if isinstance(ref, dict) and "obj" in ref else ref
        if not isinstance(payment, dict) or "transactions" not in payment:
            continue  # not expanded: nothing to read
        method = payment_method((payment.get("paymentMethodInfo") or {}).get("method"))
        for t_index, tx in enumerate(payment.get("transactions") or []):
            sign = TENDER_SIGNS.get(tx.get("type"))
            if sign is None or tx.get("state") != "Success":
                continue
            currency, amount = cents(tx.get("amount"), f"paymentInfo.payments[{p_index}].transactions[{t_index}].amount")
            out.append(
                Payment(
                    system=SYSTEM,
                    order_id=order_id,
                    payment_id=f"{payment.get('id')}/{tx.get('id') or t_index}",
                    method=method,
                    amount=sign * amount,
                    currency=currency,
                    reference=tx.get("interactionId"),
                )
            )
    return out


def order_location(
    raw: dict, channel_locations: dict[str, str], store_locations: dict[str, str]
) -> tuple[str | None, str | None]:
    """(store key, location key): the store first, else the one supply channel all lines share."""
    store_key = custom_fields(raw).get("storeKey") or (raw.get("store") or {}).get("key")
    if store_key:
        return store_key, store_locations.get(store_key)
    channels = {ref_id(line.get("supplyChannel")) for line in raw.get("lineItems") or []} - {None}
    if len(channels) == 1:
        return None, channel_locations.get(channels.pop())
    return None, None


def _rounding(fields: dict) -> int:
    """`custom.fields.posRounding`: the rounding of a POS sale's amounts to minor units (signed)."""
    value = fields.get("posRounding", 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
        raise Invalid("custom.fields.posRounding", f"{value!r} is not a whole number of minor units")
    return int(value)


def map_order(
    raw: dict, channel_locations: dict[str, str], store_locations: dict[str, str] | None = None
) -> OrderRows | Rejection:
    """`channel_locations`: channel id -> location key; `store_locations`: store key -> location key."""

    def build() -> OrderRows:
        order_id = require(raw, "id")
        fields = custom_fields(raw)
        is_store = bool(fields.get("posSaleId"))
        store_key, location_key = order_location(raw, channel_locations, store_locations or {})
        if is_store and location_key is None:
            where = f"store {store_key!r}" if store_key else "no store and no single supply channel"
            raise Invalid("location", f"POS sale at an unmapped location ({where})")
        currency, total_gross = cents(raw.get("totalPrice"), "totalPrice")
        taxed = raw.get("taxedPrice") or {}
        if taxed.get("totalGross"):
            total_gross = _amount(taxed["totalGross"], "taxedPrice.totalGross")
        total_tax = _amount(taxed.get("totalTax"), "taxedPrice.totalTax") if taxed.get("totalTax") else 0
        lines = [map_line(order_id, line, i) for i, line in enumerate(raw.get("lineItems") or [])]
        order_discount = _amount((raw.get("discountOnTotalPrice") or {}).get("discountedAmount"), "discountOnTotalPrice")
        fulfilment = fields.get("fulfilment")
        if fulfilment is not None and fulfilment not in {f.value for f in Fulfilment}:
            raise Invalid("custom.fields.fulfilment", f"unknown fulfilment {fulfilment!r}")
        created = raw.get("completedAt") if is_store and raw.get("completedAt") else raw.get("createdAt")
        order = Order(
            system=SYSTEM,
            order_id=order_id,
            order_number=raw.get("orderNumber") or order_id,
            channel=(OrderChannel.STORE if is_store else OrderChannel.ONLINE).value,
            currency=currency,
            total_gross=total_gross,
            total_tax=total_tax,
            total_discount=sum(line.discount for line in lines) + order_discount,
            status=raw.get("orderState") or "Open",
            created_at=_required_time(created, "createdAt"),
            location_key=location_key,
            customer_ref=raw.get("customerId"),
            customer_email=normalise_email(raw.get("customerEmail")),
            fulfilment=fulfilment or (Fulfilment.IN_STORE if is_store else Fulfilment.SHIP).value,
            updated_at=timestamp(raw.get("lastModifiedAt"), "lastModifiedAt"),
            **map_shipping(raw, currency),
            rounding=_rounding(fields),
            pos_sale_id=fields.get("posSaleId") or None,
        )
        return order, lines, map_payments(order_id, raw)

    return guarded("orders", raw, build)


def _return_line(return_id: str, item: dict, lines: dict[str, dict], path: str) -> ReturnLine:
    line_id = item.get("lineItemId")
    if item.get("type") == "CustomLineItemReturnItem" or not line_id:
        raise Invalid(f"{path}.lineItemId", "return of a custom line item: no SKU to restock")
    line = lines.get(line_id)
    if line is None:
        raise Invalid(f"{path}.lineItemId", f"line item {line_id} is not on the order")
    quantity = require(item, "quantity", int, f"{path}.quantity")
    _, line_total = _line_tax_and_total(line, f"lineItems[{line_id}]")
    sold = line.get("quantity") or 1
    return ReturnLine(
        system=SYSTEM,
        return_id=return_id,
        line_id=require(item, "id", str, f"{path}.id"),
        sku=(line.get("variant") or {}).get("sku") or "",
        quantity=quantity,
        refund_amount=round(line_total * quantity / sold),
        original_line_ref=line_id,
        restock=item.get("shipmentState") != "Unusable",
    )


def map_order_returns(
    raw: dict, channel_locations: dict[str, str], store_locations: dict[str, str] | None = None
) -> tuple[list[tuple[Return, list[ReturnLine]]], list[Rejection]]:
    """One Return per returnInfo entry of the order, with a ReturnLine per returned item."""
    returns: list[tuple[Return, list[ReturnLine]]] = []
    rejected: list[Rejection] = []
    if not isinstance(raw, dict) or not raw.get("returnInfo"):
        return returns, rejected
    lines = {line.get("id"): line for line in raw.get("lineItems") or [] if isinstance(line, dict)}
    _, location_key = order_location(raw, channel_locations, store_locations or {})
    for r_index, info in enumerate(raw["returnInfo"]):
        items = info.get("items") or []
        if not items:
            continue
        try:
            order_id = require(raw, "id")
            currency, _ = cents(raw.get("totalPrice"), "totalPrice")
            return_id = f"{order_id}/{info.get('returnTrackingId') or items[0].get('id')}"
            return_lines = [
                _return_line(return_id, item, lines, f"returnInfo[{r_index}].items[{i}]") for i, item in enumerate(items)
            ]
            created = info.get("returnDate") or items[0].get("createdAt") or raw.get("lastModifiedAt")
            returns.append((
                Return(
                    system=SYSTEM,
                    return_id=return_id,
                    currency=currency,
                    refund_total=sum(line.refund_amount for line in return_lines),
                    created_at=_required_time(created, f"returnInfo[{r_index}].returnDate"),
                    original_order_ref=raw.get("orderNumber") or order_id,
                    location_key=location_key,
                    reason_code=next((i.get("comment") for i in items if i.get("comment")), None),
                ),
                return_lines,
            ))
        except Invalid as exc:
            rejected.append(reject("returns", raw, exc.field, exc.reason))
    return returns, rejected
