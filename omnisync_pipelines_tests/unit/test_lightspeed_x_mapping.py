"""X-Series records <-> canonical records, as tables over the shapes of the public docs' examples
(API_FACTS §2).

Contract: valid records map field by field (money in integer minor units from decimal strings or
floats, UTC timestamps); a bad record becomes a Rejection naming the field and never raises;
amounts with more decimals than the currency has are rejected, not rounded, except a sale's total
and lines (X-Series keeps 5 decimals per unit): they are rounded to what the till took, the rounding
recorded on the order; canonical records turn into 2.1 product, customer and 0.9 register_sale payloads.
"""

import copy
import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from omnisync_pipelines.canonical.models import (
    CatalogItem,
    Order,
    OrderLine,
    Payment,
    Price,
    Rejection,
)
from omnisync_pipelines.connectors.lightspeed_x import drafts
from omnisync_pipelines.connectors.lightspeed_x.mapping import (
    MappingError,
    duplicate_skus,
    map_customer,
    map_inventory,
    map_outlet,
    map_price_book_entry,
    map_product,
    map_product_price,
    minor_units,
    round_minor,
    sku_index,
)
from omnisync_pipelines.connectors.lightspeed_x.sales_mapping import (
    is_return,
    map_consignment_movements,
    map_return,
    map_sale,
    map_sale_movements,
    tender,
)

# ---------------------------------------------------------------- fixtures

LOCATIONS = {"o-uuid": "berlin", "o-hh": "hamburg"}
SKUS = {"p-uuid": "TEE-S"}
T = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)

OUTLET = {"id": "o-uuid", "name": "Berlin Mitte", "time_zone": "Europe/Berlin", "currency": "EUR",
          "physical_country_id": "DE", "version": 7, "deleted_at": None}
PRODUCT = {"id": "p-uuid", "name": "Tee", "variant_name": "Tee / S", "handle": "tee", "sku": "TEE-S",
           "active": True, "has_inventory": True, "variant_parent_id": "parent-uuid",
           "variant_options": [{"id": "o-1", "name": "Size", "value": "S"}], "supply_price": 5,
           "price_excluding_tax": 16.8, "price_including_tax": 19.99, "version": 4284638488,
           "product_codes": [{"type": "CUSTOM", "code": "X1"}, {"type": "EAN", "code": "4006381333931"}],
           "tax_id": "t-uuid"}
INVENTORY = {"id": "i-uuid", "product_id": "p-uuid", "outlet_id": "o-uuid", "inventory_level": 3, "version": 1639940}
SALE = {"id": "s-uuid", "outlet_id": "o-uuid", "register_id": "r-uuid", "user_id": "u-uuid",
        "customer_id": "c-uuid", "invoice_number": "1036", "status": "CLOSED",
        "sale_date": "2024-05-01T10:00:00+00:00", "total_price": 16.8, "total_tax": 3.19, "version": 413,
        "line_items": [{"id": "l-uuid", "product_id": "p-uuid", "quantity": 1, "price": 16.8, "tax": 3.19,
                        "tax_id": "t-uuid", "discount": 0, "sequence": 0, "status": "CONFIRMED", "is_return": False}],
        "payments": [{"id": "pay-uuid", "retailer_payment_type_id": "pt-uuid", "payment_type_id": "1",
                      "name": "Cash", "amount": 19.99, "payment_date": "2024-05-01T10:00:00+00:00"}]}
RETURN = {**SALE, "id": "ret-uuid", "status": "CLOSED", "return_for": "s-uuid", "invoice_number": "1037",
          "total_price": -16.8, "total_tax": -3.19, "note": "reason:damaged",
          "line_items": [{"id": "rl-uuid", "product_id": "p-uuid", "quantity": -1, "price": 16.8, "tax": 3.19,
                          "price_total": -16.8, "discount": 0, "status": "CONFIRMED", "is_return": True}],
          "payments": [{"id": "ref-1", "name": "Cash", "amount": -19.99}]}
