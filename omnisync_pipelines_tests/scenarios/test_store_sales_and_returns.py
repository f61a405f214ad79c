"""Go-live: store sales become commercetools orders (flow 3) and store returns reach their original
order (flow 4), end to end: the tills post to the POS emulator, real Dagster runs sync, and each
test reads the final state of both systems and the ledger.

Contract (issue 9, acceptance):
- cash sale to a guest; card sale to a linked customer with loyalty (the order belongs to the
  commercetools twin of the POS customer and carries the loyalty id); split payment (cash + card +
  gift card, one payment each); discount at the register (list price and discount kept per line);
- each sale is one order (orderNumber derived from the POS sale, the sale id as a reference, the
  store and its supply channel), totals equal to the till's, one `applied` ledger row; the store's
  stock drops once in both systems;
- a return of an in-store purchase lands on that sale's order: return info with the mapped reason
  code, items back in stock and refunded, a refund transaction; the store is restocked once;
- a return in store of an online purchase is linked to the online order (by its orderNumber);
- a POS reason without a configured code is rejected with the reason, never guessed;
- an exchange is a return on the first sale's order plus a new sale of its own.

One sandbox and two runs for the whole file: the first sync with all the sales waiting, then a delta
run after all the returns.
"""

import json

import pytest

from omnisync_pipelines.connectors.pos import PICKED_UP
from omnisync_pipelines.engine.fulfilment import fulfilment_flow
from omnisync_pipelines.engine.orders import orders_flow
from omnisync_pipelines.engine.returns import returns_flow
from omnisync_pipelines.sandbox.world import OnlineOrder, Sale, SaleLine, StoreReturn

LOYAL_SHOPPER = "c004"  # known at the till with loyalty card LOY-0004, no web account of their own


# the day at the tills ---------------------------------------------------------------------------
def ring_up(s, store: str, lines: list[SaleLine], tenders: list[tuple[str, int]], shopper: str | None = None) -> Sale:
    sale = Sale(s.next_id("sale"), s.clock, store, tuple(lines), tuple(tenders), shopper)
    s.till(sale)
    return sale


def bring_back(s, store: str, sku: str, reason: str, *, of_sale: Sale | None = None, of_online: str | None = None) -> StoreReturn:
    ret = StoreReturn(s.next_id("return"), s.clock, store, ((sku, 1),), reason,
                      of_sale=of_sale.event_id if of_sale else None, of_online_order=of_online)
    s.till(ret)
    return ret


class Day:
    """What was done at the tills and online, and the counts before it."""

    def __init__(self, s):
        self.before = {(v.sku, st.key): s.pos_count(v.sku, st.key) for v in s.world.variants for st in s.world.stores}


@pytest.fixture(scope="module")
def sales(scenario):
    s = scenario
    day = Day(s)
    day.cash = ring_up(s, "berlin", [SaleLine("TEE-BLUE-L", 1, 1499)], [("cash", 1499)])
    day.loyal = ring_up(s, "berlin", [SaleLine("HOODIE-BLUE-L", 1, 7999)], [("card", 7999)], shopper=LOYAL_SHOPPER)
    day.split = ring_up(s, "munich", [SaleLine("HOODIE-RED-M", 1, 7999), SaleLine("TEE-RED-S", 2, 1499)],
                        [("cash", 3000), ("card", 5997), ("gift_card", 2000)])
    day.discounted = ring_up(s, "berlin", [SaleLine("TEE-RED-S", 2, 1499, discount=150)], [("card", 2698)])
    shopper = next(x.key for x in s.world.shoppers if x.online and x.at_pos and x.key != "c000")
    day.online = OnlineOrder(s.next_id("web"), s.clock, f"WEB-S-{s.counter:03d}", shopper, "berlin",
                             "click_and_collect", (SaleLine("TEE-BLUE-S", 1, 1499),))
    s.storefront(day.online)
    # go-live: the first sync, with the day's sales waiting; the loyal shopper's first purchase finds
    # the commercetools customer the same run creates for them (orders wait for the customer links)
    s.sync("full_sync")
    return day


