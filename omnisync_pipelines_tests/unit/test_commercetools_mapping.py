"""commercetools JSON -> canonical records, as tables over the shapes in API_FACTS §1.

Contract: valid records map field by field (money in integer minor units, UTC timestamps); an
invalid record becomes a Rejection naming the field and the reason, and never raises.
"""

import copy
import json
from datetime import UTC, datetime

import pandera.errors
import pytest

from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.canonical.models import Customer, Rejection, StockLevel
from omnisync_pipelines.connectors.commercetools.mapping import (
    format_timestamp,
    localized,
    map_channel,
    map_customer,
    map_inventory_entry,
    map_product_prices,
    map_product_projection,
)
from omnisync_pipelines.connectors.commercetools.order_mapping import (
    map_order,
    map_order_returns,
    payment_method,
)

# ---------------------------------------------------------------- fixtures

CHANNELS = {"ch-ber": "berlin"}
STORES = {"berlin": "berlin"}
T = datetime(2024, 5, 2, 10, 0, tzinfo=UTC)

ENTRY = {"id": "inv-1", "version": 4, "sku": "TEE-S", "supplyChannel": {"typeId": "channel", "id": "ch-ber"},
         "quantityOnStock": 5, "availableQuantity": 3, "restockableInDays": 2,
         "lastModifiedAt": "2024-05-02T10:00:00.000Z"}

PROJECTION = {
    "id": "pp-1", "version": 3, "key": "tee", "productType": {"typeId": "product-type", "id": "pt-1"},
    "name": {"en": "Tee"}, "slug": {"en": "tee"}, "published": True,
    "taxCategory": {"typeId": "tax-category", "id": "tc-1"},
    "masterVariant": {
        "id": 1, "sku": "TEE-S", "attributes": [{"name": "size", "value": "S"}, {"name": "GTIN", "value": "4006381333931"}],
        "prices": [
            {"id": "pr-1", "value": {"type": "centPrecision", "currencyCode": "EUR", "centAmount": 1999, "fractionDigits": 2},
             "country": "DE", "channel": {"typeId": "channel", "id": "ch-ber"}},
            {"id": "pr-2", "value": {"currencyCode": "EUR", "centAmount": 2199}, "customerGroup": {"typeId": "customer-group", "id": "cg-1"},
             "validFrom": "2024-05-01T00:00:00.000Z", "validUntil": "2024-06-01T00:00:00.000Z"},
        ],
    },
    "variants": [{"id": 2, "sku": "TEE-M", "attributes": [{"name": "size", "value": "M"}], "prices": []}],
    "lastModifiedAt": "2024-05-02T10:00:00.000Z",
}


def money(cents, currency="EUR"):
    return {"type": "centPrecision", "currencyCode": currency, "centAmount": cents, "fractionDigits": 2}


POS_ORDER = {
    "id": "o-1", "version": 2, "orderNumber": "POS-BER-000123", "customerEmail": " Ann@Example.com ",
    "store": {"typeId": "store", "key": "berlin"}, "orderState": "Complete",
    "createdAt": "2024-05-01T10:05:00.000Z", "completedAt": "2024-05-01T10:00:00.000Z",
    "lastModifiedAt": "2024-05-01T10:05:00.000Z",
    "totalPrice": money(3498),
    "taxedPrice": {"totalNet": money(2939), "totalGross": money(3498), "totalTax": money(559)},
    "custom": {"type": {"typeId": "type", "id": "t-o"}, "fields": {"posSaleId": "sale-1", "storeKey": "berlin"}},
    "lineItems": [
        {"id": "li-1", "name": {"en": "Tee"}, "variant": {"sku": "TEE-S"}, "quantity": 2,
         "price": {"value": money(1999)},
         "discountedPricePerQuantity": [{"quantity": 2, "discountedPrice": {"value": money(1749)}}],
         "totalPrice": money(3498),
         "taxedPrice": {"totalNet": money(2939), "totalGross": money(3498), "totalTax": money(559)},
         "supplyChannel": {"typeId": "channel", "id": "ch-ber"}},
    ],
    "paymentInfo": {"payments": [{"typeId": "payment", "id": "pay-1", "obj": {
        "id": "pay-1", "paymentMethodInfo": {"method": "Cash"},
        "transactions": [
            {"id": "tx-1", "type": "Charge", "amount": money(3498), "state": "Success", "interactionId": "R-1"},
            {"id": "tx-2", "type": "Authorization", "amount": money(3498), "state": "Success"},
            {"id": "tx-3", "type": "Refund", "amount": money(1749), "state": "Success", "interactionId": "R-2"},
            {"id": "tx-4", "type": "Charge", "amount": money(1), "state": "Failure"},
        ]}}]},
    "returnInfo": [{"returnTrackingId": "RT-1", "returnDate": "2024-05-03T09:00:00.000Z", "items": [
        {"id": "ri-1", "type": "LineItemReturnItem", "lineItemId": "li-1", "quantity": 1, "shipmentState": "Returned",
         "comment": "size", "createdAt": "2024-05-03T09:00:00.000Z"}]}],
}