CUSTOMER = {"id": "c-uuid", "customer_code": "ANN-42", "first_name": "Ann", "last_name": "Lee",
            "email": " Ann@Example.com ", "phone": "", "customer_group_id": "g-uuid", "version": 2691964626,
            "do_not_email": False, "enable_loyalty": True}


def changed(record: dict, **fields) -> dict:
    out = copy.deepcopy(record)
    for key, value in fields.items():
        if value is ...:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def line_changed(record: dict, **fields) -> dict:
    return changed(record, line_items=[{**record["line_items"][0], **fields}])


# ---------------------------------------------------------------- money

@pytest.mark.parametrize(("value", "currency", "expected"), [
    (19.99, "EUR", 1999), ("19.99", "EUR", 1999), (16.8, "EUR", 1680), (0, "EUR", 0), (-3.19, "EUR", -319),
    ("1000", "JPY", 1000), (16.800000000000001, "EUR", 1680), ("12.5", "USD", 1250),
])
def test_minor_units(value, currency, expected):
    assert minor_units(value, currency, "x") == expected


@pytest.mark.parametrize(("value", "currency"), [("19.995", "EUR"), (0.001, "USD"), ("10.5", "JPY"), ("abc", "EUR"),
                                                 (None, "EUR")])
def test_minor_units_refuses_what_the_currency_cannot_hold(value, currency):
    with pytest.raises(MappingError):
        minor_units(value, currency, "x")


def test_round_minor_is_explicit_half_up():
    assert round_minor(Decimal("3.195"), "EUR") == 320
    assert round_minor(Decimal("3.19328"), "EUR") == 319


# ---------------------------------------------------------------- outlets, products, prices

@pytest.mark.parametrize(("outlet", "key", "active"), [
    (OUTLET, "berlin", True),
    (changed(OUTLET, id="o-other"), None, True),
    (changed(OUTLET, deleted_at="2024-01-01T00:00:00+00:00"), "berlin", False),
])
def test_outlet_to_location(outlet, key, active):
    location = map_outlet(outlet, LOCATIONS)
    assert (location.location_key, location.system_id, location.currency, location.country, location.active) == (
        key, outlet["id"], "EUR", "DE", active)


def test_product_to_catalog_item():
    item = map_product(PRODUCT, "EUR")
    assert item == CatalogItem("lightspeed_x", "TEE-S", "tee", "Tee / S", "p-uuid", '{"Size": "S"}',
                               "4006381333931", "t-uuid", True, None, 500)


def test_a_family_parent_is_a_sellable_variant_of_its_own():
    """Docs "Variants": the parent has no variant_parent_id and has_variants true, and its own SKU."""
    parent = changed(PRODUCT, id="parent-uuid", sku="TEE-M", variant_name="Tee / M", variant_parent_id=None,
                     has_variants=True, variant_options=[{"id": "o-1", "name": "Size", "value": "M"}])
    child = changed(PRODUCT, has_variants=False)
    items = [map_product(p, "EUR") for p in (parent, child)]
    assert [(i.sku, i.product_key, i.system_id, i.attributes) for i in items] == [
        ("TEE-M", "tee", "parent-uuid", '{"Size": "M"}'), ("TEE-S", "tee", "p-uuid", '{"Size": "S"}')]


@pytest.mark.parametrize(("supply", "currency", "expected"), [
    (5, "EUR", 500),
    ("4.25", "EUR", 425),  # webhook payloads carry it as text
    (0, "EUR", 0),
    (1200, "JPY", 1200),
    (None, "EUR", None),
    (..., "EUR", None),
    (5, None, "supply_price"),  # no currency to read it in
    (5.125, "EUR", "supply_price"),  # more decimals than EUR has: rejected, never rounded
    (12.5, "JPY", "supply_price"),
    (-1, "EUR", "supply_price"),
    ("five", "EUR", "supply_price"),
])
def test_supply_price_in_minor_units(supply, currency, expected):
    mapped = map_product(changed(PRODUCT, supply_price=supply), currency)
    if isinstance(expected, str):
        assert isinstance(mapped, Rejection)
        assert (mapped.entity, mapped.record_ref, mapped.field) == ("catalog", "p-uuid", expected)
    else:
        assert mapped.supply_price == expected


