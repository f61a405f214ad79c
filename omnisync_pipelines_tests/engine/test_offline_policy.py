"""Offline stores (flow 6): what a late stock decrease that would take commercetools below zero does,
per `stock.negative_stock_policy`, pushed to the commercetools emulator over HTTP.

The story of every test: the POS count of TEE-S at berlin is 5 and synced; commercetools then sells
4 of them online (commercetools 1); berlin was offline and its 3 sales of the same tees reach the POS
late (POS 2). The next push carries -3 into a count of 1:
- allow_negative_and_report: commercetools goes to -2; the ledger reports 2 units below zero;
- clamp_to_zero_and_report: commercetools stops at 0; the ledger reports the 2 units not applied;
- hold_for_review: nothing is written; the movement waits in the rejected table (status `held`)
  through any number of runs until an operator releases it; the next push then applies it as it is.
A decrease that fits is applied as it is under every policy.
"""

import json

import pandas as pd
import pytest

from omnisync_pipelines.connectors.commercetools.connector import CommercetoolsConnector
from omnisync_pipelines.engine import offline_policy
from omnisync_pipelines.engine.options import SyncOptions
from omnisync_pipelines.engine.reprocess import NothingToDo, release
from omnisync_pipelines.engine.stock_plan import PLAN_COLUMNS, stock_flow
from omnisync_pipelines.engine.stock_push import push_stock
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines_tests.engine.conftest import emulated_commercetools

pytestmark = pytest.mark.anyio
POS = "lightspeed_x"
FLOW = stock_flow(POS)


# fixtures ------------------------------------------------------------------------------------
@pytest.fixture
async def ct():
    client = await emulated_commercetools(CommercetoolsEmulator(seed=3), ("store-berlin",))
    connector = CommercetoolsConnector(client, {"store-berlin": "berlin"})
    yield connector
    await connector.aclose()


def count(level: int, version: int) -> pd.DataFrame:
    """The stock plan row of one POS count of TEE-S at berlin."""
    return pd.DataFrame([{
        "idempotency_key": f"{FLOW}|{POS}|TEE-S@berlin|{version}", "source_system": POS, "sku": "TEE-S",
        "location_key": "berlin", "pos_level": level, "pos_version": version, "baseline_level": None,
        "expected_delta": 0, "kind": "level_change",
    }], columns=PLAN_COLUMNS)


async def push(ct, ops, plan, policy: str):
    return await push_stock(plan, ct, ops, pos_system=POS, options=SyncOptions(negative_stock_policy=policy))


async def on_hand(ct) -> int:
    return (await ct.read_stock("TEE-S", "berlin")).quantity_on_stock


async def online_sells(ct, units: int) -> None:
    state = await ct.read_stock("TEE-S", "berlin")
    await ct.client.update_inventory_entry(state.entry_id, state.version, [{"action": "removeQuantity", "quantity": units}])


async def synced_then_sold_online_then_late_sales(ct, ops, policy: str):
    """Synced at 5; commercetools sells 4 online; the POS count drops to 2 once berlin's sales arrive."""
    await push(ct, ops, count(5, 10), policy)
    await online_sells(ct, 4)
    assert await on_hand(ct) == 1
    return await push(ct, ops, count(2, 20), policy)


def ledger_result(ops, version: int) -> dict:
    frame = ops.table_frame("ledger")
    [row] = frame[frame["idempotency_key"] == f"{FLOW}|{POS}|TEE-S@berlin|{version}"].itertuples()
    return {**json.loads(row.result or "{}"), "ledger": row.status}


def baseline_level(ops) -> int:
    return int(ops.baseline(POS, "TEE-S", "berlin")["level"])


def held_rows(ops) -> pd.DataFrame:
    frame = ops.rejected_frame()
    return frame[frame["flow"] == FLOW]


# tests ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("policy", offline_policy.POLICIES)
async def test_a_late_decrease_that_fits_is_applied_as_it_is_under_every_policy(ct, ops, policy):
    await push(ct, ops, count(5, 10), policy)
    await online_sells(ct, 1)
    stats = await push(ct, ops, count(2, 20), policy)  # 5 - 1 online - 3 late = 1: no one goes short
    assert (stats.applied, stats.rejected, await on_hand(ct)) == (1, 0, 1)
    assert "discrepancy_units" not in ledger_result(ops, 20)
    assert held_rows(ops).empty