@pytest.fixture(scope="module")
def returns(scenario, sales):
    s, day = scenario, sales
    day.before_returns = {(v.sku, st.key): s.pos_count(v.sku, st.key) for v in s.world.variants for st in s.world.stores}
    [pickup] = s.pos_sales(order_id=s.ct_order(day.online.order_number)["id"])
    s.fulfil(pickup["id"], PICKED_UP)  # the shopper collects, tries it on at home...
    day.in_store_return = bring_back(s, "berlin", "HOODIE-BLUE-L", "size", of_sale=day.loyal)
    day.online_return = bring_back(s, "berlin", "TEE-BLUE-S", "damaged", of_online=day.online.order_number)
    day.unmapped_return = bring_back(s, "berlin", "TEE-BLUE-L", "lost_receipt", of_sale=day.cash)
    # an exchange at munich: one of the split sale's small tees comes back, a medium one goes out
    day.exchange_return = bring_back(s, "munich", "TEE-RED-S", "size", of_sale=day.split)
    day.exchange_sale = ring_up(s, "munich", [SaleLine("TEE-RED-M", 1, 1499)], [("card", 1499)])
    s.sync()
    return day


# reading ------------------------------------------------------------------------------------------
def counts(s, sku: str, store: str) -> tuple[int, int | None]:
    return s.pos_count(sku, store), s.ct_count(sku, store)


def tenders(s, order: dict) -> list[tuple[str, int, str]]:
    return sorted((p["paymentMethodInfo"]["method"], t["amount"]["centAmount"], t["type"])
                  for p in s.ct_payments(order) for t in p["transactions"])


def lines(order: dict) -> list[tuple[str, int, int, int, int]]:
    """(sku, quantity, unit price paid, list unit price, line discount)"""
    return sorted((i["variant"]["sku"], i["quantity"], i["price"]["value"]["centAmount"],
                   i["custom"]["fields"]["listUnitPrice"]["centAmount"], i["custom"]["fields"]["lineDiscount"]["centAmount"])
                  for i in order["lineItems"])


def imported(s, sale: Sale) -> dict:
    """The sale's order, checked for what every imported store sale has; the ledger says applied once."""
    order = s.ct_order_of_sale(sale.event_id)
    assert order is not None, f"sale {sale.event_id} was not imported"
    sale_id = s.loaded.sale_ids[sale.event_id]
    pos_sale = s.probe.sale(sale_id)
    assert pos_sale["store"] == sale.store
    # derived from the POS sale: the store, then the POS's own number ending in the receipt's
    assert order["orderNumber"].startswith(f"POS-{sale.store.upper()}-")
    assert order["orderNumber"].endswith(f"-{pos_sale['receipt']}")
    assert (order["orderState"], order["shipmentState"], order["paymentState"]) == ("Complete", "Delivered", "Paid")
    assert order["store"]["key"] == sale.store and order["custom"]["fields"]["storeKey"] == sale.store
    assert {i["supplyChannel"]["id"] for i in order["lineItems"]} == {s.loaded.channel_ids[sale.store]}
    assert order["totalPrice"]["centAmount"] == order["taxedPrice"]["totalGross"]["centAmount"] == sale.total
    assert sum(i["totalPrice"]["centAmount"] for i in order["lineItems"]) == sale.total
    entries = s.ledger(orders_flow(s.pos))
    [entry] = entries[entries["record_ref"] == sale_id].itertuples()
    assert entry.status == "applied" and json.loads(entry.result)["orderNumber"] == order["orderNumber"]
    return order


def sold_once(s, day, sale: Sale) -> None:
    for line in sale.lines:
        left = day.before[(line.sku, sale.store)] - line.quantity
        assert counts(s, line.sku, sale.store) == (left, left), f"{line.sku} at {sale.store}"


def ct_customer(s, email: str) -> dict:
    return next(c for c in s.ct.store.all("customer") if c["email"] == email)


def returned_items(order: dict, ret_id: str) -> list[tuple[str, int, str, str, str]]:
    [info] = [i for i in order.get("returnInfo") or [] if i["returnTrackingId"] == f"POS-RETURN-{ret_id}"]
    sku_of = {li["id"]: li["variant"]["sku"] for li in order["lineItems"]}
    return [(sku_of[i["lineItemId"]], i["quantity"], i["comment"], i["shipmentState"], i["paymentState"]) for i in info["items"]]


def refunds(s, order: dict) -> list[tuple[str, int]]:
    return [(t["interactionId"], t["amount"]["centAmount"]) for p in s.ct_payments(order) for t in p["transactions"]
            if t["type"] == "Refund"]


