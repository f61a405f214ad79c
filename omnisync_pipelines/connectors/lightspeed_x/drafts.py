"""Canonical records -> X-Series write payloads (drafts). Pure functions; a record that cannot be
expressed raises `MappingError` naming the field, which the caller records as a Rejection.

X-Series stores net prices at 5 decimals and derives the tax, so a gross price is split with the
rate of the tax the product or line carries.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

from omnisync_pipelines.canonical.models import CatalogItem, Customer, Order, OrderLine, Payment, Price
from omnisync_pipelines.connectors.lightspeed_x.mapping import MappingError, major_units
from omnisync_pipelines.connectors.lightspeed_x.sales_mapping import OWN_SOURCE

NET_PRECISION = Decimal("0.00001")


def net_of(gross: Decimal, tax_rate: Decimal) -> Decimal:
    return (gross / (1 + tax_rate)).quantize(NET_PRECISION, rounding=ROUND_HALF_UP)


def product_codes(code: str | None) -> list[dict]:
    if not code:
        return []
    kind = {8: "EAN", 13: "EAN", 12: "UPC"}.get(len(code), "CUSTOM") if code.isdigit() else "CUSTOM"
    return [{"type": kind, "code": code}]


def product_common(item: CatalogItem, *, name: str | None = None) -> dict:
    """The 2.1 `common` block (shared by a family's variants); `is_active` goes with each variant's `details`."""
    return {"name": name or item.name}


def variant_details(item: CatalogItem, price: Price | None = None, *, tax_rate: Decimal = Decimal(0),
                    attribute_ids: dict[str, str] | None = None, inventory: dict[str, int] | None = None,
                    currency: str | None = None) -> dict:
    """The 2.1 `details` of one variant (or of a standard product).

    `attribute_ids`: variant attribute name -> X-Series attribute id; `inventory`: outlet id -> count;
    `currency`: the retailer's, for the item's `supply_price` (else the price's). An item without a
    supply price leaves the product's as it is.
    """
    details: dict = {"sku": item.sku, "is_active": item.active}
    if codes := product_codes(item.barcode):
        details["product_codes"] = codes
    options = json.loads(item.attributes or "{}")
    if options:
        missing = sorted(set(options) - set(attribute_ids or {}))
        if missing:
            raise MappingError("attributes", f"{item.sku}: no X-Series variant attribute for {', '.join(missing)}")
        details["variant_definitions"] = [{"attribute_id": attribute_ids[name], "value": value}
                                          for name, value in sorted(options.items())]
    if price is not None:
        if price.sku != item.sku:
            raise MappingError("sku", f"price for {price.sku} given with item {item.sku}")
        details["price_excluding_tax"] = float(net_of(major_units(price.amount, price.currency), tax_rate))
    if item.supply_price is not None:
        currency = currency or (price.currency if price is not None else None)
        if currency is None:
            raise MappingError("supply_price", f"{item.sku}: no currency to write supply_price {item.supply_price} in")
        details["supply_price"] = float(major_units(item.supply_price, currency))
    if inventory:
        details["inventory"] = [{"outlet_id": outlet_id, "current_amount": count}
                                for outlet_id, count in sorted(inventory.items())]
    return details


def customer_payload(record: Customer) -> dict:
    fields = {"first_name": record.first_name, "last_name": record.last_name, "email": record.email,
              "phone": record.phone, "customer_code": record.external_id or record.loyalty_id}
    if record.consent_marketing is not None:
        fields["do_not_email"] = not record.consent_marketing
    if record.loyalty_id:
        fields["enable_loyalty"] = True
    # CustomerBase requires both names (null allowed); the other fields only when known
    return {k: v for k, v in fields.items() if v is not None or k in ("first_name", "last_name")}


def _line(line: OrderLine, sequence: int, product_id_of: dict[str, str], tax_id: str, tax_rate: Decimal,
          currency: str) -> dict:
    if line.sku not in product_id_of:
        raise MappingError("sku", f"order {line.order_id} line {line.line_id}: no X-Series product for {line.sku}")
    if line.quantity == 0:
        raise MappingError("quantity", f"order {line.order_id} line {line.line_id}: quantity 0")
    unit_gross = major_units(line.total, currency) / abs(line.quantity)
    unit_discount = major_units(line.discount, currency) / abs(line.quantity)
    net = net_of(unit_gross, tax_rate)
    return {"product_id": product_id_of[line.sku], "quantity": line.quantity, "price": float(net),
            "tax": float((unit_gross - net).quantize(NET_PRECISION)), "tax_id": tax_id,
            "discount": float(net_of(unit_discount, tax_rate)), "sequence": sequence, "status": "CONFIRMED"}


def sale_total(body_lines: list[dict]) -> Decimal:
    """The total the till computes for these lines: (net unit price + unit tax) x quantity, to the cent."""
    total = sum((Decimal(str(x["price"])) + Decimal(str(x["tax"]))) * x["quantity"] for x in body_lines)
    return Decimal(total).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def register_sale_payload(order: Order, lines: list[OrderLine], payments: list[Payment], *, register_id: str,
                          user_id: str, product_id_of: dict[str, str], payment_type_id_of: dict[str, str],
                          tax_id: str, tax_rate: Decimal, customer_id: str | None = None,
                          status: str = "CLOSED", prepaid_with: str | None = None) -> dict:
    """An (online) order handed over in store -> a 0.9 `POST /api/register_sales` body.

    `payment_type_id_of`: canonical payment method -> retailer payment type id. `prepaid_with`: a
    payment type id that records the online prepayment of the whole sale (so the till shows nothing
    owing and the sale can be closed when collected). The sale carries `source=omnisync` and
    `source_id=<order id>`, so reads can tell our own writes apart.
    """
    body_lines = [_line(line, i, product_id_of, tax_id, tax_rate, order.currency) for i, line in enumerate(lines)]
    body_payments = []
    if prepaid_with:
        body_payments.append({"retailer_payment_type_id": prepaid_with, "payment_date": order.created_at.isoformat(),
                              "amount": float(sale_total(body_lines))})
    for payment in payments:
        if payment.method not in payment_type_id_of:
            raise MappingError("payments", f"order {order.order_id}: no X-Series payment type for {payment.method}")
        body_payments.append({"retailer_payment_type_id": payment_type_id_of[payment.method],
                              "payment_date": order.created_at.isoformat(),
                              "amount": float(major_units(payment.amount, payment.currency))})
    body = {"register_id": register_id, "user_id": user_id, "sale_date": order.created_at.isoformat(),
            "status": status, "note": order.order_number, "source": OWN_SOURCE, "source_id": order.order_id,
            "register_sale_products": body_lines, "register_sale_payments": body_payments}
    if customer_id:
        body["customer_id"] = customer_id
    return body
