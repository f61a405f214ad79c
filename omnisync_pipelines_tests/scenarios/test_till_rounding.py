"""Go-live: every completed till sale reaches commercetools, to the cent the till took (issue 18).

A clerk gives EUR 1.00 off a line of three 10.00 units. X-Series keeps per-unit amounts to 5
decimals: 9.66667 a unit (8.12325 net + 1.54342 VAT at 19 %, 0.28011 net off each), so the sale's
total is 29.00001 and its unit price shows as 9.67, while the till took 29.00. The sale must arrive
as an order of 29.00: lines, taxes and payments adding up exactly, the rounding (29.00 - 3 x 9.67 =
-1 cent) recorded on the order as `custom.fields.posRounding`.

When one of the three comes back, the till pays out 9.67 (the unit's 9.66667 to the cent): the
return lands on that order with a refund of exactly 9.67.

Two other sales stay rejected, and `reconciliation.orders` lists each with its reason: one paid with
a tender the tender map does not know (it cannot be mapped, so the POS snapshot never holds it), and
one sold on account with nothing paid yet (mapped, refused by the orders push).

The sales are posted to the X-Series emulator as a register would post them (the 0.9
`register_sales` API): the sandbox's world events carry whole-cent amounts only, so they cannot
ring up a discount that does not divide evenly.
"""

import httpx
import pytest

from omnisync_pipelines.engine.orders import orders_flow

pytestmark = pytest.mark.only_pos("lightspeed_x", reason="rings up X-Series register sales with 5-decimal "
                                  "unit amounts, which the sandbox's world events cannot express")

VAT = "0.19"


def register_sale(s, store: str, lines: list[dict], payments: list[tuple[str, float]], status: str = "CLOSED") -> str:
    """POST /api/register_sales as the store's first register does; the sale's id."""
    ids = s.loaded.pos[s.pos].ids
    body = {
        "register_id": ids["register_ids"][store][0], "user_id": ids["user_id"], "sale_date": s.clock.isoformat(),
        "status": status, "register_sale_products": [{**line, "tax_id": ids["tax_id"]} for line in lines],
        "register_sale_payments": [{"retailer_payment_type_id": payment_type, "amount": amount,
                                    "payment_date": s.clock.isoformat()} for payment_type, amount in payments],
    }

    async def post():
        async with httpx.AsyncClient(base_url=s.box.server.base_url(s.pos), timeout=30) as till:
            response = await till.post("/api/register_sales", json=body,
                                       headers={"Authorization": f"Bearer {ids['till_token']}"})
            assert response.status_code < 400, response.text
            return response.json()["register_sale"]["id"]

    s.next_id("till")  # the clock moves on
    return s.box.server.run(post())


@pytest.fixture(scope="module")
def day(scenario):
    s = scenario
    ids = s.loaded.pos[s.pos].ids
    store, sku = s.world.stores[0].key, s.world.variants[0].sku
    product = ids["product_ids"][sku]
    card = ids["payment_type_ids"]["card"]
    bitcoin = s.box.pos_emulator.seed_payment_type("Bitcoin", "99")["id"]  # set up in the back office, not mapped
    one_tee = {"product_id": product, "quantity": 1, "price": 8.40336, "tax": 1.59664, "discount": 0}
    day = {
        "store": store, "sku": sku,
        "euro_off_three": register_sale(s, store, [{"product_id": product, "quantity": 3, "price": 8.12325,
                                                    "tax": 1.54342, "discount": 0.28011}], [(card, 29.00)]),
        "bitcoin": register_sale(s, store, [one_tee], [(bitcoin, 10.00)]),
        "on_account": register_sale(s, store, [one_tee], [], status="ONACCOUNT"),
    }
    s.sync("full_sync")
    s.sync("reconcile")
    return day