@pytest.mark.parametrize(("product", "field_name", "expected"), [
    (changed(PRODUCT, product_codes=[{"type": "UPC", "code": "012345678905"}]), "barcode", "012345678905"),
    (changed(PRODUCT, product_codes=[{"type": "CUSTOM", "code": "X1"}]), "barcode", None),
    (changed(PRODUCT, tax_id=..., tax={"id": "t-2", "name": "VAT"}), "tax_category", "t-2"),
    (changed(PRODUCT, active=False), "active", False),
    (changed(PRODUCT, sku="  TEE-S "), "sku", "TEE-S"),
    (changed(PRODUCT, variant_options=[]), "attributes", "{}"),
])
def test_product_fields(product, field_name, expected):
    assert getattr(map_product(product, "EUR"), field_name) == expected


@pytest.mark.parametrize("sku", [None, "", "   "])
def test_product_without_sku_is_rejected(sku):
    rejected = map_product(changed(PRODUCT, sku=sku))
    assert isinstance(rejected, Rejection)
    assert (rejected.entity, rejected.record_ref, rejected.field) == ("catalog", "p-uuid", "sku")
    assert json.loads(rejected.payload)["id"] == "p-uuid"


@pytest.mark.parametrize(("product", "currency", "amount", "bad_field"), [
    (PRODUCT, "EUR", 1999, None),
    (changed(PRODUCT, price_including_tax="24.00"), "EUR", 2400, None),
    # X-Series keeps the gross at 5 decimals (vendor example 3.02632): read as the till charges it
    (changed(PRODUCT, price_including_tax=19.99999), "EUR", 2000, None),
    (changed(PRODUCT, price_including_tax=3.02632), "EUR", 303, None),
    (changed(PRODUCT, price_including_tax=...), "EUR", None, "price_including_tax"),
    (changed(PRODUCT, sku=""), "EUR", None, "sku"),
])
def test_product_price(product, currency, amount, bad_field):
    price = map_product_price(product, currency)
    if bad_field:
        assert isinstance(price, Rejection) and price.field == bad_field
    else:
        assert price == Price("lightspeed_x", "TEE-S", currency, amount, f"p-uuid:{currency}")


BOOK = {"id": "pb-1", "name": "Berlin VIP", "customer_group_id": "g-vip", "outlet_id": "o-uuid",
        "valid_from": "2024-05-01T00:00:00+00:00", "valid_to": None}
ENTRY = {"id": "pbp-1", "product_id": "p-uuid", "price_book_id": "pb-1", "price": 14.0, "tax_id": "t-uuid",
         "min_units": None, "max_units": None, "version": 12}


@pytest.mark.parametrize(("entry", "book", "expected", "bad_field"), [
    (ENTRY, BOOK, (1666, "berlin", "g-vip"), None),  # 14.00 net * 1.19 = 16.66
    (changed(ENTRY, price_including_tax="15.00"), changed(BOOK, outlet_id=None), (1500, None, "g-vip"), None),
    (changed(ENTRY, product_id="p-gone"), BOOK, None, "product_id"),
    (ENTRY, changed(BOOK, outlet_id="o-elsewhere"), None, "outlet_id"),
    (changed(ENTRY, min_units=5), BOOK, None, "min_units"),
    (changed(ENTRY, tax_id="t-unknown"), BOOK, None, "tax_id"),
])
def test_price_book_entry(entry, book, expected, bad_field):
    price = map_price_book_entry(entry, book, sku_of=SKUS, location_map=LOCATIONS, currency="EUR",
                                 tax_rate_of={"t-uuid": Decimal("0.19")})
    if bad_field:
        assert isinstance(price, Rejection) and price.field == bad_field
    else:
        assert (price.amount, price.location_key, price.customer_group) == expected
        assert price.system_id == "price_book:pbp-1"