# sales ---------------------------------------------------------------------------------------------
def test_cash_sale_to_a_guest(scenario, sales):
    s, sale = scenario, sales.cash
    order = imported(s, sale)
    assert "customerId" not in order and "loyaltyId" not in order["custom"]["fields"]
    assert order["custom"]["fields"]["posSaleId"] == s.loaded.sale_ids[sale.event_id]
    assert tenders(s, order) == [("cash", 1499, "Charge")]
    assert lines(order) == [("TEE-BLUE-L", 1, 1499, 1499, 0)]
    taxed = order["taxedPrice"]  # 14.99 incl. 19 % VAT, as the till split it: 12.60 + 2.39
    assert (taxed["totalNet"]["centAmount"], taxed["totalTax"]["centAmount"]) == (1260, 239)
    sold_once(s, sales, sale)


def test_card_sale_to_a_linked_customer_carries_the_loyalty_id(scenario, sales):
    s, sale = scenario, sales.loyal
    shopper = next(x for x in s.world.shoppers if x.key == LOYAL_SHOPPER)
    twin = ct_customer(s, shopper.email)  # created in commercetools by the customers flow, in the same run
    order = imported(s, sale)
    assert order["customerId"] == twin["id"]
    assert order["custom"]["fields"]["loyaltyId"] == shopper.loyalty_code == "LOY-0004"
    assert twin["custom"]["fields"]["loyaltyId"] == "LOY-0004"
    assert tenders(s, order) == [("card", 7999, "Charge")]
    sold_once(s, sales, sale)


def test_split_payment_cash_card_and_gift_card(scenario, sales):
    s, sale = scenario, sales.split
    order = imported(s, sale)
    assert "customerId" not in order
    assert tenders(s, order) == [("card", 5997, "Charge"), ("cash", 3000, "Charge"), ("gift_card", 2000, "Charge")]
    assert sum(p["amountPlanned"]["centAmount"] for p in s.ct_payments(order)) == sale.total == 10997
    assert lines(order) == [("HOODIE-RED-M", 1, 7999, 7999, 0), ("TEE-RED-S", 2, 1499, 1499, 0)]
    sold_once(s, sales, sale)


def test_discount_applied_at_the_register(scenario, sales):
    s, sale = scenario, sales.discounted
    order = imported(s, sale)
    # 1.50 off each of two tees: paid 13.49 a piece; the list price and the line's 3.00 discount are kept
    assert lines(order) == [("TEE-RED-S", 2, 1349, 1499, 300)]
    assert order["totalPrice"]["centAmount"] == 2698
    assert tenders(s, order) == [("card", 2698, "Charge")]
    sold_once(s, sales, sale)


def test_the_sales_run_left_nothing_rejected_or_in_flight(scenario, sales):
    s = scenario
    rejected = s.open_rejections()
    assert rejected[rejected["flow"].isin([orders_flow(s.pos), returns_flow(s.pos)])].empty
    assert set(s.ledger(orders_flow(s.pos))["status"]) == {"applied"}
    assert s.ledger(fulfilment_flow(s.pos))["status"].tolist() == ["applied"]  # the online order went to its store
    assert set(s.reconciliation()) == {"match"}


def test_the_sales_plan_names_each_sale_with_the_key_the_ledger_applied(scenario, sales):
    s = scenario
    plan = s.query(f"SELECT record_id, idempotency_key, action FROM plan.{orders_flow(s.pos)}")
    ledger = s.ledger(orders_flow(s.pos))
    mine = {s.loaded.sale_ids[x.event_id] for x in (sales.cash, sales.loyal, sales.split, sales.discounted)}
    assert mine <= set(plan["record_id"])
    assert set(plan[plan["record_id"].isin(mine)]["action"]) == {"import"}  # planned before this run applied them
    assert set(plan["idempotency_key"]) == set(ledger["idempotency_key"])  # every planned sale, applied once


# returns --------------------------------------------------------------------------------------------
def test_the_returns_plan_holds_the_new_returns_and_the_sales_plan_only_the_new_sale(scenario, returns):
    s = scenario
    returns_plan = s.query(f"SELECT record_id, action FROM plan.{returns_flow(s.pos)}")
    assert len(returns_plan) == 4 and set(returns_plan["action"]) == {"import"}
    orders_plan = s.query(f"SELECT record_id, action FROM plan.{orders_flow(s.pos)}")
    new = orders_plan[orders_plan["action"] == "import"]["record_id"].tolist()
    assert new == [s.loaded.sale_ids[returns.exchange_sale.event_id]]  # only the exchange's new sale


