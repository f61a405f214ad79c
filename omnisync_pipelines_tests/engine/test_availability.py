"""Sellable stock (flow 7) with a ship-from-store reservation: on hand, reserved and sellable kept
apart per store, and the aggregate channel's total written to the commercetools emulator once.

The story: berlin and munich count toward the online channel `online-eu`; hamburg does not. A web
order for one HOODIE-M is assigned to munich for ship-from-store: X-Series registers the sale and
takes the unit off munich's count (4 -> 3) while it waits for dispatch.
"""

import pandas as pd
import pytest

from omnisync_pipelines.engine import availability as av
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines_tests.engine.conftest import emulated_commercetools

RULES = av.AvailabilityRules(channels={"online-eu": ["berlin", "munich"]})


def pos_counts(*rows: tuple[str, str, int]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["sku", "location_key", "on_hand"])


def row(frame: pd.DataFrame, sku: str, location: str) -> dict:
    [found] = frame[(frame["sku"] == sku) & (frame["location_key"] == location)].to_dict("records")
    return {k: found[k] for k in ("pos_on_hand", "on_hand", "reserved", "safety_stock", "sellable")}


COUNTS = pos_counts(("HOODIE-M", "berlin", 2), ("HOODIE-M", "munich", 3), ("HOODIE-M", "hamburg", 9))
SHIP_FROM_MUNICH = {("HOODIE-M", "munich"): 1}  # assigned, registered at the till, awaiting dispatch


# sellable per store ---------------------------------------------------------------------------------
def test_a_ship_from_store_order_is_on_hand_but_reserved_not_sellable():
    frame = av.sellable_stock(COUNTS, SHIP_FROM_MUNICH, {}, RULES)
    # the unit is still on munich's shelf (the POS count already excludes it), and it is not for sale
    assert row(frame, "HOODIE-M", "munich") == {"pos_on_hand": 3, "on_hand": 4, "reserved": 1, "safety_stock": 0,
                                                "sellable": 3}
    assert row(frame, "HOODIE-M", "berlin") == {"pos_on_hand": 2, "on_hand": 2, "reserved": 0, "safety_stock": 0,
                                                "sellable": 2}
    assert frame.set_index("location_key").loc["hamburg", "channels"] == ""  # counts toward no channel


def test_an_order_not_assigned_yet_holds_units_at_the_store_it_asked_for():
    pending = {("HOODIE-M", "berlin"): 1}  # no store could serve it yet: an exception row, not forgotten
    frame = av.sellable_stock(COUNTS, SHIP_FROM_MUNICH, pending, RULES)
    assert row(frame, "HOODIE-M", "berlin") == {"pos_on_hand": 2, "on_hand": 2, "reserved": 1, "safety_stock": 0,
                                                "sellable": 1}


def test_safety_stock_by_sku_then_location_then_default_and_never_below_zero():
    rules = av.AvailabilityRules(channels=RULES.channels, safety_stock=1, safety_stock_by_location={"munich": 3},
                                 safety_stock_by_sku={"CAP": 0})
    frame = av.sellable_stock(pd.concat([COUNTS, pos_counts(("CAP", "munich", 1))]), SHIP_FROM_MUNICH, {}, rules)
    assert row(frame, "HOODIE-M", "munich")["sellable"] == 0  # 4 on hand - 1 reserved - 3 buffer
    assert row(frame, "HOODIE-M", "berlin")["sellable"] == 1  # the default buffer
    assert row(frame, "CAP", "munich") == {"pos_on_hand": 1, "on_hand": 1, "reserved": 0, "safety_stock": 0, "sellable": 1}
    tight = av.sellable_stock(pos_counts(("HOODIE-M", "munich", 0)), SHIP_FROM_MUNICH, {}, rules)
    assert row(tight, "HOODIE-M", "munich")["sellable"] == 0