async def test_allow_negative_and_report_goes_below_zero_and_reports_the_units(ct, ops):
    stats = await synced_then_sold_online_then_late_sales(ct, ops, "allow_negative_and_report")
    assert (stats.applied, stats.rejected) == (1, 0)
    assert await on_hand(ct) == -2  # oversold: 1 - 3
    result = ledger_result(ops, 20)
    assert (result["ledger"], result["negative_policy"], result["discrepancy_units"]) == (
        "applied", "allow_negative_and_report", 2)
    assert baseline_level(ops) == 2
    assert held_rows(ops).empty


async def test_clamp_to_zero_and_report_stops_at_zero_and_reports_what_was_not_applied(ct, ops):
    stats = await synced_then_sold_online_then_late_sales(ct, ops, "clamp_to_zero_and_report")
    assert (stats.applied, stats.rejected) == (1, 0)
    assert await on_hand(ct) == 0
    result = ledger_result(ops, 20)
    assert (result["ledger"], result["negative_policy"], result["discrepancy_units"], result["quantity_before"]) == (
        "applied", "clamp_to_zero_and_report", 2, 1)
    assert baseline_level(ops) == 2  # the POS count is taken as synced: the 2 units are the reported gap
    assert held_rows(ops).empty

    await push(ct, ops, count(8, 30), "clamp_to_zero_and_report")  # a delivery of 6 at berlin
    assert await on_hand(ct) == 6  # relative as always: the clamped 2 stay the discrepancy, not re-sent


async def test_clamped_when_commercetools_already_had_nothing(ct, ops):
    await push(ct, ops, count(5, 10), "clamp_to_zero_and_report")
    await online_sells(ct, 5)
    await push(ct, ops, count(3, 20), "clamp_to_zero_and_report")
    assert await on_hand(ct) == 0
    result = ledger_result(ops, 20)
    # nothing to take off: no write at all, and still the 2 units reported
    assert (result["ledger"], result["status"], result["discrepancy_units"], result["quantity_before"]) == (
        "applied", "noop", 2, 0)


async def test_hold_for_review_keeps_the_movement_in_the_rejected_table_until_released(ct, ops):
    stats = await synced_then_sold_online_then_late_sales(ct, ops, "hold_for_review")
    assert (stats.applied, stats.rejected, stats.api_writes) == (0, 1, 0)
    assert await on_hand(ct) == 1  # nothing written
    assert ledger_result(ops, 20)["ledger"] == "rejected"
    assert baseline_level(ops) == 5  # nothing is lost: the baseline waits with the movement
    [row] = held_rows(ops).itertuples()
    assert (row.status, row.record_ref, row.field) == ("held", "TEE-S@berlin", "quantity")
    assert "-3 at berlin would take commercetools from 1 to -2 (2 below zero)" in row.reason
    assert json.loads(row.payload)["delta"] == -3

    again = await push(ct, ops, count(2, 20), "hold_for_review")  # the next runs leave it where it is
    assert (again.applied, again.rejected, again.api_writes, await on_hand(ct)) == (0, 1, 0, 1)
    assert held_rows(ops)["status"].tolist() == ["held"]

    release(ops, int(row.id), actor="store-ops", reason="berlin was offline; oversold units are being refunded")
    with pytest.raises(NothingToDo):  # a released record cannot be released twice
        release(ops, int(row.id), actor="store-ops", reason="again")
    released = await push(ct, ops, count(2, 20), "hold_for_review")
    assert (released.applied, released.rejected) == (1, 0)
    assert await on_hand(ct) == -2  # applied as it is
    assert ledger_result(ops, 20)["ledger"] == "applied"
    assert baseline_level(ops) == 2
    assert held_rows(ops)["status"].tolist() == ["resolved"]

    after = await push(ct, ops, count(2, 20), "hold_for_review")
    assert (after.applied, after.already_applied, after.api_writes, await on_hand(ct)) == (0, 1, 0, -2)


@pytest.mark.parametrize(("policy", "current", "delta", "apply", "units", "hold"), [
    ("allow_negative_and_report", 1, -3, -3, 2, False),
    ("clamp_to_zero_and_report", 1, -3, -1, 2, False),
    ("clamp_to_zero_and_report", None, -2, 0, 2, False),  # no entry yet counts as 0
    ("clamp_to_zero_and_report", -1, -2, 0, 2, False),  # already below zero: only the new units are reported
    ("hold_for_review", 1, -3, 0, 2, True),
    ("hold_for_review", 5, -3, -3, 0, False),
    ("hold_for_review", 0, 4, 4, 0, False),  # increases are never held
])
def test_the_policy_decision_table(policy, current, delta, apply, units, hold):
    decision = offline_policy.decide(policy, current, delta)
    assert (decision.apply, decision.discrepancy_units, decision.hold) == (apply, units, hold)


def test_an_unknown_policy_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown negative stock policy 'clamp'"):
        offline_policy.decide("clamp", 1, -3)
