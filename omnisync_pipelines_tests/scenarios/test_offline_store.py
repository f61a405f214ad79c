"""Go-live: a store loses its network (flow 6), end to end against the emulators in real Dagster runs.

The day's sales come from the sandbox's trading day: the last store (munich) is offline over the
middle third of its sales; those are rung up at the till but reach the POS only when the network
is back. Contract (issue 9, acceptance):
- during the outage everything that reached the POS is synced, and both systems match as far as
  the POS knows; the held sales are nowhere yet;
- the first sync after the network comes back imports every late sale exactly once, dated when it
  was made, and moves the store's stock once: inventory reconciliation finds no drift, and the
  negative-stock policy had nothing to report;
- a late sale of units commercetools sold meanwhile, under `clamp_to_zero_and_report`, leaves
  commercetools at zero (never negative) with a discrepancy row carrying the amount; that SKU at that
  store is the only drift the reconciliation finds.
"""

from datetime import datetime

import pytest

from omnisync_pipelines.engine.orders import orders_flow
from omnisync_pipelines.engine.stock_plan import stock_flow
from omnisync_pipelines.sandbox.loader import expected_pos_stock
from omnisync_pipelines.sandbox.scenario import trading_day
from omnisync_pipelines.sandbox.world import Sale, SaleLine, TradingDay


class Outage:
    """The trading day's sales, split by what the offline store's till could send when."""

    def __init__(self, s):
        self.day = trading_day(s.world, s.world.seed, day=1)
        self.window = self.day.offline
        self.sales = self.day.of_kind(Sale)
        self.held = [x for x in self.sales if x.posted_late]
        self.sent_during = [x for x in self.sales if x.at < self.window.end and not x.posted_late]
        self.sent_after = [x for x in self.sales if x.at >= self.window.end]


@pytest.fixture(scope="module")
def outage(scenario):
    s, out = scenario, Outage(scenario)
    s.till(*out.sent_during)
    s.sync("full_sync")  # the network is down at munich: its held sales are still on the till
    out.during = {
        "orders": {o["custom"]["fields"].get("posSaleId") for o in s.ct.store.all("order")},
        "counts": {(v.sku, st.key): counts(s, v.sku, st.key) for v in s.world.variants for st in s.world.stores},
        "reconciliation": s.reconciliation(),
    }
    s.till(*out.held, *out.sent_after)  # back online: the till uploads what it kept, and trading goes on
    s.sync()
    return out


def counts(s, sku: str, store: str) -> tuple[int, int]:
    """POS and commercetools on hand; commercetools has no entry for a SKU a store never held: 0."""
    return s.pos_count(sku, store), s.ct_count(sku, store) or 0


def sale_date(order: dict) -> datetime:
    return datetime.fromisoformat(order["completedAt"].replace("Z", "+00:00"))


def discrepancies(s):
    return s.query("SELECT sku, location_key, policy, outcome, discrepancy_units, quantity_before "
                   "FROM reconciliation.stock_discrepancies")


# tests ---------------------------------------------------------------------------------------------
def test_the_outage_falls_among_the_sales_of_a_small_world(scenario, outage):
    window, own = outage.window, [x for x in outage.sales if x.store == outage.window.store]
    assert window.store == scenario.world.stores[-1].key == "munich"
    assert outage.held and all(x.store == window.store and window.start <= x.at < window.end for x in outage.held)
    assert [x for x in own if window.start <= x.at < window.end] == outage.held
    assert any(x.at < window.start for x in own) and any(x.at >= window.end for x in own)  # online before and after


def test_during_the_outage_what_reached_the_pos_is_synced_and_the_held_sales_are_nowhere(scenario, outage):
    s, during = scenario, outage.during
    sent = {s.loaded.sale_ids[x.event_id] for x in outage.sent_during}
    assert during["orders"] >= sent
    assert not during["orders"] & {s.loaded.sale_ids[x.event_id] for x in outage.held}
    # munich's counts in both systems are what its till had sent, not what it had sold
    known = expected_pos_stock(s.world, [TradingDay(1, outage.sent_during)])
    assert all(during["counts"][key] == (known[key], known[key]) for key in known)
    assert set(during["reconciliation"]) == {"match"}


def test_the_first_sync_after_the_network_is_back_imports_every_late_sale_once(scenario, outage):
    s = scenario
    ledger = s.ledger(orders_flow(s.pos))
    for sale in outage.sales:
        sale_id = s.loaded.sale_ids[sale.event_id]
        matching = [o for o in s.ct.store.all("order") if o["custom"]["fields"].get("posSaleId") == sale_id]
        assert len(matching) == 1, f"{sale.event_id}: {len(matching)} orders"
        assert sale_date(matching[0]) == sale.at  # dated when it was sold, not when it reached the POS
        assert matching[0]["totalPrice"]["centAmount"] == sale.total
        assert ledger[ledger["record_ref"] == sale_id]["status"].tolist() == ["applied"]
    late = {s.loaded.sale_ids[x.event_id] for x in outage.held}
    assert late <= set(ledger["record_ref"])
    rejected = s.open_rejections()
    assert rejected[rejected["flow"].isin([orders_flow(s.pos), stock_flow(s.pos)])].empty


def test_inventory_reconciliation_after_the_outage_finds_no_drift(scenario, outage):
    s = scenario
    expected = expected_pos_stock(s.world, [TradingDay(1, outage.sales)])
    for (sku, store), units in expected.items():
        assert counts(s, sku, store) == (units, units), f"{sku} at {store}"
    assert set(s.reconciliation()) == {"match"}
    assert discrepancies(s).empty  # nothing went short: the policy had nothing to report
    stock = s.ledger(stock_flow(s.pos))
    assert set(stock["status"]) == {"applied"}


def test_a_late_sale_of_units_commercetools_sold_meanwhile_is_clamped_and_reported(scenario, outage):
    s, store = scenario, outage.window.store
    s.configure(stock={"negative_stock_policy": "clamp_to_zero_and_report"})
    sku = max((v.sku for v in s.world.variants), key=lambda k: s.pos_count(k, store))
    level = s.pos_count(sku, store)
    assert level >= 2 and s.ct_count(sku, store) == level
    # the network drops again; meanwhile commercetools sells (or writes off) every unit of the SKU there
    assert s.ct_back_office(sku, store, -level) == 0
    sale = Sale(s.next_id("sale"), s.clock, store, (SaleLine(sku, 1, s.world.variant(sku).price_at(s.world.store(store))),),
                (("cash", s.world.variant(sku).price_at(s.world.store(store))),), posted_late=True)
    s.till(sale)  # back online: the late sale reaches the POS

    s.sync()

    assert (s.pos_count(sku, store), s.ct_count(sku, store)) == (level - 1, 0)  # clamped, never negative
    assert discrepancies(s).to_dict("records") == [{
        "sku": sku, "location_key": store, "policy": "clamp_to_zero_and_report", "outcome": "clamped",
        "discrepancy_units": 1, "quantity_before": 0,
    }]
    drift = s.query("SELECT sku, location_key, difference FROM reconciliation.stock WHERE status <> 'match'")
    assert drift.to_dict("records") == [{"sku": sku, "location_key": store, "difference": -(level - 1)}]
    assert s.ct_order_of_sale(sale.event_id)["totalPrice"]["centAmount"] == sale.total  # the sale itself is imported
