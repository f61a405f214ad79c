"""Conformance: order import, returns, states, custom fields, payments and customers.

Contract, on both emulators: `import_order` creates an order whose custom fields carry the store
and POS references; a retry that meets its own orderNumber counts as applied (ours: the duplicate
is refused and found; the mock: found by the lookup after a lost answer); `addReturnInfo` and state
changes go through `update_with_retry`, all actions of one change in one request; payments carry
Charge and Refund transactions and a second refund with the same interactionId is skipped;
customers are found by key and externalId and updated field by field.
Ours only: the DuplicateField on a second orderNumber or payment key, `setReturnShipmentState`.
"""

import pytest

from omnisync_pipelines.connectors.commercetools.actions import (
    add_payment,
    add_return_info,
    order_state_actions,
)
from omnisync_pipelines.connectors.commercetools.orders import transaction
from omnisync_pipelines.connectors.commercetools.settings import ORDER_TYPE_KEY
from omnisync_pipelines.rest.errors import BadRequest, ServerError
from omnisync_pipelines_tests.conformance import setup

pytestmark = [pytest.mark.anyio, pytest.mark.conformance]


@pytest.fixture
async def sku(ct, uid) -> str:
    """A product variant to sell (both emulators check that an imported line's SKU exists)."""
    product_type = await setup.product_type(ct, f"{uid}-type")
    await setup.product(ct, f"{uid}-p", product_type["id"], [setup.variant(f"{uid}-sku")])
    await ct.ensure_types()
    return f"{uid}-sku"


def order_draft(number: str, sku: str, *, custom: bool = True) -> dict:
    draft = {
        "orderNumber": number,
        "customerEmail": "till@example.com",
        "lineItems": [{
            "name": {"en": "T-shirt"},
            "variant": {"sku": sku},
            "quantity": 2,
            "price": {"value": {"currencyCode": "EUR", "centAmount": 1500}},
        }],
        "totalPrice": {"currencyCode": "EUR", "centAmount": 3000},
        "orderState": "Complete",
        "shipmentState": "Delivered",
        "paymentState": "Paid",
        "completedAt": "2024-05-01T10:00:00.000Z",
    }
    if custom:
        draft["custom"] = {"type": {"typeId": "type", "key": ORDER_TYPE_KEY},
                           "fields": {"posSaleId": f"sale-{number}", "storeKey": "berlin"}}
    return draft


async def test_import_order_with_custom_fields_and_read_back(ct, uid, sku):
    result = await ct.import_order(order_draft(f"{uid}-1", sku))
    assert result.status == "applied"
    order = await ct.get_order_by_number(f"{uid}-1")
    assert order["id"] == result.id and order["orderState"] == "Complete"
    assert order["custom"]["fields"] == {"posSaleId": f"sale-{uid}-1", "storeKey": "berlin"}
    assert order["lineItems"][0]["variant"]["sku"] == f"{uid}-sku" and order["lineItems"][0]["quantity"] == 2
    assert order["totalPrice"]["centAmount"] == 3000
    assert await ct.get_order_by_number(f"{uid}-none") is None


async def test_retried_import_after_a_lost_answer_finds_its_own_order(ct, uid, sku, monkeypatch):
    draft = order_draft(f"{uid}-1", sku)
    real_call = ct.call

    async def lose_the_answer(method, url, **kwargs):  # the order is created, the answer is lost
        answer = await real_call(method, url, **kwargs)
        if url.endswith("/orders/import"):
            raise ServerError("lost", system="commercetools", method=method, url=url, status=502)
        return answer

    monkeypatch.setattr(ct, "call", lose_the_answer)
    result = await ct.import_order(draft)
    assert result.status == "already_applied" and result.resource["orderNumber"] == f"{uid}-1"


@pytest.mark.ours_only(reason="commercetools-mock 4.4.0 accepts a second order with the same orderNumber")
async def test_duplicate_order_number_counts_as_applied(ct, uid, sku, calls):
    first = await ct.import_order(order_draft(f"{uid}-1", sku))
    again = await ct.import_order(order_draft(f"{uid}-1", sku))
    assert (again.status, again.id) == ("already_applied", first.id)
    refused = [c for c in calls if c["path"].endswith("/orders/import") and c["status"] == 400]
    assert len(refused) == 1 and "DuplicateField" in refused[0]["error"]