def test_a_shared_sku_resolves_to_no_product():
    products = [PRODUCT, changed(PRODUCT, id="p-twin", sku="TEE-S "), changed(PRODUCT, id="p-m", sku="TEE-M"),
                changed(PRODUCT, id="p-old", sku="TEE-M", deleted_at="2024-01-01T00:00:00+00:00"),
                changed(PRODUCT, id="p-none", sku="")]
    assert duplicate_skus(products) == {"TEE-S"}
    assert sku_index(products) == {"p-m": "TEE-M", "p-old": "TEE-M"}


# ---------------------------------------------------------------- inventory

@pytest.mark.parametrize(("row", "bad_field"), [
    (changed(INVENTORY, inventory_level=3.5), "inventory_level"),
    (changed(INVENTORY, inventory_level=None), "inventory_level"),
    (changed(INVENTORY, inventory_level=...), "inventory_level"),
    (changed(INVENTORY, outlet_id="o-unknown"), "outlet_id"),
    (changed(INVENTORY, product_id="p-unknown"), "product_id"),
])
def test_bad_inventory_rows_are_rejected(row, bad_field):
    rejected = map_inventory(row, sku_of=SKUS, location_map=LOCATIONS)
    assert isinstance(rejected, Rejection)
    assert (rejected.entity, rejected.field) == ("stock", bad_field)


@pytest.mark.parametrize(("level", "expected"), [(3, 3), ("3.000", 3), (-2, -2), (0, 0)])
def test_inventory_to_stock_level(level, expected):
    stock = map_inventory(changed(INVENTORY, inventory_level=level), sku_of=SKUS, location_map=LOCATIONS)
    assert (stock.sku, stock.location_key, stock.on_hand, stock.available, stock.reserved) == (
        "TEE-S", "berlin", expected, expected, 0)
    assert (stock.system_id, stock.system_version) == ("i-uuid", 1639940)


# ---------------------------------------------------------------- sales, returns, movements

def sale(raw=SALE, tender_map=None):
    return map_sale(raw, sku_of=SKUS, location_map=LOCATIONS, currency="EUR", tender_map=tender_map,
                    email_of={"c-uuid": "ann@example.com"})


def test_sale_to_order_lines_payments():
    order, lines, payments = sale()
    assert order == Order("lightspeed_x", "s-uuid", "LSX-ouuid-1036", "store", "EUR", 1999, 319, 0, "CLOSED", T,
                          "berlin", "c-uuid", "ann@example.com", "in_store", None)
    assert lines == [OrderLine("lightspeed_x", "s-uuid", "l-uuid", "TEE-S", 1, 1999, 0, 319, 1999)]
    assert payments == [Payment("lightspeed_x", "s-uuid", "pay-uuid", "cash", 1999, "EUR", "pt-uuid")]


def test_discounted_line_reports_gross_unit_price_and_discount():
    # two units at 20.00 gross (16.80672 net) with 2.00 gross (1.68067 net) off each
    raw = changed(line_changed(SALE, quantity=2, price=15.12605, tax=2.87395, discount=1.68067),
                  total_price=30.2521, total_tax=5.7479, payments=[{**SALE["payments"][0], "amount": 36}])
    order, (line,), _ = sale(raw)
    assert (line.quantity, line.unit_price, line.discount, line.tax, line.total) == (2, 2000, 400, 575, 3600)
    assert (order.total_gross, order.total_discount) == (3600, 400)


# EUR 1.00 off a line of three 10.00 units (19 % VAT): X-Series keeps 9.66667 a unit (8.12325 net +
# 1.54342 tax, 0.28011 net off each); the sale total is 29.00001 and the till took 29.00
EURO_OFF_THREE = changed(
    line_changed(SALE, quantity=3, price=8.12325, tax=1.54342, discount=0.28011),
    total_price=24.36975, total_tax=4.63026, payments=[{**SALE["payments"][0], "amount": 29}])


