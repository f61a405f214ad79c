"""Pushing the stock plan to commercetools (the emulator, over HTTP): each change lands exactly once,
a run interrupted between the call and the ledger is recovered from the entry's stamp instead of
being sent again, and a record commercetools refuses is rejected with a reason while the rest
land."""

import asyncio

import pandas as pd
import pytest

from omnisync_pipelines.connectors.commercetools.connector import CommercetoolsConnector
from omnisync_pipelines.engine.stock_plan import PLAN_COLUMNS, stock_flow
from omnisync_pipelines.engine.stock_push import push_stock
from omnisync_pipelines.rest.errors import ApiStatusError
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines_tests.engine.conftest import emulated_commercetools

pytestmark = pytest.mark.anyio
FLOW = stock_flow("lightspeed_x")


# fixtures ------------------------------------------------------------------------------------
@pytest.fixture
def emulator():
    return CommercetoolsEmulator(seed=3)


@pytest.fixture
async def ct(emulator):
    client = await emulated_commercetools(emulator, ("store-berlin", "store-munich"))
    connector = CommercetoolsConnector(client, {"store-berlin": "berlin", "store-munich": "munich"})
    yield connector
    await connector.aclose()


def plan(*rows):
    """rows: (sku, location, pos_level, pos_version)"""
    frame = pd.DataFrame(
        [
            {"idempotency_key": f"{FLOW}|lightspeed_x|{sku}@{loc}|{version}", "source_system": "lightspeed_x",
             "sku": sku, "location_key": loc, "pos_level": level, "pos_version": version,
             "baseline_level": None, "expected_delta": 0, "kind": "level_change"}
            for sku, loc, level, version in rows
        ],
        columns=PLAN_COLUMNS,
    )
    return frame


async def on_hand(ct, sku, loc):
    state = await ct.read_stock(sku, loc)
    return None if state is None else state.quantity_on_stock


# tests ---------------------------------------------------------------------------------------
async def test_first_push_creates_entries_then_a_sale_is_one_relative_change(ct, ops):
    stats = await push_stock(plan(("TEE-S", "berlin", 5, 10), ("TEE-S", "munich", 2, 11)), ct, ops, pos_system="lightspeed_x")
    assert (stats.applied, stats.rejected, stats.failed) == (2, 0, 0)
    assert await on_hand(ct, "TEE-S", "berlin") == 5

    # an online order takes one in commercetools meanwhile; the POS then sells two
    state = await ct.read_stock("TEE-S", "berlin")
    await ct.client.update_inventory_entry(state.entry_id, state.version, [{"action": "removeQuantity", "quantity": 1}])
    stats = await push_stock(plan(("TEE-S", "berlin", 3, 20)), ct, ops, pos_system="lightspeed_x")
    assert stats.applied == 1
    assert await on_hand(ct, "TEE-S", "berlin") == 2  # 5 - 1 online - 2 in store: nothing overwritten


async def test_pushing_the_same_plan_twice_writes_nothing_the_second_time(ct, ops):
    rows = plan(("TEE-S", "berlin", 5, 10), ("TEE-M", "berlin", 1, 12))
    await push_stock(rows, ct, ops, pos_system="lightspeed_x")
    again = await push_stock(rows, ct, ops, pos_system="lightspeed_x")
    assert (again.applied, again.already_applied, again.api_writes) == (0, 2, 0)
    assert await on_hand(ct, "TEE-S", "berlin") == 5


