"""Go-live: click-and-collect and ship-from-store (flow 5) and sellable stock (flow 7), end to end.

Contract: an online order for store fulfilment is assigned after a live POS stock check, to the
chosen store or else its configured fallback; the store gets one register sale setting the goods
aside, its count drops once and commercetools follows in the same run; an order no store can serve
is an open exception row until stock arrives; ready / collected / dispatched / voided statuses reach
the commercetools order and shipment states; reserved units are kept off the sellable totals that
are written to the aggregate supply channel; a second run writes nothing.
"""

import json

from omnisync_pipelines.connectors.pos import (
    CANCELLED,
    DISPATCHED,
    PICKED_UP,
    WAITING_DISPATCH,
    WAITING_PICKUP,
)
from omnisync_pipelines.engine.availability import FLOW as AVAILABILITY
from omnisync_pipelines.engine.fulfilment import fulfilment_flow
from omnisync_pipelines.engine.fulfilment_status import status_flow
from omnisync_pipelines.sandbox.world import OnlineOrder, SaleLine


# fixtures and helpers ------------------------------------------------------------------------------
def online_order(s, store: str, sku: str, fulfilment: str = "click_and_collect") -> OnlineOrder:
    shopper = next(x.key for x in s.world.shoppers if x.online)
    variant, where = s.world.variant(sku), s.world.store(store)
    order = OnlineOrder(s.next_id("web"), s.clock, f"WEB-S-{s.counter:03d}", shopper, store, fulfilment,
                        (SaleLine(sku, 1, variant.price_at(where)),))
    s.storefront(order)
    return order


def pickup_sale(s, order_number: str) -> dict:
    """The store sale that sets the online order's goods aside (one, whatever happened since)."""
    order = s.ct_order(order_number)
    [sale] = s.pos_sales(order_id=order["id"])
    return sale


def states(s, order_number: str) -> tuple[str, str, str]:
    order = s.ct_order(order_number)
    return order["orderState"], order.get("shipmentState"), order["store"]["key"]


def ct_writes_during(s, work) -> list:
    before = len(s.ops.table_frame("api_calls"))
    work()
    calls = s.ops.table_frame("api_calls").iloc[before:]
    return calls[(calls["system"] == "commercetools") & (calls["method"] != "GET") & ~calls["path"].str.contains("oauth")
                 ]["path"].tolist()


def assert_no_open_rejections(s) -> None:
    """Of the flows under test here (the catalog and customer flows have their own scenarios)."""
    rejected = s.open_rejections()
    rejected = rejected[rejected["flow"].str.contains("stock|fulfilment|availability")]
    assert rejected.empty, rejected[["flow", "record_ref", "field", "reason"]].to_string()


def sku(s, index: int) -> str:
    return s.world.variants[index].sku


# tests -----------------------------------------------------------------------------------------------
def test_first_full_sync_aligns_both_systems(scenario):
    scenario.sync("full_sync")
    assert set(scenario.reconciliation()) == {"match"}


def test_a_pickup_whose_store_ran_out_is_rerouted_to_the_fallback_store(scenario):
    s, item = scenario, sku(scenario, 0)
    s.configure(fulfilment={"fallback_stores": {"berlin": ["munich"]}})
    s.set_pos_count(item, "berlin", 0)
    s.set_pos_count(item, "munich", 3)
    s.sync()
    order = online_order(s, "berlin", item)

    s.sync()

    assert states(s, order.order_number) == ("Confirmed", "Ready", "munich")
    assert s.ct_order(order.order_number)["custom"]["fields"]["fulfilmentStore"] == "munich"
    sale = pickup_sale(s, order.order_number)
    assert (sale["status"], sale["store"]) == (WAITING_PICKUP, "munich")
    # the store's stock is decremented once, in both systems, in the same run
    assert (s.pos_count(item, "munich"), s.ct_count(item, "munich")) == (2, 2)
    assert (s.pos_count(item, "berlin"), s.ct_count(item, "berlin") or 0) == (0, 0)
    [entry] = s.ledger(fulfilment_flow(s.pos)).itertuples()
    result = json.loads(entry.result)
    assert entry.status == "applied" and result["store"] == "munich" and result["rerouted"] is True
    assert s.query(f"SELECT status FROM push.{fulfilment_flow(s.pos)}")["status"].tolist() == ["rerouted"]
    assert_no_open_rejections(s)
    assert set(s.reconciliation()) == {"match"}

    s.fulfil(sale["id"], PICKED_UP)  # the shopper collects at the till
    s.sync()

    assert states(s, order.order_number) == ("Complete", "Delivered", "munich")
    assert (s.pos_count(item, "munich"), s.ct_count(item, "munich")) == (2, 2)  # no second decrement
    applied = s.ledger(status_flow(s.pos))
    assert set(applied["status"]) == {"applied"} and len(applied) == 2  # ready, then collected
    assert ct_writes_during(s, s.sync) == []  # nothing left to write


