"""Pure builders: a canonical POS sale (Order, its lines and payments) -> commercetools drafts.

Discounts: the order import API takes no `discountedPricePerQuantity` and a `price.discounted`
needs a ProductDiscount reference, so a line is imported at the unit price the customer actually
paid (after line and whole-sale discounts, which the POS allocates to lines) and the list price and
discount are kept on the line's custom fields (type `omnisync-order-line`). When a discounted line
total does not divide by its quantity, the line is imported as two line items of the same SKU
(e.g. 3 for 29.00 -> 2 x 9.67 + 1 x 9.66) so the cents add up exactly; both carry the POS line id.

Rounding: a sale whose POS keeps unit prices finer than the currency (EUR 1.00 off three units is
9.66667 a unit) arrives with its total equal to its payments and its lines fitted to it
(`Order.rounding`); the order records that rounding in `custom.fields.posRounding` (a Number, minor
units, signed: the total minus the lines at the till's unit prices rounded to the minor unit x
quantity, e.g. 29.00 - 3 x 9.67 = -1), set only when it is not 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from omnisync_pipelines.canonical.keys import short_hash
from omnisync_pipelines.canonical.models import Fulfilment, Order, OrderLine, Payment
from omnisync_pipelines.canonical.money import currency_digits
from omnisync_pipelines.connectors.commercetools.mapping import format_timestamp
from omnisync_pipelines.connectors.commercetools.settings import ORDER_TYPE_KEY

LINE_TYPE_KEY = "omnisync-order-line"
ROUNDING_FIELD = "posRounding"  # on the order type (ORDER_TYPE_KEY): Order.rounding, when not 0
ROUNDING_FIELD_DRAFT: dict = {"name": ROUNDING_FIELD, "label": {"en": ROUNDING_FIELD}, "required": False,
                              "type": {"name": "Number"}}
MAX_ORDER_NUMBER = 100  # no published limit; long enough for any receipt number, short enough to read
_KEY_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,200}$")  # resource keys: [A-Za-z0-9_-], 2..256 chars

LINE_TYPE_DRAFT: dict = {
    "key": LINE_TYPE_KEY,
    "name": {"en": "omnisync POS order line"},
    "resourceTypeIds": ["line-item"],
    "fieldDefinitions": [
        {"name": "posLineId", "label": {"en": "posLineId"}, "required": False, "type": {"name": "String"},
         "inputHint": "SingleLine"},
        {"name": "listUnitPrice", "label": {"en": "listUnitPrice"}, "required": False, "type": {"name": "Money"}},
        {"name": "lineDiscount", "label": {"en": "lineDiscount"}, "required": False, "type": {"name": "Money"}},
    ],
}


@dataclass(frozen=True)
class StoreRef:
    """Where a POS location lives in commercetools."""

    channel_id: str  # supply channel (role InventorySupply)
    store_key: str
    distribution_channel_id: str | None = None  # only when the channel also has ProductDistribution
    country: str | None = None  # tax country of the store


@dataclass(frozen=True)
class OrderSyncOptions:
    concurrency: int = 8
    locale: str = "en"
    tax_country: str | None = None  # fallback when the store has no country; no taxRate without either
    payment_methods: Mapping[str, str] = field(default_factory=dict)  # canonical tender -> ct method name
    product_names: Mapping[str, str] = field(default_factory=dict)  # sku -> name (line items need a name)


# identifiers ---------------------------------------------------------------------------------


def safe_key(prefix: str, raw: str) -> str:
    """A commercetools resource key from a POS id: readable when the id allows, hashed otherwise."""
    candidate = f"{prefix}-{raw}"
    return candidate if _KEY_SAFE.match(candidate) else f"{prefix}-{short_hash(raw, length=24)}"


def pos_order_number(location_key: str, pos_number: str) -> str:
    number = f"POS-{location_key.upper()}-{pos_number}"
    if len(number) <= MAX_ORDER_NUMBER:
        return number
    return f"POS-{location_key.upper()[:20]}-{short_hash(pos_number, length=32)}"


def payment_key(system: str, payment_id: str) -> str:
    return safe_key(f"pos-{system}", payment_id)


# money and tax -------------------------------------------------------------------------------


def money(currency: str, cents: int) -> dict:
    """centPrecision money in the currency's own minor units (fractionDigits 0 for JPY, 2 for EUR)."""
    return {"type": "centPrecision", "currencyCode": currency, "centAmount": cents,
            "fractionDigits": currency_digits(currency)}


def unit_price_splits(total: int, quantity: int) -> list[tuple[int, int]]:
    """(quantity, unit price) parts whose sum is exactly `total`: one part when it divides."""
    unit, remainder = divmod(total, quantity)
    if remainder == 0:
        return [(quantity, unit)]
    return [(remainder, unit + 1), (quantity - remainder, unit)]