async def test_a_write_whose_outcome_was_lost_is_recovered_not_resent(ct, ops):
    await push_stock(plan(("TEE-S", "berlin", 5, 10)), ct, ops, pos_system="lightspeed_x")
    key = f"{FLOW}|lightspeed_x|TEE-S@berlin|20"
    # the previous run recorded its intent, sent the change, and died before writing the outcome
    ops.mark_retrying(key, flow=FLOW, target="commercetools", source="lightspeed_x", record_ref="TEE-S@berlin",
                      payload={"sku": "TEE-S", "location_key": "berlin", "pos_level": 3, "pos_version": 20, "delta": -2})
    await ct.apply_stock_delta("TEE-S", "berlin", -2, key)

    stats = await push_stock(plan(("TEE-S", "berlin", 3, 20)), ct, ops, pos_system="lightspeed_x")
    assert (stats.recovered, stats.applied, stats.api_writes) == (1, 0, 0)
    assert await on_hand(ct, "TEE-S", "berlin") == 3
    assert ops.ledger_status(key) == "applied"
    assert ops.baseline("lightspeed_x", "TEE-S", "berlin")["level"] == 3


async def test_a_write_that_never_left_is_sent_once_after_the_interruption(ct, ops):
    await push_stock(plan(("TEE-S", "berlin", 5, 10)), ct, ops, pos_system="lightspeed_x")
    key = f"{FLOW}|lightspeed_x|TEE-S@berlin|20"
    ops.mark_retrying(key, flow=FLOW, target="commercetools", source="lightspeed_x", record_ref="TEE-S@berlin",
                      payload={"sku": "TEE-S", "location_key": "berlin", "pos_level": 3, "pos_version": 20, "delta": -2})
    stats = await push_stock(plan(("TEE-S", "berlin", 3, 20)), ct, ops, pos_system="lightspeed_x")
    assert (stats.recovered, stats.applied) == (0, 1)
    assert await on_hand(ct, "TEE-S", "berlin") == 3


async def test_a_refused_record_is_rejected_with_a_reason_and_the_rest_land(ct, ops):
    # an entry someone else gave a custom type without our field: commercetools refuses our stamp
    foreign = await ct.client.create("types", {
        "key": "erp-inventory", "name": {"en": "ERP"}, "resourceTypeIds": ["inventory-entry"],
        "fieldDefinitions": [{"name": "erpId", "type": {"name": "String"}, "required": False, "label": {"en": "ERP"}, "inputHint": "SingleLine"}],
    })
    channel_id = await ct.channel_id_for("berlin")
    await ct.client.create("inventory", {
        "sku": "MUG-1", "supplyChannel": {"typeId": "channel", "id": channel_id}, "quantityOnStock": 4,
        "custom": {"type": {"typeId": "type", "id": foreign["id"]}, "fields": {"erpId": "E1"}},
    })
    stats = await push_stock(plan(("MUG-1", "berlin", 9, 30), ("TEE-S", "berlin", 5, 31)), ct, ops, pos_system="lightspeed_x")
    assert (stats.applied, stats.rejected) == (1, 1)
    rejected = ops.rejected_frame("open")
    assert rejected[["record_ref", "field"]].to_dict("records") == [{"record_ref": "MUG-1@berlin", "field": "quantity"}]
    assert "MUG-1 at berlin" in rejected.iloc[0]["reason"]
    assert ops.ledger_status(f"{FLOW}|lightspeed_x|MUG-1@berlin|30") == "rejected"
    assert await on_hand(ct, "TEE-S", "berlin") == 5
    assert await on_hand(ct, "MUG-1", "berlin") == 4


def _reconcile_now(ct_level: int, pos_level: int, ops) -> pd.DataFrame:
    from omnisync_pipelines.engine.reconcile_stock import reconcile_stock

    frame = lambda level, name: pd.DataFrame([("TEE-S", "berlin", level)], columns=["sku", "location_key", name])  # noqa: E731
    return reconcile_stock(frame(ct_level, "on_hand"), frame(pos_level, "on_hand"),
                           ops.baselines_frame("lightspeed_x")[["sku", "location_key", "level"]], pos_system="lightspeed_x")