def test_return_of_an_in_store_purchase(scenario, returns):
    s, day = scenario, returns
    ret, sale = day.in_store_return, day.loyal
    return_id = s.loaded.sale_ids[ret.event_id]
    order = s.ct_order_of_sale(sale.event_id)
    # the POS reason "size" is recorded as the configured code
    assert returned_items(order, return_id) == [("HOODIE-BLUE-L", 1, "wrong-size", "BackInStock", "Refunded")]
    assert refunds(s, order) == [(return_id, 7999)]
    assert tenders(s, order) == [("card", 7999, "Charge"), ("card", 7999, "Refund")]
    # restocked once: the till put it back on the count, commercetools follows it, not twice
    back = day.before_returns[("HOODIE-BLUE-L", "berlin")] + 1
    assert counts(s, "HOODIE-BLUE-L", "berlin") == (back, back)
    entries = s.ledger(returns_flow(s.pos))
    [entry] = entries[entries["record_ref"] == return_id].itertuples()
    assert entry.status == "applied" and json.loads(entry.result)["orderNumber"] == order["orderNumber"]


def test_return_in_store_of_an_online_purchase(scenario, returns):
    s, day = scenario, returns
    ret, number = day.online_return, day.online.order_number
    return_id = s.loaded.sale_ids[ret.event_id]
    order = s.ct_order(number)
    assert (order["orderState"], order["shipmentState"]) == ("Complete", "Delivered")  # collected first
    assert returned_items(order, return_id) == [("TEE-BLUE-S", 1, "damaged", "BackInStock", "Refunded")]
    assert refunds(s, order) == [(return_id, 1499)]  # on a refund payment: the web order had none of ours
    # set aside for the pickup (-1), brought back to the same store (+1)
    back = day.before_returns[("TEE-BLUE-S", "berlin")] + 1
    assert back == day.before[("TEE-BLUE-S", "berlin")]
    assert counts(s, "TEE-BLUE-S", "berlin") == (back, back)
    entries = s.ledger(returns_flow(s.pos))
    [entry] = entries[entries["record_ref"] == return_id].itertuples()
    assert entry.status == "applied" and json.loads(entry.result)["order_id"] == order["id"]


def test_a_return_reason_without_a_configured_code_is_rejected_not_guessed(scenario, returns):
    s, day = scenario, returns
    return_id = s.loaded.sale_ids[day.unmapped_return.event_id]
    rejected = s.open_rejections()
    [row] = rejected[(rejected["flow"] == returns_flow(s.pos)) & (rejected["record_ref"] == return_id)].itertuples()
    assert row.field == "reason_code" and "'lost_receipt'" in row.reason
    assert not s.ct_order_of_sale(day.cash.event_id).get("returnInfo")
    assert refunds(s, s.ct_order_of_sale(day.cash.event_id)) == []
    # the unit is back on the shelf all the same: the count is the stock flow's, and it follows
    back = day.before_returns[("TEE-BLUE-L", "berlin")] + 1
    assert counts(s, "TEE-BLUE-L", "berlin") == (back, back)


def test_an_exchange_is_a_return_on_the_first_order_and_a_new_sale_of_its_own(scenario, returns):
    s, day = scenario, returns
    return_id = s.loaded.sale_ids[day.exchange_return.event_id]
    first = s.ct_order_of_sale(day.split.event_id)
    assert returned_items(first, return_id) == [("TEE-RED-S", 1, "wrong-size", "BackInStock", "Refunded")]
    assert refunds(s, first) == [(return_id, 1499)]
    second = imported(s, day.exchange_sale)
    assert second["id"] != first["id"] and lines(second) == [("TEE-RED-M", 1, 1499, 1499, 0)]
    assert tenders(s, second) == [("card", 1499, "Charge")]
    # the small tee is back on munich's shelf, the medium one gone: once each, in both systems
    for sku, moved in (("TEE-RED-S", +1), ("TEE-RED-M", -1)):
        expected = day.before_returns[(sku, "munich")] + moved
        assert counts(s, sku, "munich") == (expected, expected), sku


def test_the_returns_run_leaves_both_systems_matching(scenario, returns):
    s = scenario
    applied = s.ledger(returns_flow(s.pos))
    assert sorted(applied["status"]) == ["applied", "applied", "applied"]
    rejected = s.open_rejections()
    assert rejected[rejected["flow"] == orders_flow(s.pos)].empty
    assert set(s.reconciliation()) == {"match"}