ONLINE_ORDER = {
    "id": "o-2", "version": 1, "customerId": "cu-1", "customerEmail": "ann@example.com", "orderState": "Open",
    "createdAt": "2024-05-02T08:00:00.000Z", "totalPrice": money(1000),
    "discountOnTotalPrice": {"discountedAmount": money(100)},
    "lineItems": [{"id": "li-9", "variant": {"sku": "TEE-M"}, "quantity": 1,
                   "price": {"value": money(1000), "discounted": {"value": money(900)}}, "totalPrice": money(900),
                   "taxRate": {"amount": 0.19, "includedInPrice": True}}],
}

CUSTOMER = {"id": "cu-1", "version": 1, "key": "pos-42", "externalId": "LS-42", "email": "Ann@Example.com",
            "firstName": "Ann", "lastName": "Lee", "addresses": [{"mobile": "+49 170 1234567"}], "isEmailVerified": False,
            "custom": {"type": {"typeId": "type", "id": "ty-1"}, "fields": {"posCustomerId": "42", "loyaltyId": "L-9",
                                                                            "consentMarketing": True}},
            "lastModifiedAt": "2024-05-02T10:00:00.000Z"}


def changed(base: dict, **changes) -> dict:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is ...:
            out.pop(key, None)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------- stock


def test_inventory_entry_maps_to_stock_level():
    assert map_inventory_entry(ENTRY, CHANNELS) == StockLevel(
        system="commercetools", sku="TEE-S", location_key="berlin", on_hand=5, reserved=2, available=3,
        system_id="inv-1", system_version=4, updated_at=T,
    )


@pytest.mark.parametrize(
    ("raw", "field", "reason_part"),
    [
        (changed(ENTRY, supplyChannel={"typeId": "channel", "id": "ch-x"}), "supplyChannel", "not in the location map"),
        (changed(ENTRY, supplyChannel=...), "supplyChannel", "default stock"),
        (changed(ENTRY, sku=...), "sku", "missing"),
        (changed(ENTRY, quantityOnStock="5"), "quantityOnStock", "expected int"),
        (changed(ENTRY, lastModifiedAt="yesterday"), "lastModifiedAt", "not an ISO timestamp"),
        ("not a dict", "$", "expected a JSON object"),
    ],
)
def test_invalid_inventory_entries_are_rejected(raw, field, reason_part):
    result = map_inventory_entry(raw, CHANNELS)
    assert isinstance(result, Rejection)
    assert (result.entity, result.field) == ("stock", field) and reason_part in result.reason


def test_available_defaults_to_on_hand():
    level = map_inventory_entry(changed(ENTRY, availableQuantity=...), CHANNELS)
    assert (level.on_hand, level.available, level.reserved) == (5, 5, 0)


# ---------------------------------------------------------------- catalog and prices


def test_projection_maps_one_catalog_item_per_variant():
    items, rejected = map_product_projection(PROJECTION)
    assert rejected == []
    assert [(i.sku, i.system_id, i.barcode) for i in items] == [("TEE-S", "pp-1/1", "4006381333931"), ("TEE-M", "pp-1/2", None)]
    first = items[0]
    assert first.name == "Tee" and first.product_key == "tee" and first.tax_category == "tc-1" and first.updated_at == T
    assert first.attributes == json.dumps({"GTIN": "4006381333931", "size": "S"}, sort_keys=True)


