"""Update-action builders: each returns None when the field already has the value, and the compose
functions gather only the actions that change something."""

import pytest

from omnisync_pipelines.connectors.commercetools import actions as a

ENTRY = {"id": "inv-1", "version": 4, "sku": "TEE-S", "quantityOnStock": 5, "restockableInDays": 2}


@pytest.mark.parametrize(
    ("delta", "expected"),
    [(3, {"action": "addQuantity", "quantity": 3}), (-2, {"action": "removeQuantity", "quantity": 2}), (0, None)],
)
def test_stock_delta(delta, expected):
    assert a.stock_delta(delta) == expected


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: a.change_quantity(ENTRY, 5), None),
        (lambda: a.change_quantity(ENTRY, 7), {"action": "changeQuantity", "quantity": 7}),
        (lambda: a.change_quantity(ENTRY, None), None),
        (lambda: a.set_restockable_in_days(ENTRY, 2), None),
        (lambda: a.set_restockable_in_days(ENTRY, None), {"action": "setRestockableInDays"}),
        (lambda: a.set_expected_delivery(ENTRY, None), None),
        (lambda: a.set_custom_field({"custom": {"fields": {"f": "x"}}}, "f", "x"), None),
        (lambda: a.set_custom_field({"custom": {"fields": {}}}, "f", "x"), {"action": "setCustomField", "name": "f", "value": "x"}),
        (lambda: a.change_email({"email": "a@x.com"}, "a@x.com"), None),
        (lambda: a.change_email({"email": "a@x.com"}, "b@x.com"), {"action": "changeEmail", "email": "b@x.com"}),
        (lambda: a.set_first_name({"firstName": "Ann"}, "Ann"), None),
        (lambda: a.set_last_name({}, "Lee"), {"action": "setLastName", "lastName": "Lee"}),
        (lambda: a.set_external_id({"externalId": "1"}, None), {"action": "setExternalId"}),
        (lambda: a.set_key({"key": "k"}, "k"), None),
        (lambda: a.change_order_state({"orderState": "Open"}, "Complete"), {"action": "changeOrderState", "orderState": "Complete"}),
        (lambda: a.change_shipment_state({"shipmentState": "Delivered"}, "Delivered"), None),
        (lambda: a.change_payment_state({}, None), None),
        (lambda: a.add_payment({"paymentInfo": {"payments": [{"id": "p1"}]}}, "p1"), None),
        (lambda: a.add_payment({}, "p1"), {"action": "addPayment", "payment": {"typeId": "payment", "id": "p1"}}),
        (lambda: a.add_return_info({"returnInfo": [{"returnTrackingId": "R1"}]}, [{"quantity": 1}], return_tracking_id="R1"), None),
        (lambda: a.add_return_info({}, [], return_tracking_id="R1"), None),
    ],
)
def test_single_field_builders(build, expected):
    assert build() == expected


def test_stamp_custom_field_sets_the_type_only_when_missing():
    assert a.stamp_custom_field({}, "omnisync-inventory", "omnisyncLastMovement", "m1") == {
        "action": "setCustomType",
        "type": {"typeId": "type", "key": "omnisync-inventory"},
        "fields": {"omnisyncLastMovement": "m1"},
    }
    with_type = {"custom": {"type": {"id": "t"}, "fields": {"other": 1}}}
    assert a.stamp_custom_field(with_type, "omnisync-inventory", "omnisyncLastMovement", "m1") == {
        "action": "setCustomField", "name": "omnisyncLastMovement", "value": "m1"
    }


def test_compose_and_resource_composers():
    assert a.compose(None, {"action": "x"}, [None, {"action": "y"}]) == [{"action": "x"}, {"action": "y"}]
    assert a.inventory_actions(ENTRY, {"quantityOnStock": 5, "restockableInDays": 2}) == []
    assert a.inventory_actions(ENTRY, {"quantityOnStock": 6}) == [{"action": "changeQuantity", "quantity": 6}]
    current = {"email": "a@x.com", "firstName": "Ann", "lastName": "Lee"}
    assert a.customer_actions(current, {"email": "a@x.com", "firstName": "Ann"}) == []
    assert a.customer_actions(current, {"lastName": "Li", "externalId": "LS-1"}) == [
        {"action": "setLastName", "lastName": "Li"},
        {"action": "setExternalId", "externalId": "LS-1"},
    ]
    assert a.order_state_actions({"orderState": "Open", "paymentState": "Paid"}, {"orderState": "Complete", "paymentState": "Paid"}) == [
        {"action": "changeOrderState", "orderState": "Complete"}
    ]