def test_the_channel_total_is_the_sum_of_its_stores_and_every_catalog_sku_gets_one():
    frame = av.sellable_stock(COUNTS, SHIP_FROM_MUNICH, {}, RULES)
    targets = av.channel_targets(frame, RULES, ["HOODIE-M", "SOCKS"])
    assert targets == {("HOODIE-M", "online-eu"): 2 + 3, ("SOCKS", "online-eu"): 0}  # hamburg's 9 do not count


def test_after_dispatch_the_reservation_is_gone_and_the_count_alone_decides():
    frame = av.sellable_stock(COUNTS, {}, {}, RULES)  # SHIPPED: the unit has left munich
    assert row(frame, "HOODIE-M", "munich") == {"pos_on_hand": 3, "on_hand": 3, "reserved": 0, "safety_stock": 0,
                                                "sellable": 3}


# plan and push --------------------------------------------------------------------------------------
def test_the_plan_moves_an_entry_to_its_target_relatively_and_skips_what_is_there():
    plan = av.plan_availability({("HOODIE-M", "online-eu"): 5, ("SOCKS", "online-eu"): 0, ("CAP", "online-eu"): 2},
                                {("HOODIE-M", "online-eu"): (7, 4), ("CAP", "online-eu"): (2, 1)})
    assert plan[["sku", "target", "current", "entry_version", "delta"]].to_dict("records") == [
        {"sku": "HOODIE-M", "target": 5, "current": 7, "entry_version": 4, "delta": -2}]


@pytest.fixture
async def ct():
    client = await emulated_commercetools(CommercetoolsEmulator(seed=3), ("online-eu",))
    yield client
    await client.aclose()


async def channel_entries(ct) -> dict[tuple[str, str], tuple[int, int]]:
    ids = await ct.channel_ids_by_key()
    found = {}
    async for entry in ct.iter_inventory(where=(f'supplyChannel(id="{ids["online-eu"]}")',)):
        found[(entry["sku"], "online-eu")] = (entry["quantityOnStock"], entry["version"])
    return found


@pytest.mark.anyio
async def test_the_reservation_reaches_the_online_channel_once_and_a_web_sale_meanwhile_is_corrected(ct, ops):
    targets = av.channel_targets(av.sellable_stock(COUNTS, SHIP_FROM_MUNICH, {}, RULES), RULES, ["HOODIE-M"])
    ids = await ct.channel_ids_by_key()
    plan = av.plan_availability(targets, await channel_entries(ct))
    stats = await av.push_availability(plan, ct, ids, ops)
    assert (stats.applied, stats.api_writes) == (1, 1)
    assert (await channel_entries(ct))[("HOODIE-M", "online-eu")][0] == 5

    again = await av.push_availability(plan, ct, ids, ops)  # the same plan (a retried run): nothing sent
    assert (again.applied, again.already_applied, again.api_writes) == (0, 1, 0)
    assert av.plan_availability(targets, await channel_entries(ct)).empty  # and the next plan has nothing to do

    entry = await ct.find_inventory_entry("HOODIE-M", ids["online-eu"])
    await ct.update_inventory_entry(entry["id"], entry["version"], [{"action": "removeQuantity", "quantity": 2}])
    fix = av.plan_availability(targets, await channel_entries(ct))  # the storefront sold 2 against the channel
    assert fix[["current", "delta"]].to_dict("records") == [{"current": 3, "delta": 2}]
    await av.push_availability(fix, ct, ids, ops)
    assert (await channel_entries(ct))[("HOODIE-M", "online-eu")][0] == 5
    assert set(ops.table_frame("ledger")["status"]) == {"applied"}


@pytest.mark.anyio
async def test_a_channel_missing_in_commercetools_is_rejected_by_name(ct, ops):
    plan = av.plan_availability({("HOODIE-M", "online-us"): 3}, {})
    stats = await av.push_availability(plan, ct, await ct.channel_ids_by_key(), ops)
    assert (stats.rejected, stats.api_writes) == (1, 0)
    [rejection] = ops.rejected_frame("open").to_dict("records")
    assert (rejection["record_ref"], rejection["field"]) == ("HOODIE-M@online-us", "channel_key")
    assert "'online-us' does not exist" in rejection["reason"]
