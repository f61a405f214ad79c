"""Who a store sale belongs to in commercetools: the POS customer's crosswalk twin, and its loyalty id.

Contract: a sale to a POS customer the customers flow linked to a commercetools customer is imported
as that customer's order, carrying the POS loyalty id (`custom.fields.loyaltyId`, a field added to an
order type that predates it); a customer with no linked twin leaves a guest order with the sale's
email, never a guessed customer; a guest sale names no one.
"""

from __future__ import annotations

import pytest

from omnisync_pipelines.canonical.models import Customer
from omnisync_pipelines.connectors.commercetools.settings import ORDER_TYPE_KEY
from omnisync_pipelines.engine.orders import LOYALTY_FIELD, sync_store_sales
from omnisync_pipelines.engine.sale_customers import sale_customers
from omnisync_pipelines.store.crosswalk import Crosswalk
from omnisync_pipelines_tests.engine import test_store_sales_to_orders as store_sales
from omnisync_pipelines_tests.engine.test_store_sales_to_orders import POS, batch, line, sale, seed_world

pytestmark = pytest.mark.anyio
emulator, ct = store_sales.emulator, store_sales.ct  # the same fixtures (ops: conftest)


def pos_customer(customer_id: str, email: str, loyalty_id: str | None) -> Customer:
    return Customer(POS, customer_id, email, "Gia", "Weber", loyalty_id=loyalty_id)


def test_the_lookup_follows_the_crosswalk_and_takes_the_loyalty_id_from_the_pos():
    links = {("lightspeed_x", "pos-1"): "cust-a", ("commercetools", "ct-1"): "cust-a",
             ("lightspeed_x", "pos-2"): "cust-b",  # known at the till only
             ("commercetools", "ct-9"): "cust-c"}
    buyers = sale_customers(POS, links, [pos_customer("pos-1", "a@example.com", "LOY-1"),
                                         pos_customer("pos-2", "b@example.com", "LOY-2"),
                                         pos_customer("pos-3", "c@example.com", None)])
    assert [buyers.commercetools_id(ref) for ref in ("pos-1", "pos-2", "pos-3")] == ["ct-1", None, None]
    assert [buyers.loyalty_id(ref) for ref in ("pos-1", "pos-2", "pos-3")] == ["LOY-1", "LOY-2", None]


async def test_sales_to_linked_unlinked_and_guest_customers(ct, ops):
    stores = await seed_world(ct)
    await ct.ensure_types()  # an order type from before the loyalty field existed
    twin = (await ct.create("customers", {"email": "gia@example.com", "password": "x", "key": "gia"}))["customer"]
    crosswalk = Crosswalk(ops)
    crosswalk.link("customer", "cust-gia", POS, "pos-gia")
    crosswalk.link("customer", "cust-gia", "commercetools", twin["id"])
    buyers = sale_customers(POS, crosswalk.mapping("customer"), [
        pos_customer("pos-gia", "gia@example.com", "LOY-0004"), pos_customer("pos-ben", "ben@example.com", "LOY-0009")])

    linked = sale("s1", "2001", [line("s1", 1, "TEE-S", 1, 1999)], [("card", 1999)], customer_ref="pos-gia",
                  email="gia@example.com")
    unlinked = sale("s2", "2002", [line("s2", 1, "MUG-1", 1, 1250)], [("cash", 1250)], customer_ref="pos-ben",
                    email="ben@example.com")
    guest = sale("s3", "2003", [line("s3", 1, "CAP-1", 1, 999)], [("cash", 999)])
    outcome = await sync_store_sales(*batch(linked, unlinked, guest), ct, ops, pos_system=POS, stores=stores,
                                     customers=buyers.commercetools_id, loyalty=buyers.loyalty_id)
    assert (outcome.statistics.applied, outcome.rejections) == (3, [])

    first = await ct.get_order_by_number("POS-BERLIN-2001")
    assert first["customerId"] == twin["id"] and first["custom"]["fields"][LOYALTY_FIELD] == "LOY-0004"
    second = await ct.get_order_by_number("POS-BERLIN-2002")
    assert "customerId" not in second and second["customerEmail"] == "ben@example.com"
    assert second["custom"]["fields"][LOYALTY_FIELD] == "LOY-0009"  # the card was shown, the account is unknown
    third = await ct.get_order_by_number("POS-BERLIN-2003")
    assert "customerId" not in third and LOYALTY_FIELD not in third["custom"]["fields"]
    order_type = await ct.get_by_key("types", ORDER_TYPE_KEY)
    assert [d["name"] for d in order_type["fieldDefinitions"]].count(LOYALTY_FIELD) == 1