def test_variant_without_sku_is_rejected_alone():
    raw = changed(PROJECTION, variants=[{"id": 2, "attributes": []}])
    items, rejected = map_product_projection(raw)
    assert [i.sku for i in items] == ["TEE-S"]
    assert [(r.field, r.record_ref) for r in rejected] == [("variants[1].sku", "pp-1")]


def test_prices_map_channel_group_country_and_validity():
    prices, rejected = map_product_prices(PROJECTION, CHANNELS)
    assert rejected == []
    store, group = prices
    assert (store.sku, store.amount, store.currency, store.country, store.location_key) == ("TEE-S", 1999, "EUR", "DE", "berlin")
    assert (group.customer_group, group.location_key, group.valid_from, group.valid_until) == (
        "cg-1", None, datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("price", "field"),
    [
        ({"id": "p", "value": {"currencyCode": "EUR", "centAmount": 19.99}}, "value.centAmount"),
        ({"id": "p", "value": {"currencyCode": "EURO", "centAmount": 1}}, "value.currencyCode"),
        ({"id": "p", "value": {"currencyCode": "EUR", "centAmount": -1}}, "value.centAmount"),
        ({"id": "p", "value": {"currencyCode": "EUR", "centAmount": 1}, "channel": {"id": "ch-x"}}, "channel"),
    ],
)
def test_invalid_prices_are_rejected(price, field):
    raw = changed(PROJECTION, masterVariant={"id": 1, "sku": "TEE-S", "prices": [price]}, variants=[])
    prices, rejected = map_product_prices(raw, CHANNELS)
    assert prices == [] and [r.field for r in rejected] == [f"variants[0].prices[0].{field}"]


# ---------------------------------------------------------------- orders and returns


def test_pos_order_maps_to_store_order_lines_and_tenders():
    order, lines, payments = map_order(POS_ORDER, CHANNELS, STORES)
    assert (order.channel, order.location_key, order.fulfilment, order.order_number) == ("store", "berlin", "in_store", "POS-BER-000123")
    assert (order.total_gross, order.total_tax, order.total_discount, order.currency) == (3498, 559, 500, "EUR")
    assert order.created_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)  # the sale time, not the import time
    assert order.customer_email == "ann@example.com"
    (line,) = lines
    assert (line.sku, line.quantity, line.unit_price, line.discount, line.tax, line.total) == ("TEE-S", 2, 1999, 500, 559, 3498)
    assert [(p.payment_id, p.method, p.amount, p.reference) for p in payments] == [
        ("pay-1/tx-1", "cash", 3498, "R-1"), ("pay-1/tx-3", "cash", -1749, "R-2")]
    assert order.rounding == 0
    assert order.pos_sale_id == "sale-1"  # what reconciliation pairs the order with its sale by


def test_the_rounding_of_a_pos_sale_is_read_back_from_the_order():
    fields = {**POS_ORDER["custom"]["fields"], "posRounding": -1}
    order, _, _ = map_order(changed(POS_ORDER, custom={**POS_ORDER["custom"], "fields": fields}), CHANNELS, STORES)
    assert order.rounding == -1


def test_online_order_uses_discounted_price_and_order_discount():
    order, lines, payments = map_order(ONLINE_ORDER, CHANNELS, STORES)
    assert (order.channel, order.location_key, order.fulfilment, order.customer_ref) == ("online", None, "ship", "cu-1")
    assert order.order_number == "o-2" and order.total_discount == 200 and order.total_tax == 0
    assert (lines[0].discount, lines[0].total) == (100, 900) and payments == []


DHL_RATE = {"name": "DE 19%", "amount": 0.19, "includedInPrice": True, "country": "DE"}
SHIPPED_ORDER = changed(ONLINE_ORDER, shippingInfo={
    "shippingMethodName": "DHL Standard", "price": money(595), "shippingRate": {"price": money(595)},
    "discountedPrice": {"value": money(495), "includedDiscounts": []}, "taxRate": DHL_RATE,
    "taxedPrice": {"totalNet": money(416), "totalGross": money(495), "totalTax": money(79)},
    "shippingMethod": {"typeId": "shipping-method", "id": "sm-1", "obj": {"id": "sm-1", "key": "dhl-standard"}},
    "shippingMethodState": "MatchesCart", "deliveries": []})