def test_a_euro_off_three_units_maps_to_totals_equal_to_the_payments_with_the_rounding():
    order, (line,), payments = sale(EURO_OFF_THREE)
    assert (line.quantity, line.unit_price, line.discount, line.tax, line.total) == (3, 1000, 100, 463, 2900)
    assert (order.total_gross, order.total_tax, order.total_discount) == (2900, 463, 100)
    assert sum(p.amount for p in payments) == order.total_gross
    assert order.rounding == 2900 - 3 * 967  # the till's unit price 9.67 x 3 is 29.01: one cent rounded off


def test_an_uneven_sale_discount_over_three_lines_puts_the_remainder_on_one_line():
    one_each = {**EURO_OFF_THREE["line_items"][0], "quantity": 1}
    raw = changed(EURO_OFF_THREE, line_items=[{**one_each, "id": f"l-{i}", "sequence": i} for i in range(3)])
    order, lines, _ = sale(raw)
    assert [(line.total, line.tax, line.unit_price, line.discount) for line in lines] == [
        (967, 155, 1000, 33), (967, 154, 1000, 33), (966, 154, 1000, 34)]
    assert (order.total_gross, order.total_tax, order.total_discount, order.rounding) == (2900, 463, 100, -1)


def test_a_sale_whose_payments_are_more_than_rounding_off_its_total_maps_for_the_push_to_reject():
    from omnisync_pipelines.engine.order_drafts import StoreRef
    from omnisync_pipelines.engine.orders import StoreSale, sale_problems

    order, lines, payments = sale(changed(EURO_OFF_THREE, payments=[{**SALE["payments"][0], "amount": 29.5}]))
    assert (order.total_gross, sum(p.amount for p in payments)) == (2900, 2950)  # the till's total, not the payments
    assert sale_problems(StoreSale(order, lines, payments), {"berlin": StoreRef("ch", "berlin")}) == [
        ("payments", "payments add up to 2950, order total is 2900 (difference 50 minor units)")]


def test_a_whole_cent_sale_has_no_rounding():
    assert sale()[0].rounding == 0


@pytest.mark.parametrize(("raw", "bad_field"), [
    (changed(SALE, outlet_id="o-unknown"), "outlet_id"),
    (line_changed(SALE, product_id="p-unknown"), "line_items.product_id"),
    (line_changed(SALE, quantity=1.5), "line_items.quantity"),
    (changed(SALE, payments=[{**SALE["payments"][0], "name": "Bitcoin"}]), "payments"),
    (changed(SALE, payments=[{**SALE["payments"][0], "amount": 19.991}]), "payments.amount"),
    (changed(SALE, sale_date=None, created_at=None), "sale_date"),
])
def test_bad_sales_are_rejected(raw, bad_field):
    rejected = sale(raw)
    assert isinstance(rejected, Rejection)
    assert (rejected.entity, rejected.record_ref, rejected.field) == ("orders", raw["id"], bad_field)


@pytest.mark.parametrize(("payment", "tender_map", "method"), [
    ({"name": "Cash"}, None, "cash"),
    ({"name": "Credit Card"}, None, "card"),
    ({"name": "EFTPOS"}, None, "card"),
    ({"name": "Gift Card"}, None, "gift_card"),
    ({"name": "Store Credit"}, None, "store_credit"),
    ({"name": "Klarna"}, {"klarna": "other"}, "other"),
    ({"name": "Till 2", "payment_type_id": "7"}, {"type:7": "card"}, "card"),
    ({"name": "Cash"}, {"Cash": "other"}, "other"),
])
def test_tender_mapping(payment, tender_map, method):
    assert tender(payment, tender_map) == method


def test_unknown_tender_raises_for_the_payments_field():
    with pytest.raises(MappingError) as caught:
        tender({"name": "Bitcoin", "payment_type_id": "9"})
    assert caught.value.field == "payments"


