"""Pure builders of commercetools order drafts and return actions, as tables.

Contract: amounts are exact integer minor units (a discounted line that does not divide is split so
the cents add up), identifiers are deterministic and key-safe, and every action builder answers
None when the order already has what it would write.
"""

from datetime import UTC, datetime

import pytest

from omnisync_pipelines.canonical.models import Order, OrderLine, Payment, Return, ReturnLine
from omnisync_pipelines.engine.order_drafts import (
    OrderSyncOptions,
    StoreRef,
    add_payment_actions,
    charge_transaction,
    customer_fields,
    line_item_drafts,
    order_import_draft,
    payment_key,
    pos_order_number,
    safe_key,
    tax_portions,
    tax_rate_amount,
    unit_price_splits,
)
from omnisync_pipelines.engine.return_actions import (
    NotReturnable,
    add_return_info,
    allocate,
    refund_payment,
    set_return_shipment_state,
)

STORE = StoreRef(channel_id="ch-ber", store_key="berlin", country="DE")
AT = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def order(**overrides) -> Order:
    base = dict(system="lightspeed_x", order_id="s1", order_number="000123", channel="store", currency="EUR",
                total_gross=1999, total_tax=319, total_discount=0, status="CLOSED", created_at=AT,
                location_key="berlin", customer_email="ann@example.com")
    return Order(**{**base, **overrides})


def line(sku="TEE-S", quantity=1, unit=1999, discount=0, tax=319, line_id="l1") -> OrderLine:
    return OrderLine("lightspeed_x", "s1", line_id, sku, quantity, unit, discount, tax, quantity * unit - discount)


# identifiers -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("location", "number", "expected"), [
    ("berlin", "000123", "POS-BERLIN-000123"),
    ("hamburg-2", "7", "POS-HAMBURG-2-7"),
    ("berlin", "x" * 120, "POS-BERLIN-" + pos_order_number("berlin", "x" * 120)[11:]),
])
def test_pos_order_number(location, number, expected):
    assert pos_order_number(location, number) == expected
    assert len(pos_order_number(location, number)) <= 100


@pytest.mark.parametrize(("prefix", "raw", "readable"), [
    ("pos-lightspeed_x", "0af1-22", True),
    ("pos-lightspeed_x", "with space", False),
    ("ret", "a/b", False),
])
def test_safe_key_is_readable_when_it_can_be(prefix, raw, readable):
    key = safe_key(prefix, raw)
    assert (key == f"{prefix}-{raw}") is readable
    assert key == safe_key(prefix, raw) and key.replace("-", "").replace("_", "").isalnum()


def test_payment_key():
    assert payment_key("lightspeed_x", "p-9") == "pos-lightspeed_x-p-9"


# money and tax ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("total", "quantity", "parts"), [
    (3998, 2, [(2, 1999)]),
    (2900, 3, [(2, 967), (1, 966)]),
    (1000, 3, [(1, 334), (2, 333)]),
    (0, 2, [(2, 0)]),
    (5, 1, [(1, 5)]),
])
def test_unit_price_splits_add_up_exactly(total, quantity, parts):
    assert unit_price_splits(total, quantity) == parts
    assert sum(q * u for q, u in parts) == total and sum(q for q, _ in parts) == quantity


@pytest.mark.parametrize(("tax", "gross", "rate"), [(319, 1999, 0.19), (65, 1000, 0.07), (0, 500, 0.0), (10, 10, 0.0)])
def test_tax_rate_amount(tax, gross, rate):
    assert tax_rate_amount(tax, gross) == rate


def test_tax_portions_group_by_rate():
    lines = [line(tax=319), line(sku="B", unit=1000, tax=160, line_id="l2"), line(sku="C", unit=1070, tax=70, line_id="l3")]
    assert [(p["rate"], p["amount"]["centAmount"]) for p in tax_portions(lines, "EUR")] == [(0.07, 70), (0.19, 479)]