def test_a_euro_off_three_units_reaches_commercetools_with_totals_equal_to_the_payments(scenario, day):
    s = scenario
    order = next((o for o in s.ct.store.all("order")
                  if o["custom"]["fields"].get("posSaleId") == day["euro_off_three"]), None)
    assert order is not None, s.open_rejections().to_string()
    paid = [t["amount"]["centAmount"] for p in s.ct_payments(order) for t in p["transactions"]]
    assert paid == [2900]
    assert order["totalPrice"]["centAmount"] == order["taxedPrice"]["totalGross"]["centAmount"] == sum(paid)
    assert sum(i["price"]["value"]["centAmount"] * i["quantity"] for i in order["lineItems"]) == 2900
    assert sorted((i["quantity"], i["price"]["value"]["centAmount"]) for i in order["lineItems"]) == [(1, 966), (2, 967)]
    taxed = order["taxedPrice"]
    assert taxed["totalTax"]["centAmount"] == sum(p["amount"]["centAmount"] for p in taxed["taxPortions"]) == 463
    assert taxed["totalNet"]["centAmount"] + taxed["totalTax"]["centAmount"] == 2900
    # the list price and the euro off, per line; the cent of rounding on the order
    assert {(i["custom"]["fields"]["listUnitPrice"]["centAmount"], i["custom"]["fields"]["lineDiscount"]["centAmount"])
            for i in order["lineItems"]} == {(1000, 100)}
    assert order["custom"]["fields"]["posRounding"] == -1
    ledger = s.ledger(orders_flow(s.pos))
    assert ledger.loc[ledger["record_ref"] == day["euro_off_three"], "status"].tolist() == ["applied"]
    row = s.query("SELECT status, difference, tax_difference, payments_difference FROM reconciliation.orders "
                  "WHERE pos_order_id = ?", [day["euro_off_three"]])
    assert row.values.tolist() == [["match", 0, 0, 0]]


def test_a_sale_still_rejected_shows_in_reconciliation_orders_with_its_reason(scenario, day):
    s = scenario
    rows = s.query("SELECT pos_order_id, status, reason, commercetools_order_id FROM reconciliation.orders "
                   "WHERE status <> 'match'").set_index("pos_order_id")
    assert set(rows.index) == {day["bitcoin"], day["on_account"]}, rows.to_string()
    assert set(rows["status"]) == {"rejected"} and rows["commercetools_order_id"].isna().all()
    assert rows.loc[day["bitcoin"], "reason"] == (
        "rejected: payments: unknown tender 'Bitcoin' (payment type '99'): add it to the tender map")
    assert rows.loc[day["on_account"], "reason"] == (
        "rejected: payments add up to 0, order total is 1000 (difference -1000 minor units)")
    # neither reached commercetools; both are in the rejected-records table with the same reasons
    assert not [o for o in s.ct.store.all("order")
                if o["custom"]["fields"].get("posSaleId") in (day["bitcoin"], day["on_account"])]
    assert {day["bitcoin"], day["on_account"]} <= set(s.open_rejections()["record_ref"])


@pytest.fixture(scope="module")
def returned(scenario, day):
    """The customer brings one of the three back: the till refunds 9.67 (one unit at 9.66667)."""
    s = scenario
    ids = s.loaded.pos[s.pos].ids
    sale_id = day["euro_off_three"]

    async def give_back():
        async with httpx.AsyncClient(base_url=s.box.server.base_url(s.pos), timeout=30) as till:
            auth = {"Authorization": f"Bearer {ids['till_token']}"}
            started = (await till.put(f"/api/2.0/sales/{sale_id}/actions/return", headers=auth)).json()["data"]
            [item] = started["line_items"]
            body = {"id": started["id"], "register_id": started["register_id"], "status": "CLOSED",
                    "note": "reason:changed_mind", "sale_date": s.clock.isoformat(),
                    "register_sale_products": [{"product_id": item["product_id"], "quantity": -1, "price": item["price"],
                                                "tax": item["tax"], "discount": item["discount"], "tax_id": ids["tax_id"]}],
                    "register_sale_payments": [{"retailer_payment_type_id": ids["payment_type_ids"]["card"],
                                                "amount": -9.67, "payment_date": s.clock.isoformat()}]}
            response = await till.post("/api/register_sales", json=body, headers=auth)
            assert response.status_code < 400, response.text
            return response.json()["register_sale"]["id"]

    s.next_id("till")
    return_id = s.box.server.run(give_back())
    s.sync("full_sync")
    return return_id


def test_one_of_the_three_returned_is_refunded_to_the_cent_the_till_paid_out(scenario, day, returned):
    s = scenario
    order = next(o for o in s.ct.store.all("order") if o["custom"]["fields"].get("posSaleId") == day["euro_off_three"])
    assert [(i["quantity"], i["shipmentState"]) for info in order.get("returnInfo", []) for i in info["items"]] == [
        (1, "BackInStock")], s.open_rejections().to_string()
    refunds = [t["amount"]["centAmount"] for p in s.ct_payments(order) for t in p["transactions"] if t["type"] == "Refund"]
    assert refunds == [967]
    assert returned not in set(s.open_rejections()["record_ref"])