def test_web_order_carries_shipping_method_and_taxed_shipping_price():
    order, _, _ = map_order(SHIPPED_ORDER, CHANNELS, STORES)
    assert (order.shipping_method_name, order.shipping_method_key) == ("DHL Standard", "dhl-standard")
    assert (order.shipping_price, order.shipping_tax) == (495, 79)  # what the shopper paid, not the list rate


@pytest.mark.parametrize(
    ("info", "price", "tax"),
    [
        ({"price": money(495), "taxRate": DHL_RATE}, 495, 79),  # gross price: tax taken out
        ({"price": money(416), "taxRate": {**DHL_RATE, "includedInPrice": False}}, 495, 79),  # net: grossed up
        ({"price": money(595), "discountedPrice": {"value": money(0)}}, 0, 0),  # free-shipping discount
        ({"price": money(495), "taxedPrice": {"totalNet": money(416), "totalGross": money(495)}}, 495, 79),
    ],
)
def test_shipping_price_without_or_with_partial_taxed_price(info, price, tax):
    raw = changed(ONLINE_ORDER, shippingInfo={"shippingMethodName": "Courier", **info})
    order, _, _ = map_order(raw, CHANNELS, STORES)
    assert (order.shipping_price, order.shipping_tax, order.shipping_method_name) == (price, tax, "Courier")
    assert order.shipping_method_key is None  # a custom method, or the reference not expanded


def test_multiple_shipping_mode_sums_every_shipping_method():
    def shipping(key, name, gross, tax):
        return {"shippingKey": key, "shippingInfo": {
            "shippingMethodName": name, "price": money(gross),
            "taxedPrice": {"totalNet": money(gross - tax), "totalGross": money(gross), "totalTax": money(tax)},
            "shippingMethod": {"typeId": "shipping-method", "id": key, "obj": {"key": key}}}}

    raw = changed(ONLINE_ORDER, shippingMode="Multiple",
                  shipping=[shipping("dhl", "DHL", 495, 79), shipping("ups", "UPS Express", 1190, 190)])
    order, _, _ = map_order(raw, CHANNELS, STORES)
    assert (order.shipping_price, order.shipping_tax) == (1685, 269)
    assert (order.shipping_method_name, order.shipping_method_key) == ("DHL, UPS Express", "dhl, ups")


def test_orders_without_shipping_keep_the_defaults():
    order, _, _ = map_order(POS_ORDER, CHANNELS, STORES)  # a till sale ships nothing
    assert (order.shipping_method_name, order.shipping_method_key, order.shipping_price, order.shipping_tax) == (
        None, None, 0, 0)


def test_orders_with_shipping_pass_the_snapshot_schema():
    shipped, _, _ = map_order(SHIPPED_ORDER, CHANNELS, STORES)
    till_sale, _, _ = map_order(POS_ORDER, CHANNELS, STORES)
    frame = schemas.frame_from_records("orders", [shipped, till_sale])
    schemas.validate("orders", frame)
    assert frame["shipping_price"].tolist() == [495, 0] and frame["shipping_method_key"].tolist() == ["dhl-standard", None]
    negative = frame.assign(shipping_price=[-495, 0])
    with pytest.raises(pandera.errors.SchemaErrors, match="shipping_price"):
        schemas.validate("orders", negative)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (changed(POS_ORDER, custom={"fields": {"posSaleId": "s", "storeKey": "hamburg"}}, store=...), "location"),
        (changed(POS_ORDER, totalPrice={"currencyCode": "EUR", "centAmount": "34.98"}), "totalPrice.centAmount"),
        (changed(POS_ORDER, lineItems=[{"id": "li-1", "variant": {}, "quantity": 1, "price": {"value": money(1)}}]),
         "lineItems[0].variant.sku"),
        (changed(POS_ORDER, createdAt=..., completedAt=...), "createdAt"),
        (changed(POS_ORDER, custom={"fields": {"posSaleId": "s", "storeKey": "berlin", "fulfilment": "drone"}}),
         "custom.fields.fulfilment"),
        (changed(POS_ORDER, custom={"fields": {"posSaleId": "s", "storeKey": "berlin", "posRounding": 0.5}}),
         "custom.fields.posRounding"),
        (changed(SHIPPED_ORDER, shippingInfo={"shippingMethodName": "DHL", "price": money(495, "CHF")}),
         "shippingInfo.price.currencyCode"),
        (changed(SHIPPED_ORDER, shippingInfo={"shippingMethodName": "DHL",
                                              "taxedPrice": {"totalGross": {"currencyCode": "EUR", "centAmount": 4.95}}}),
         "shippingInfo.taxedPrice.totalGross.centAmount"),
        (changed(SHIPPED_ORDER, shippingInfo={"shippingMethodName": "Refund", "price": money(-495)}),
         "shippingInfo.price"),
        (changed(SHIPPED_ORDER, shippingInfo=..., shippingMode="Multiple",
                 shipping=[{"shippingKey": "a", "shippingInfo": {"shippingMethodName": "DHL"}}]),
         "shipping[0].shippingInfo.price"),
    ],
)
def test_invalid_orders_are_rejected(raw, field):
    result = map_order(raw, CHANNELS, STORES)
    assert isinstance(result, Rejection) and result.field == field and result.entity == "orders"
    assert "ann@example.com" not in result.payload.lower()  # payloads are redacted