def tax_rate_amount(tax: int, gross: int) -> float:
    """The rate implied by a gross total and its tax portion, rounded to 0.1 percent."""
    net = gross - tax
    return round(tax / net, 3) if net > 0 else 0.0


def tax_rate(line: OrderLine, country: str | None) -> dict | None:
    if country is None:
        return None
    amount = tax_rate_amount(line.tax, line.total)
    return {"name": f"{amount:.1%}", "amount": amount, "includedInPrice": True, "country": country}


def tax_portions(lines: list[OrderLine], currency: str) -> list[dict]:
    by_rate: dict[float, int] = {}
    for line in lines:
        rate = tax_rate_amount(line.tax, line.total)
        by_rate[rate] = by_rate.get(rate, 0) + line.tax
    return [
        {"name": f"{rate:.1%}", "rate": rate, "amount": money(currency, amount)}
        for rate, amount in sorted(by_rate.items())
        if amount
    ]


def taxed_price(order: Order, lines: list[OrderLine]) -> dict:
    return {
        "totalNet": money(order.currency, order.total_gross - order.total_tax),
        "totalGross": money(order.currency, order.total_gross),
        "totalTax": money(order.currency, order.total_tax),
        "taxPortions": tax_portions(lines, order.currency),
    }


# line items ----------------------------------------------------------------------------------


def line_custom(line: OrderLine, currency: str) -> dict:
    return {
        "type": {"typeId": "type", "key": LINE_TYPE_KEY},
        "fields": {
            "posLineId": line.line_id,
            "listUnitPrice": money(currency, line.unit_price),
            "lineDiscount": money(currency, line.discount),
        },
    }


def channel_ref(channel_id: str | None) -> dict | None:
    return {"typeId": "channel", "id": channel_id} if channel_id else None


def line_item_drafts(line: OrderLine, currency: str, store: StoreRef, options: OrderSyncOptions) -> list[dict]:
    base: dict = {
        "name": {options.locale: options.product_names.get(line.sku, line.sku)},
        "variant": {"sku": line.sku},
        "supplyChannel": channel_ref(store.channel_id),
        "distributionChannel": channel_ref(store.distribution_channel_id),
        "taxRate": tax_rate(line, store.country or options.tax_country),
        "inventoryMode": "None",
        "custom": line_custom(line, currency),
    }
    base = {k: v for k, v in base.items() if v is not None}
    return [
        {**base, "quantity": quantity, "price": {"value": money(currency, unit)}}
        for quantity, unit in unit_price_splits(line.total, line.quantity)
    ]


# the order -----------------------------------------------------------------------------------


def customer_fields(order: Order, customer_id: str | None) -> dict:
    if customer_id:
        return {"customerId": customer_id}
    return {"customerEmail": order.customer_email} if order.customer_email else {}


def order_custom(order: Order, store: StoreRef) -> dict:
    return {
        "type": {"typeId": "type", "key": ORDER_TYPE_KEY},
        "fields": {
            "posSaleId": order.order_id,
            "storeKey": store.store_key,
            "fulfilment": order.fulfilment or Fulfilment.IN_STORE.value,
            **({ROUNDING_FIELD: order.rounding} if order.rounding else {}),
        },
    }


def order_import_draft(
    order: Order, lines: list[OrderLine], store: StoreRef, customer_id: str | None, options: OrderSyncOptions
) -> dict:
    """OrderImportDraft of a completed store sale; stock is moved by the stock flow (inventoryMode None)."""
    return {
        "orderNumber": pos_order_number(order.location_key or store.store_key, order.order_number),
        **customer_fields(order, customer_id),
        "store": {"typeId": "store", "key": store.store_key},
        "lineItems": [d for line in lines for d in line_item_drafts(line, order.currency, store, options)],
        "totalPrice": money(order.currency, order.total_gross),
        "taxedPrice": taxed_price(order, lines),
        "orderState": "Complete",
        "shipmentState": "Delivered",
        "paymentState": "Paid",
        "inventoryMode": "None",
        "origin": "Merchant",
        "completedAt": format_timestamp(order.created_at),
        "custom": order_custom(order, store),
    }


# payments ------------------------------------------------------------------------------------


def payment_method_name(payment: Payment, options: OrderSyncOptions) -> str:
    return options.payment_methods.get(payment.method, payment.method)


def charge_transaction(payment: Payment, timestamp: str | None = None) -> dict:
    tx = {
        "type": "Charge",
        "amount": money(payment.currency, payment.amount),
        "state": "Success",
        "interactionId": payment.payment_id,
    }
    if timestamp:
        tx["timestamp"] = timestamp
    return tx


def add_payment_actions(order: dict, payment_ids: list[str]) -> list[dict]:
    """addPayment for each payment the order does not reference yet."""
    linked = {p.get("id") for p in (order.get("paymentInfo") or {}).get("payments") or []}
    return [
        {"action": "addPayment", "payment": {"typeId": "payment", "id": pid}}
        for pid in payment_ids
        if pid not in linked
    ]