# drafts ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("discounted", "expected"), [
    (line(), [(1, 1999)]),
    (line(quantity=2, discount=400, tax=574), [(2, 1799)]),
    (line(quantity=3, unit=1000, discount=100, tax=463), [(2, 967), (1, 966)]),
])
def test_line_items_carry_the_paid_unit_price_and_the_discount(discounted, expected):
    drafts = line_item_drafts(discounted, "EUR", STORE, OrderSyncOptions())
    assert [(d["quantity"], d["price"]["value"]["centAmount"]) for d in drafts] == expected
    for draft in drafts:
        assert draft["custom"]["fields"]["listUnitPrice"]["centAmount"] == discounted.unit_price
        assert draft["custom"]["fields"]["lineDiscount"]["centAmount"] == discounted.discount
        assert draft["supplyChannel"] == {"typeId": "channel", "id": "ch-ber"} and "distributionChannel" not in draft
        assert draft["inventoryMode"] == "None"


@pytest.mark.parametrize(("sale", "customer_id", "expected"), [
    (order(), None, {"customerEmail": "ann@example.com"}),
    (order(), "cu-1", {"customerId": "cu-1"}),
    (order(customer_email=None), None, {}),
])
def test_customer_fields(sale, customer_id, expected):
    assert customer_fields(sale, customer_id) == expected


def test_order_import_draft():
    draft = order_import_draft(order(), [line()], STORE, None, OrderSyncOptions())
    assert {k: draft[k] for k in ("orderNumber", "orderState", "shipmentState", "paymentState", "inventoryMode",
                                  "completedAt", "store")} == {
        "orderNumber": "POS-BERLIN-000123", "orderState": "Complete", "shipmentState": "Delivered",
        "paymentState": "Paid", "inventoryMode": "None", "completedAt": "2024-05-01T10:00:00.000Z",
        "store": {"typeId": "store", "key": "berlin"},
    }
    assert draft["totalPrice"]["centAmount"] == 1999
    assert [draft["taxedPrice"][k]["centAmount"] for k in ("totalNet", "totalTax", "totalGross")] == [1680, 319, 1999]
    assert draft["custom"]["fields"] == {"posSaleId": "s1", "storeKey": "berlin", "fulfilment": "in_store"}


def test_a_rounded_sale_records_its_rounding_and_imports_lines_adding_up_to_the_payments():
    # EUR 1.00 off three 10.00 units: 9.66667 a unit at the till, 29.00 taken
    sale = order(total_gross=2900, total_tax=463, total_discount=100, rounding=-1)
    draft = order_import_draft(sale, [line(quantity=3, unit=1000, discount=100, tax=463)], STORE, None,
                               OrderSyncOptions())
    assert draft["custom"]["fields"]["posRounding"] == -1
    assert [(i["quantity"], i["price"]["value"]["centAmount"]) for i in draft["lineItems"]] == [(2, 967), (1, 966)]
    assert draft["totalPrice"]["centAmount"] == draft["taxedPrice"]["totalGross"]["centAmount"] == 2900
    assert sum(p["amount"]["centAmount"] for p in draft["taxedPrice"]["taxPortions"]) == 463


def test_charge_transaction_and_add_payment_actions():
    tx = charge_transaction(Payment("lightspeed_x", "s1", "p1", "cash", 1999, "EUR"))
    assert (tx["type"], tx["state"], tx["amount"]["centAmount"], tx["interactionId"]) == ("Charge", "Success", 1999, "p1")
    linked = {"paymentInfo": {"payments": [{"typeId": "payment", "id": "a"}]}}
    assert add_payment_actions(linked, ["a", "b"]) == [{"action": "addPayment", "payment": {"typeId": "payment", "id": "b"}}]
    assert add_payment_actions(linked, ["a"]) == []


# return actions --------------------------------------------------------------------------------
RET = Return("lightspeed_x", "r1", "EUR", 1999, AT, "s1", "berlin", "size")
SOLD = {"orderNumber": "POS-BERLIN-1", "returnInfo": [], "lineItems": [
    {"id": "li-1", "quantity": 2, "variant": {"sku": "TEE-S"}, "custom": {"fields": {"posLineId": "l1"}}},
    {"id": "li-2", "quantity": 1, "variant": {"sku": "TEE-S"}, "custom": {"fields": {"posLineId": "l2"}}},
]}