async def test_a_correction_with_a_sale_in_flight_ends_at_the_pos_count(ct, ops):
    from omnisync_pipelines.engine.drift import CORRECTION_FLOW, corrections

    await push_stock(plan(("TEE-S", "berlin", 10, 10)), ct, ops, pos_system="lightspeed_x")  # baseline 10
    await ct.apply_stock_delta("TEE-S", "berlin", 3, "clerk-by-hand")  # commercetools 13, the POS knows nothing
    # the till sells 2 (POS 8) and the daily reconcile runs before the next delta push
    fixes = corrections(_reconcile_now(13, 8, ops), {"berlin": "correct_to_pos"}, run_id="rec-1")
    stats = await push_stock(fixes, ct, ops, pos_system="lightspeed_x")
    assert (stats.applied, await on_hand(ct, "TEE-S", "berlin")) == (1, 10)
    assert ops.ledger_status(f"{CORRECTION_FLOW}|lightspeed_x|TEE-S@berlin|rec-1") == "applied"

    await push_stock(plan(("TEE-S", "berlin", 8, 11)), ct, ops, pos_system="lightspeed_x")
    assert await on_hand(ct, "TEE-S", "berlin") == 8  # the sale counted once, the clerk's +3 undone


async def test_an_interrupted_correction_is_recovered_from_the_stamp_not_resent(ct, ops):
    from omnisync_pipelines.engine.drift import CORRECTION_FLOW

    await push_stock(plan(("TEE-S", "berlin", 5, 10)), ct, ops, pos_system="lightspeed_x")
    key = f"{CORRECTION_FLOW}|lightspeed_x|TEE-S@berlin|rec-2"
    ops.mark_retrying(key, flow=CORRECTION_FLOW, target="commercetools", source="lightspeed_x",
                      record_ref="TEE-S@berlin",
                      payload={"sku": "TEE-S", "location_key": "berlin", "delta": -1, "kind": "correction"})
    await ct.apply_stock_delta("TEE-S", "berlin", -1, key)  # sent, then the run died

    stats = await push_stock(plan(("TEE-S", "berlin", 5, 10)), ct, ops, pos_system="lightspeed_x")
    assert (stats.recovered, ops.ledger_status(key)) == (1, "applied")
    assert await on_hand(ct, "TEE-S", "berlin") == 4


async def test_the_fast_lane_and_a_dagster_push_moving_one_count_at_once_apply_each_sale_once(ct, ops, emulator):
    await push_stock(plan(("TEE-S", "berlin", 10, 1)), ct, ops, pos_system="lightspeed_x")  # baseline 10 at v1
    emulator.faults.latency_s = 0.05  # both pushes are in the air together
    # a delta run planned the POS count at v2 (one sold); the fast lane meanwhile saw v3 (two sold)
    dagster_run, fast_lane = plan(("TEE-S", "berlin", 9, 2)), plan(("TEE-S", "berlin", 8, 3))
    first = await asyncio.gather(*(push_stock(p, ct, ops, pos_system="lightspeed_x") for p in (dagster_run, fast_lane)))
    assert sum(s.deferred for s in first) == 1  # one waited for the other instead of writing from the same baseline
    emulator.faults.latency_s = 0
    for again in (dagster_run, fast_lane):  # the next runs plan whatever was deferred
        await push_stock(again, ct, ops, pos_system="lightspeed_x")
    assert await on_hand(ct, "TEE-S", "berlin") == 8  # 10 - 2 sold, not 10 - 1 - 2
    assert (ops.baseline("lightspeed_x", "TEE-S", "berlin")["level"],
            ops.baseline("lightspeed_x", "TEE-S", "berlin")["version"]) == (8, 3)