@pytest.mark.parametrize(("raw", "expected"), [
    (SALE, False), (RETURN, True), (changed(RETURN, return_for=None), True),
    (changed(SALE, line_items=[]), False),
])
def test_is_return(raw, expected):
    assert is_return(raw) is expected


def test_return_sale_to_return_and_lines():
    ret, lines = map_return(RETURN, sku_of=SKUS, location_map=LOCATIONS, currency="EUR")
    assert (ret.return_id, ret.refund_total, ret.original_order_ref, ret.location_key, ret.reason_code) == (
        "ret-uuid", 1999, "s-uuid", "berlin", "damaged")
    assert [(x.line_id, x.sku, x.quantity, x.refund_amount, x.restock) for x in lines] == [
        ("rl-uuid", "TEE-S", 1, 1999, True)]


def test_online_order_returned_in_store_points_at_the_order_named_in_the_note():
    ret, _ = map_return(changed(RETURN, return_for=None, note="order:WEB-1042 reason:size"),
                        sku_of=SKUS, location_map=LOCATIONS, currency="EUR")
    assert (ret.original_order_ref, ret.reason_code) == ("WEB-1042", "size")


def test_a_return_without_any_reference_keeps_none_for_the_engine_to_reject():
    ret, _ = map_return(changed(RETURN, return_for=None, note="changed mind"),
                        sku_of=SKUS, location_map=LOCATIONS, currency="EUR")
    assert (ret.original_order_ref, ret.reason_code) == (None, "changed mind")


def test_return_at_unmapped_outlet_is_rejected():
    rejected = map_return(changed(RETURN, outlet_id="o-x"), sku_of=SKUS, location_map=LOCATIONS, currency="EUR")
    assert (rejected.entity, rejected.field) == ("returns", "outlet_id")


@pytest.mark.parametrize(("raw", "expected"), [
    (SALE, [("lightspeed_x:sale:s-uuid:l-uuid", -1, "sale")]),
    (RETURN, [("lightspeed_x:sale:ret-uuid:rl-uuid", 1, "return")]),
    (changed(SALE, status="SAVED"), []),
    (line_changed(SALE, status="VOIDED"), []),
])
def test_sale_movements(raw, expected):
    moved = map_sale_movements(raw, sku_of=SKUS, location_map=LOCATIONS)
    assert [(m.movement_id, m.quantity, m.kind) for m in moved] == expected
    assert all(m.location_key == "berlin" and m.occurred_at == T for m in moved)


TRANSFER = {"id": "cn-1", "type": "OUTLET", "status": "SENT", "source_outlet_id": "o-hh", "outlet_id": "o-uuid",
            "consignment_date": "2024-05-01T08:00:00+00:00", "received_at": None}
TRANSFER_LINES = [{"product_id": "p-uuid", "count": "4.00000", "received": None, "cost": "5.00"}]


@pytest.mark.parametrize(("consignment", "lines", "expected"), [
    (TRANSFER, TRANSFER_LINES, [(":out", "hamburg", -4, "transfer_out")]),
    (changed(TRANSFER, status="RECEIVED", received_at="2024-05-02T09:00:00+00:00"),
     [{**TRANSFER_LINES[0], "received": "3"}],
     [(":out", "hamburg", -4, "transfer_out"), (":in", "berlin", 3, "transfer_in")]),
    (changed(TRANSFER, type="SUPPLIER", status="RECEIVED", source_outlet_id=None), TRANSFER_LINES,
     [(":in", "berlin", 4, "receiving")]),
    (changed(TRANSFER, status="OPEN"), TRANSFER_LINES, []),
    (changed(TRANSFER, type="SUPPLIER", status="SENT"), TRANSFER_LINES, []),
    (changed(TRANSFER, type="SUPPLIER", status="DISPATCHED"), [{**TRANSFER_LINES[0], "received": "4"}], []),
    (changed(TRANSFER, status="CANCELLED", updated_at="2024-05-01T09:00:00+00:00"), TRANSFER_LINES,
     [(":out", "hamburg", -4, "transfer_out"), (":cancel", "hamburg", 4, "transfer_in")]),
    (changed(TRANSFER, type="RETURN", status="SENT", source_outlet_id=None), TRANSFER_LINES,
     [(":out", "berlin", -4, "adjustment")]),
    (changed(TRANSFER, type="RETURN", status="OPEN", source_outlet_id=None), TRANSFER_LINES, []),
])
def test_consignment_movements(consignment, lines, expected):
    moved = map_consignment_movements(consignment, lines, sku_of=SKUS, location_map=LOCATIONS)
    assert [(m.movement_id.removeprefix("lightspeed_x:consignment:cn-1:p-uuid"), m.location_key, m.quantity, m.kind)
            for m in moved] == expected