def test_an_order_no_store_can_serve_is_an_exception_row_until_stock_arrives(scenario):
    s, item = scenario, sku(scenario, 1)
    s.set_pos_count(item, "berlin", 0)
    s.set_pos_count(item, "munich", 0)
    s.sync()
    order = online_order(s, "berlin", item)

    s.sync()

    rejected = s.open_rejections()
    [row] = rejected[rejected["flow"] == fulfilment_flow(s.pos)].itertuples()
    assert row.record_ref == order.order_number and row.field == "fulfilment"
    assert "no store can serve" in row.reason and f"{item} has 0 of 1" in row.reason
    assert states(s, order.order_number)[:2] == ("Open", "Pending")  # not silently confirmed
    assert not s.pos_sales(order_id=s.ct_order(order.order_number)["id"])
    exception = s.query(f"SELECT status, requested_location FROM push.{fulfilment_flow(s.pos)} WHERE order_number = ?",
                        [order.order_number])
    assert exception.iloc[0].tolist() == ["exception", "berlin"]

    s.set_pos_count(item, "munich", 1)  # a delivery arrives at the fallback store
    s.sync()

    assert states(s, order.order_number) == ("Confirmed", "Ready", "munich")
    assert (s.pos_count(item, "munich"), s.ct_count(item, "munich")) == (0, 0)
    assert_no_open_rejections(s)


def test_ship_from_store_is_confirmed_then_shipped(scenario):
    s, item = scenario, sku(scenario, 2)
    s.set_pos_count(item, "munich", 4)
    s.sync()
    order = online_order(s, "munich", item, fulfilment="ship_from_store")
    s.sync()
    assert states(s, order.order_number) == ("Confirmed", "Pending", "munich")
    sale = pickup_sale(s, order.order_number)
    assert sale["status"] == WAITING_DISPATCH

    s.fulfil(sale["id"], DISPATCHED)  # staff ship it from the store
    s.sync()

    assert states(s, order.order_number) == ("Complete", "Shipped", "munich")
    assert (s.pos_count(item, "munich"), s.ct_count(item, "munich")) == (3, 3)


def test_a_cancelled_pickup_puts_the_units_back_in_both_systems(scenario):
    s, item = scenario, sku(scenario, 3)
    s.set_pos_count(item, "berlin", 2)
    s.sync()
    voided_at_till = online_order(s, "berlin", item)
    cancelled_online = online_order(s, "berlin", item)
    s.sync()
    assert (s.pos_count(item, "berlin"), s.ct_count(item, "berlin")) == (0, 0)

    s.fulfil(pickup_sale(s, voided_at_till.order_number)["id"], CANCELLED)  # staff void the pickup at the till
    order = s.ct_order(cancelled_online.order_number)  # the shopper cancels online
    s.ct_post(f"orders/{order['id']}", {"version": order["version"],
                                        "actions": [{"action": "changeOrderState", "orderState": "Cancelled"}]})
    s.sync()

    assert states(s, voided_at_till.order_number)[:2] == ("Cancelled", "Canceled")
    assert pickup_sale(s, cancelled_online.order_number)["status"] == CANCELLED
    assert (s.pos_count(item, "berlin"), s.ct_count(item, "berlin")) == (2, 2)
    assert set(s.reconciliation()) == {"match"}


def test_sellable_stock_keeps_reservations_and_safety_stock_off_the_online_channel(scenario):
    s, item, other = scenario, sku(scenario, 4), sku(scenario, 5)
    s.ct_post("channels", {"key": "online-eu", "roles": ["InventorySupply"], "name": {"en": "Online EU"}})
    s.configure(availability={"channels": {"online-eu": ["berlin", "munich"]}, "safety_stock": 0,
                              "safety_stock_by_sku": {other: 1}, "safety_stock_by_location": {"munich": 1}})
    for store, level in (("berlin", 5), ("munich", 3)):
        s.set_pos_count(item, store, level)
        s.set_pos_count(other, store, 2)
    s.sync()
    order = online_order(s, "berlin", item)  # an open pickup: set aside at berlin

    s.sync()

    row = s.query("SELECT * FROM availability.sellable_stock WHERE sku = ? AND location_key = 'berlin'", [item]).iloc[0]
    assert (row.pos_on_hand, row.on_hand, row.reserved, row.safety_stock, row.sellable) == (4, 5, 1, 0, 4)
    # berlin 4 sellable + munich 3 - 1 safety stock; the other SKU: (2 - 1) + (2 - 1) by its own buffer
    assert s.ct_count(item, "online-eu") == 4 + 2
    assert s.ct_count(other, "online-eu") == 1 + 1
    assert states(s, order.order_number)[:2] == ("Confirmed", "Ready")
    assert_no_open_rejections(s)  # the aggregate channel's entries are not mistaken for a store
    applied = s.ledger(AVAILABILITY)
    assert set(applied["status"]) == {"applied"}
    assert ct_writes_during(s, s.sync) == []

    s.fulfil(pickup_sale(s, order.order_number)["id"], PICKED_UP)
    s.set_pos_count(item, "munich", 1)
    s.sync()
    assert s.ct_count(item, "online-eu") == 4 + 0
