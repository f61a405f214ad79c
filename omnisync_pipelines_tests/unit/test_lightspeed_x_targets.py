"""The X-Series catalog and customer targets' pure rules, as tables.

Contract: the base price is the amount most stores sell at (ties: the lower amount), the rest go to
price books; canonical customer fields map onto X-Series fields (consent is the inverse of
`do_not_email`, a loyalty id is the customer code with loyalty enabled); a customer created from
another system carries that system's id as its customer code (the link back), unless a loyalty id
is given.
"""

import pytest

from omnisync_pipelines.canonical.models import Customer
from omnisync_pipelines.connectors.lightspeed_x.catalog_target import base_amount
from omnisync_pipelines.connectors.lightspeed_x.customer_target import create_body, customer_fields


def slot(amount, currency="EUR"):
    return {"currency": currency, "amount": amount, "price_books": {}}


# tests ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("prices", "base"), [
    ({"berlin": slot(1999), "hamburg": slot(1999), "munich": slot(2199)}, (1999, "EUR")),
    ({"berlin": slot(2199), "munich": slot(1999)}, (1999, "EUR")),
    ({"berlin": slot(1999), "london": slot(1709, "GBP"), "munich": slot(1999)}, (1999, "EUR")),
    ({"berlin": slot(None)}, None),
    ({}, None),
])
def test_the_base_price_is_the_amount_most_stores_sell_at(prices, base):
    assert base_amount(prices) == base


@pytest.mark.parametrize(("values", "fields"), [
    ({"email": "a@b.de", "first_name": "Ann"}, {"email": "a@b.de", "first_name": "Ann"}),
    ({"consent_marketing": True}, {"do_not_email": False}),
    ({"consent_marketing": False}, {"do_not_email": True}),
    ({"loyalty_id": "LOY-1"}, {"customer_code": "LOY-1", "enable_loyalty": True}),
    ({"loyalty_id": None, "consent_marketing": None}, {}),
])
def test_canonical_fields_map_onto_x_series_fields(values, fields):
    assert customer_fields(values) == fields


def test_a_created_customer_carries_the_source_id_as_its_code_unless_a_loyalty_id_flows():
    web = Customer("commercetools", "ct-1", "a@b.de", "Ann", "Lee")
    assert create_body(web) == {"customer_code": "ct-1", "email": "a@b.de", "first_name": "Ann", "last_name": "Lee"}
    loyal = Customer("commercetools", "ct-2", "c@d.de", "Cara", None, loyalty_id="LOY-9")
    assert create_body(loyal)["customer_code"] == "LOY-9"