async def test_return_info_and_state_changes(ct, uid, sku, calls):
    order = (await ct.import_order(order_draft(f"{uid}-1", sku))).resource
    line_id = order["lineItems"][0]["id"]
    items = [{"quantity": 1, "lineItemId": line_id, "shipmentState": "Returned", "comment": "too small"}]

    def build(current):
        return [a for a in [add_return_info(current, items, return_tracking_id=f"ret-{uid}",
                                            return_date="2024-05-02T10:00:00.000Z")] if a]

    updated = await ct.update_with_retry("orders", order["id"], build)
    info = updated["returnInfo"]
    assert len(info) == 1 and info[0]["returnTrackingId"] == f"ret-{uid}"
    item = info[0]["items"][0]
    assert (item["lineItemId"], item["quantity"], item["shipmentState"]) == (line_id, 1, "Returned")
    assert item["id"] and item["paymentState"]
    again = await ct.update_with_retry("orders", order["id"], build)  # same tracking id: nothing to do
    assert len(again["returnInfo"]) == 1 and again["version"] == updated["version"]

    before = sum(1 for c in calls if c["method"] == "POST")
    desired = {"orderState": "Confirmed", "shipmentState": "Shipped", "paymentState": "CreditOwed"}
    changed = await ct.update_with_retry("orders", order["id"], lambda cur: order_state_actions(cur, desired))
    assert {k: changed[k] for k in desired} == desired
    assert sum(1 for c in calls if c["method"] == "POST") == before + 1  # three actions, one request

    custom = await ct.update_order(changed["id"], changed["version"],
                                   [{"action": "setCustomField", "name": "fulfilment", "value": "pickup"}])
    assert custom["custom"]["fields"]["fulfilment"] == "pickup"
    assert custom["custom"]["fields"]["posSaleId"] == f"sale-{uid}-1"


@pytest.mark.ours_only(reason="commercetools-mock 4.4.0 has no setReturnShipmentState")
async def test_set_return_shipment_state(ct, uid, sku):
    order = (await ct.import_order(order_draft(f"{uid}-1", sku))).resource
    items = [{"quantity": 1, "lineItemId": order["lineItems"][0]["id"], "shipmentState": "Returned"}]
    order = await ct.update_order(order["id"], order["version"], [{"action": "addReturnInfo", "items": items}])
    item_id = order["returnInfo"][0]["items"][0]["id"]
    order = await ct.update_order(order["id"], order["version"],
                                  [{"action": "setReturnShipmentState", "returnItemId": item_id, "shipmentState": "BackInStock"}])
    assert order["returnInfo"][0]["items"][0]["shipmentState"] == "BackInStock"


async def test_payment_with_charge_and_refund_linked_to_order(ct, uid, sku):
    order = (await ct.import_order(order_draft(f"{uid}-1", sku))).resource
    charge = transaction("Charge", "EUR", 3000, interaction_id=f"{uid}-till", timestamp="2024-05-01T10:00:00.000Z")
    payment = await ct.create_payment(key=f"{uid}-pay", currency="EUR", amount_planned=3000, method="CARD",
                                      transactions=[charge])
    assert payment.status == "applied"
    assert [(t["type"], t["amount"]["centAmount"], t["state"]) for t in payment.resource["transactions"]] == [
        ("Charge", 3000, "Success")]

    refunded = await ct.add_refund(payment.id, "EUR", 1500, f"{uid}-refund")
    again = await ct.add_refund(payment.id, "EUR", 1500, f"{uid}-refund")
    assert [t["type"] for t in refunded["transactions"]] == ["Charge", "Refund"]
    assert again["version"] == refunded["version"] and len(again["transactions"]) == 2

    linked = await ct.update_with_retry("orders", order["id"], lambda cur: [a for a in [add_payment(cur, payment.id)] if a])
    assert [p["id"] for p in linked["paymentInfo"]["payments"]] == [payment.id]
    expanded = await ct.get_order_by_number(f"{uid}-1", expand=True)
    assert expanded["paymentInfo"]["payments"][0]["obj"]["transactions"][1]["type"] == "Refund"


@pytest.mark.ours_only(reason="commercetools-mock 4.4.0 accepts a second payment with the same key")
async def test_payment_key_is_unique(ct, uid):
    first = await ct.create_payment(key=f"{uid}-pay", currency="EUR", amount_planned=100, method="CASH")
    again = await ct.create_payment(key=f"{uid}-pay", currency="EUR", amount_planned=100, method="CASH")
    assert (again.status, again.id) == ("already_applied", first.id)


async def test_customers_by_key_and_external_id_with_field_updates(ct, uid):
    created = await ct.create_customer({"email": f"{uid}@example.com", "firstName": "Ada", "lastName": "L",
                                        "key": f"{uid}-c", "externalId": f"pos-{uid}", "password": "x-Secret-1"})
    assert (await ct.get_customer_by_key(f"{uid}-c"))["id"] == created["id"]
    assert (await ct.find_customer_by_external_id(f"pos-{uid}"))["id"] == created["id"]
    assert (await ct.find_customer_by_email(f"{uid.upper()}@Example.com"))["id"] == created["id"]
    assert await ct.get_customer_by_key(f"{uid}-none") is None

    updated = await ct.update_customer(created["id"], {"firstName": "Ada", "lastName": "Lovelace", "externalId": f"pos2-{uid}"})
    assert (updated["lastName"], updated["externalId"], updated["firstName"]) == ("Lovelace", f"pos2-{uid}", "Ada")
    unchanged = await ct.update_customer(created["id"], {"lastName": "Lovelace"})
    assert unchanged["version"] == updated["version"]

    with pytest.raises(BadRequest) as caught:  # email is unique in a project
        await ct.create_customer({"email": f"{uid}@example.com", "password": "x-Secret-1"})
    assert "DuplicateField" in caught.value.codes
