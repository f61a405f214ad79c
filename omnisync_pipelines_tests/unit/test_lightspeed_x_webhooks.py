"""X-Series webhook deliveries -> typed events.

Contract: the body is form-encoded with a `payload` field holding a JSON string of a 0.9-style
object; the type comes from the route, else a `type` form field, else the object's shape; the
object id and (when present) version are read; a delivery without a usable payload or type is a
`WebhookPayloadError`, never a crash elsewhere.
"""

import json
from urllib.parse import urlencode

import pytest

from omnisync_pipelines.connectors.lightspeed_x.webhooks import (
    WebhookPayloadError,
    event_from_payload,
    infer_type,
    parse_webhook,
)

# ---------------------------------------------------------------- fixtures (0.9 shapes from the docs' examples)

PRODUCT = {"id": "0624dbcd-ef13-11e6-e986-fcc1c366e772", "handle": "postshavebalm", "name": "Post Shave Balm",
           "sku": "10012", "active": True, "deleted_at": None,
           "inventory": [{"attributed_cost": "10.00", "count": 2, "id": "0db6c587",
                          "outlet_id": "0624dbcd-ef95", "product_id": "0624dbcd-ef13-11e6-e986-fcc1c366e772",
                          "reorder_point": "0", "restock_level": "0"}],
           "price_book_entries": [{"customer_group_id": "g-1", "price": 20.0}]}
SALE = {"id": "s-uuid", "invoice_number": "1036", "status": "CLOSED", "version": 413,
        "register_sale_products": [{"product_id": "p-uuid", "quantity": 1, "price": 16.8}]}
CUSTOMER = {"id": "c-uuid", "customer_code": "ANN-42", "email": "ann@example.com", "version": "2691964626"}
INVENTORY = {"product_id": "p-uuid", "outlet_id": "o-uuid", "count": 3}
CONSIGNMENT = {"id": "cn-1", "type": "SUPPLIER", "status": "RECEIVED", "consignment_date": "2024-05-01 10:00:00"}


def form(payload, **extra) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return urlencode({"payload": text, **extra}).encode()


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize(("body", "route_type", "expected"), [
    (form(PRODUCT), "product.update", ("product.update", PRODUCT["id"], None)),
    (form(SALE, domain_prefix="acme", environment="prod"), None, ("sale.update", "s-uuid", 413)),
    (form(CUSTOMER, type="customer.update"), None, ("customer.update", "c-uuid", 2691964626)),
    (form(INVENTORY), None, ("inventory.update", "p-uuid@o-uuid", None)),
    (form(CONSIGNMENT), None, ("consignment.receive", "cn-1", None)),
    (form(SALE, type="customer.update"), "sale.update", ("sale.update", "s-uuid", 413)),  # the route wins
])
def test_parse_delivery(body, route_type, expected):
    event = parse_webhook(body, event_type=route_type)
    assert (event.type, event.object_id, event.version) == expected


def test_form_fields_and_helpers():
    event = parse_webhook(form(SALE, domain_prefix="acme", environment="prod").decode())
    assert (event.domain_prefix, event.environment) == ("acme", "prod")
    assert event.payload["register_sale_products"][0]["product_id"] == "p-uuid"
    inventory = parse_webhook({"payload": json.dumps(INVENTORY)})
    assert (inventory.product_id, inventory.outlet_id) == ("p-uuid", "o-uuid")
    assert parse_webhook(form(PRODUCT)).product_id == PRODUCT["id"]


def test_event_from_an_inbox_row():
    event = event_from_payload("sale.update", json.dumps(SALE))
    assert (event.type, event.object_id, event.version) == ("sale.update", "s-uuid", 413)


@pytest.mark.parametrize(("payload", "expected"), [
    (PRODUCT, "product.update"), (SALE, "sale.update"), (CUSTOMER, "customer.update"),
    (INVENTORY, "inventory.update"), ({**CONSIGNMENT, "status": "SENT"}, "consignment.send"),
    ({"id": "x"}, None),
])
def test_infer_type(payload, expected):
    assert infer_type(payload) == expected


@pytest.mark.parametrize(("body", "route_type"), [
    (urlencode({"data": "{}"}).encode(), None),  # no payload field
    (form("{not json"), None),
    (form("[1, 2]"), None),
    (form({"id": "x"}), None),  # no type anywhere
    (form(SALE), "sale.created"),  # not a documented type
])
def test_bad_deliveries(body, route_type):
    with pytest.raises(WebhookPayloadError):
        parse_webhook(body, event_type=route_type)