class TimedOutMeanwhile:
    """commercetools as a Dagster push saw it: its sale (-1, key K1) was applied there, but the answer
    timed out, so that run left K1 `retrying`; all this after the fast lane's start-up recovery had
    looked and just before it takes the count."""

    def __init__(self, ct, ops, key: str):
        self.ct, self.ops, self.key, self.done = ct, ops, key, False

    def __getattr__(self, name):
        return getattr(self.ct, name)

    async def prefetch_stock(self, keys):
        await self.ct.prefetch_stock(keys)
        if not self.done:
            self.done = True
            await self.ct.apply_stock_delta("TEE-S", "berlin", -1, self.key)
            self.ops.mark_retrying(self.key, flow=FLOW, target="commercetools", source="lightspeed_x", record_ref="TEE-S@berlin",
                                   payload={"sku": "TEE-S", "location_key": "berlin", "pos_level": 9, "pos_version": 2, "delta": -1})
            self.ops.mark_failed(self.key, "retrying", "transient, will retry next run: read timed out")


async def test_a_sale_whose_answer_timed_out_meanwhile_is_not_counted_again_by_the_next_push(ct, ops):
    await push_stock(plan(("TEE-S", "berlin", 10, 1)), ct, ops, pos_system="lightspeed_x")  # baseline 10 at v1
    timed_out = f"{FLOW}|lightspeed_x|TEE-S@berlin|2"
    # the fast lane pushes the POS count after a second sale (8 at v3)
    stats = await push_stock(plan(("TEE-S", "berlin", 8, 3)), TimedOutMeanwhile(ct, ops, timed_out), ops,
                             pos_system="lightspeed_x")
    assert (stats.recovered, stats.applied) == (1, 1)
    assert ops.ledger_status(timed_out) == "applied"
    assert await on_hand(ct, "TEE-S", "berlin") == 8  # 10 - 2 sold, not 10 - 1 - 2
    assert ops.baseline("lightspeed_x", "TEE-S", "berlin")["level"] == 8


class StampUnreadable(TimedOutMeanwhile):
    """...and then reading that count's stamp fails (commercetools over capacity, retries spent)."""

    async def read_stock(self, sku, location_key):
        if self.done and (sku, location_key) == ("TEE-S", "berlin"):
            raise ApiStatusError("503 OverCapacity", system="commercetools", method="GET", url="/inventory", status=503)
        return await self.ct.read_stock(sku, location_key)


async def test_a_count_whose_earlier_write_cannot_be_settled_waits_and_the_rest_of_the_batch_lands(ct, ops):
    await push_stock(plan(("TEE-S", "berlin", 10, 1)), ct, ops, pos_system="lightspeed_x")
    timed_out = f"{FLOW}|lightspeed_x|TEE-S@berlin|2"
    stats = await push_stock(plan(("TEE-S", "berlin", 8, 3), ("TEE-M", "berlin", 4, 4)),
                             StampUnreadable(ct, ops, timed_out), ops, pos_system="lightspeed_x")
    assert (stats.deferred, stats.applied) == (1, 1)  # TEE-M landed; TEE-S waits, nothing guessed
    assert ops.ledger_status(timed_out) == "retrying"
    assert await on_hand(ct, "TEE-S", "berlin") == 9 and await on_hand(ct, "TEE-M", "berlin") == 4
    stats = await push_stock(plan(("TEE-S", "berlin", 8, 3)), ct, ops, pos_system="lightspeed_x")  # the next run
    assert (stats.recovered, stats.applied, ops.ledger_status(timed_out)) == (1, 1, "applied")
    assert await on_hand(ct, "TEE-S", "berlin") == 8


async def test_a_baseline_never_goes_back_to_an_older_pos_count(ct, ops):
    await push_stock(plan(("TEE-S", "berlin", 8, 3)), ct, ops, pos_system="lightspeed_x")
    stats = await push_stock(plan(("TEE-S", "berlin", 9, 2)), ct, ops, pos_system="lightspeed_x")  # a stale plan row
    assert (stats.already_applied, stats.api_writes) == (1, 0)
    assert ops.baseline("lightspeed_x", "TEE-S", "berlin")["version"] == 3
    assert await on_hand(ct, "TEE-S", "berlin") == 8