def rline(quantity=1, original=None, sku="TEE-S") -> ReturnLine:
    return ReturnLine("lightspeed_x", "r1", "rl1", sku, quantity, 1999 * quantity, original)


@pytest.mark.parametrize(("lines", "expected"), [
    ([rline(1)], [("li-1", 1)]),
    ([rline(3)], [("li-1", 2), ("li-2", 1)]),
    ([rline(1, original="l2")], [("li-2", 1)]),
])
def test_allocate_by_sku_and_remaining_quantity(lines, expected):
    assert [(item_id, q) for _, item_id, q in allocate(SOLD, lines)] == expected


@pytest.mark.parametrize(("lines", "field"), [([rline(4)], "quantity"), ([rline(1, sku="MUG-1")], "sku")])
def test_allocate_refuses_what_was_not_sold(lines, field):
    with pytest.raises(NotReturnable) as caught:
        allocate(SOLD, lines)
    assert caught.value.field == field


def test_add_return_info_once():
    action = add_return_info(SOLD, RET, [rline(1)], "SIZE", "2024-05-03T09:00:00.000Z")
    assert action["returnTrackingId"] == "POS-RETURN-r1"
    assert [(i["lineItemId"], i["quantity"], i["shipmentState"], i["comment"]) for i in action["items"]] == [
        ("li-1", 1, "Returned", "SIZE")]
    recorded = {**SOLD, "returnInfo": [{"returnTrackingId": "POS-RETURN-r1", "items": []}]}
    assert add_return_info(recorded, RET, [rline(1)], "SIZE", "2024-05-03T09:00:00.000Z") is None


@pytest.mark.parametrize(("item", "state", "expected"), [
    ({"id": "ri", "shipmentState": "Returned"}, "BackInStock",
     {"action": "setReturnShipmentState", "returnItemId": "ri", "shipmentState": "BackInStock"}),
    ({"id": "ri", "shipmentState": "BackInStock"}, "BackInStock", None),
])
def test_set_return_shipment_state(item, state, expected):
    assert set_return_shipment_state(item, state) == expected


def _payment(pid, charged, refunded=0):
    txs = [{"type": "Charge", "state": "Success", "amount": {"centAmount": charged}}]
    if refunded:
        txs.append({"type": "Refund", "state": "Success", "amount": {"centAmount": refunded}})
    return {"id": pid, "transactions": txs}


@pytest.mark.parametrize(("payments", "amount", "chosen"), [
    ([_payment("a", 1000), _payment("b", 3000)], 1999, "b"),
    ([_payment("a", 3000, refunded=2000), _payment("b", 500)], 1999, "a"),
    ([], 100, None),
])
def test_refund_payment(payments, amount, chosen):
    found = refund_payment(payments, amount)
    assert (found or {}).get("id") == chosen


def test_a_yen_sale_is_drafted_in_whole_yen():
    """JPY has no minor unit: 1,980 yen is centAmount 1980 with fractionDigits 0, not 19.80."""
    order_line = OrderLine("lightspeed_x", "s9", "s9-L1", "TEE-S", 1, 1980, 0, 180, 1980)
    order = Order(system="lightspeed_x", order_id="s9", order_number="9001", channel="store", currency="JPY",
                  total_gross=1980, total_tax=180, total_discount=0, status="CLOSED", created_at=AT,
                  location_key="tokyo")
    draft = order_import_draft(order, [order_line], StoreRef(channel_id="ch-tyo", store_key="tokyo", country="JP"), None, OrderSyncOptions())
    amounts = [draft["totalPrice"], draft["taxedPrice"]["totalGross"], draft["lineItems"][0]["price"]["value"],
               charge_transaction(Payment("lightspeed_x", "s9", "p1", "cash", 1980, "JPY"))["amount"]]
    assert {(a["centAmount"], a["fractionDigits"]) for a in amounts} == {(1980, 0)}


def test_currencies_have_their_iso_minor_units():
    from omnisync_pipelines.canonical.money import currency_digits

    assert [currency_digits(c) for c in ("EUR", "GBP", "jpy", "KRW", "RWF", "KWD", "BHD")] == [2, 2, 0, 0, 0, 3, 3]