def test_return_info_maps_to_return_and_lines():
    (ret, lines), = map_order_returns(POS_ORDER, CHANNELS, STORES)[0]
    assert (ret.return_id, ret.refund_total, ret.original_order_ref, ret.location_key, ret.reason_code) == (
        "o-1/RT-1", 1749, "POS-BER-000123", "berlin", "size")
    assert ret.created_at == datetime(2024, 5, 3, 9, tzinfo=UTC)
    (line,) = lines
    assert (line.sku, line.quantity, line.refund_amount, line.original_line_ref, line.restock) == ("TEE-S", 1, 1749, "li-1", True)


def test_return_of_unknown_or_custom_line_is_rejected():
    bad = changed(POS_ORDER, returnInfo=[{"items": [{"id": "ri-2", "lineItemId": "li-404", "quantity": 1}]},
                                         {"items": [{"id": "ri-3", "type": "CustomLineItemReturnItem",
                                                     "customLineItemId": "c1", "quantity": 1}]}])
    returns, rejected = map_order_returns(bad, CHANNELS, STORES)
    assert returns == [] and [r.field for r in rejected] == ["returnInfo[0].items[0].lineItemId", "returnInfo[1].items[0].lineItemId"]
    assert map_order_returns(ONLINE_ORDER, CHANNELS) == ([], [])


@pytest.mark.parametrize(("method", "expected"), [("Cash", "cash"), ("credit_card", "card"), ("VISA", "card"),
                                                  ("gift-card", "gift_card"), ("bitcoin", "other"), (None, "other")])
def test_payment_method(method, expected):
    assert payment_method(method) == expected


# ---------------------------------------------------------------- customers, channels, helpers


def test_customer_maps_and_normalises_email():
    assert map_customer(CUSTOMER) == Customer(
        system="commercetools", customer_id="cu-1", email="ann@example.com", first_name="Ann", last_name="Lee",
        phone="+49 170 1234567", external_id="LS-42", loyalty_id="L-9", consent_marketing=True, updated_at=T)


@pytest.mark.parametrize(("raw", "field"), [(changed(CUSTOMER, id=...), "id"), (changed(CUSTOMER, email="nope"), "email")])
def test_invalid_customers_are_rejected(raw, field):
    result = map_customer(raw)
    assert isinstance(result, Rejection) and result.field == field


def test_channel_and_helpers():
    loc = map_channel({"id": "ch-ber", "key": "store-berlin", "roles": ["InventorySupply"], "name": {"de": "Berlin"},
                       "address": {"country": "DE"}}, {"store-berlin": "berlin"})
    assert (loc.location_key, loc.system_id, loc.name, loc.country) == ("berlin", "ch-ber", "Berlin", "DE")
    assert map_channel({"id": "ch-2", "key": "web"}, {}).location_key is None
    assert localized({"en-GB": "Tee", "de": "T"}, "en") == "Tee"
    assert format_timestamp(datetime(2024, 5, 2, 10, 0, 0, 123456, tzinfo=UTC)) == "2024-05-02T10:00:00.123Z"