@pytest.mark.parametrize(("consignment", "lines", "bad_field"), [
    (changed(TRANSFER, source_outlet_id="o-x"), TRANSFER_LINES, "source_outlet_id"),
    (TRANSFER, [{**TRANSFER_LINES[0], "product_id": "p-x"}], "product_id"),
    (TRANSFER, [{**TRANSFER_LINES[0], "count": "1.5"}], "count"),
])
def test_bad_consignments_are_rejected(consignment, lines, bad_field):
    rejected = map_consignment_movements(consignment, lines, sku_of=SKUS, location_map=LOCATIONS)
    assert isinstance(rejected, Rejection) and rejected.field == bad_field


# ---------------------------------------------------------------- customers

@pytest.mark.parametrize(("raw", "expected"), [
    (CUSTOMER, ("ann@example.com", "ANN-42", "ANN-42", True, None)),
    (changed(CUSTOMER, enable_loyalty=False, do_not_email=True), ("ann@example.com", "ANN-42", None, False, None)),
    (changed(CUSTOMER, email="", do_not_email=..., customer_code="", mobile="+49 30 1234567"),
     (None, None, None, None, "+49 30 1234567")),
])
def test_customer(raw, expected):
    c = map_customer(raw)
    assert (c.email, c.external_id, c.loyalty_id, c.consent_marketing, c.phone) == expected


def test_customer_with_broken_email_is_rejected():
    rejected = map_customer(changed(CUSTOMER, email="ann at example"))
    assert (rejected.entity, rejected.field) == ("customers", "email")


# ---------------------------------------------------------------- canonical -> X-Series

ITEM = CatalogItem("commercetools", "TEE-S", "tee", "Tee / S", "ct-1", '{"Size": "S"}', "4006381333931", "std")


def test_product_draft():
    details = drafts.variant_details(ITEM, Price("commercetools", "TEE-S", "EUR", 1999, "x"),
                                     tax_rate=Decimal("0.19"), attribute_ids={"Size": "attr-size"},
                                     inventory={"o-uuid": 5})
    assert details == {"sku": "TEE-S", "is_active": True, "product_codes": [{"type": "EAN", "code": "4006381333931"}],
                       "variant_definitions": [{"attribute_id": "attr-size", "value": "S"}],
                       "price_excluding_tax": 16.79832, "inventory": [{"outlet_id": "o-uuid", "current_amount": 5}]}
    assert drafts.product_common(ITEM, name="Tee") == {"name": "Tee"}  # `is_active` rides in each variant's details


def test_supply_price_round_trip():
    item = dataclasses.replace(ITEM, supply_price=425)
    details = drafts.variant_details(item, attribute_ids={"Size": "attr-size"}, currency="EUR")
    assert details["supply_price"] == 4.25
    read_back = map_product(changed(PRODUCT, supply_price=details["supply_price"]), "EUR")
    assert read_back.supply_price == 425
    assert "supply_price" not in drafts.variant_details(ITEM, attribute_ids={"Size": "attr-size"})  # kept as it is
    yen = drafts.variant_details(dataclasses.replace(item, supply_price=1200), Price("commercetools", "TEE-S", "JPY", 3000, "x"),
                                 attribute_ids={"Size": "attr-size"})
    assert yen["supply_price"] == 1200


def test_supply_price_draft_needs_a_currency():
    with pytest.raises(MappingError) as caught:
        drafts.variant_details(dataclasses.replace(ITEM, supply_price=425), attribute_ids={"Size": "attr-size"})
    assert caught.value.field == "supply_price"


def test_product_draft_needs_attribute_ids():
    with pytest.raises(MappingError) as caught:
        drafts.variant_details(ITEM)
    assert caught.value.field == "attributes"


def test_customer_round_trip():
    customer = map_customer(CUSTOMER)
    payload = drafts.customer_payload(customer)
    assert payload == {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com",
                       "customer_code": "ANN-42", "do_not_email": False, "enable_loyalty": True}
    assert map_customer({**payload, "id": "c-uuid"}) == customer


def test_online_order_picked_up_in_store_to_register_sale():
    order = Order("commercetools", "ct-o1", "WEB-1001", "online", "EUR", 3600, 575, 400, "Open", T,
                  "berlin", None, "ann@example.com", "click_and_collect")
    lines = [OrderLine("commercetools", "ct-o1", "li-1", "TEE-S", 2, 2000, 400, 575, 3600)]
    payments = [Payment("commercetools", "ct-o1", "pay-1", "card", 3600, "EUR")]
    body = drafts.register_sale_payload(order, lines, payments, register_id="r-uuid", user_id="u-uuid",
                                        product_id_of={"TEE-S": "p-uuid"}, payment_type_id_of={"card": "pt-card"},
                                        tax_id="t-uuid", tax_rate=Decimal("0.19"), customer_id="c-uuid")
    (line,) = body["register_sale_products"]
    assert (line["product_id"], line["quantity"], line["price"], line["tax"], line["discount"]) == (
        "p-uuid", 2, 15.12605, 2.87395, 1.68067)
    assert body["register_sale_payments"] == [{"retailer_payment_type_id": "pt-card",
                                               "payment_date": T.isoformat(), "amount": 36.0}]
    assert (body["source"], body["source_id"], body["status"], body["customer_id"]) == (
        "omnisync", "ct-o1", "CLOSED", "c-uuid")
    # read back as the X-Series would report it, the sale maps to the same money
    raw = {"id": "s-new", "outlet_id": "o-uuid", "invoice_number": "9", "status": "CLOSED",
           "sale_date": T.isoformat(), "total_price": 30.2521, "total_tax": 5.7479,
           "line_items": [{**line, "id": "l-1"}], "payments": [{"id": "p", "name": "Credit Card", "amount": 36.0}]}
    _, (mapped,), (paid,) = sale(raw)
    assert (mapped.unit_price, mapped.discount, mapped.total, paid.amount, paid.method) == (2000, 400, 3600, 3600, "card")


@pytest.mark.parametrize(("kwargs", "bad_field"), [
    ({"product_id_of": {}}, "sku"), ({"payment_type_id_of": {}}, "payments"),
])
def test_register_sale_payload_refuses_what_it_cannot_express(kwargs, bad_field):
    order = Order("commercetools", "ct-o1", "WEB-1", "online", "EUR", 1999, 319, 0, "Open", T)
    args = {"register_id": "r", "user_id": "u", "product_id_of": {"TEE-S": "p"}, "payment_type_id_of": {"card": "c"},
            "tax_id": "t", "tax_rate": Decimal("0.19"), **kwargs}
    with pytest.raises(MappingError) as caught:
        drafts.register_sale_payload(order, [OrderLine("commercetools", "ct-o1", "l", "TEE-S", 1, 1999, 0, 319, 1999)],
                                     [Payment("commercetools", "ct-o1", "p", "card", 1999, "EUR")], **args)
    assert caught.value.field == bad_field
