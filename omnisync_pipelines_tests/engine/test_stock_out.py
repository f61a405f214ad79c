"""Goods booked in at commercetools reach an R-Series shop's count (both emulators, over HTTP).

The story: Berlin's count of TEE-S is 5 in both systems after a sync. The ERP then books 12 units in
at commercetools. Berlin is set to `send_to_pos`, so the 12 are added to the till's count: R-Series
only takes absolute counts, so the writer reads the count, writes count + 12 and checks the
InventoryLog. A till sale in that window is put back, a run that dies after its write is settled from
the log instead of writing twice, and the stock flow never carries the 12 back to commercetools.
"""

import httpx
import pandas as pd
import pytest

from omnisync_pipelines.connectors.commercetools.connector import CommercetoolsConnector
from omnisync_pipelines.connectors.lightspeed_r.client import build_client
from omnisync_pipelines.connectors.lightspeed_r.connector import LightspeedRConnector
from omnisync_pipelines.connectors.lightspeed_r.settings import LightspeedRSettings
from omnisync_pipelines.connectors.lightspeed_r.stock_writer import LightspeedRStockWriter
from omnisync_pipelines.engine.stock_out import PLAN_COLUMNS, plan_stock_out, push_stock_out
from omnisync_pipelines.engine.stock_plan import PLAN_COLUMNS as STOCK_PLAN_COLUMNS
from omnisync_pipelines.engine.stock_plan import stock_flow, stock_out_flow
from omnisync_pipelines.engine.stock_push import push_stock
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.emulators.lightspeed_r import LightspeedREmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport
from omnisync_pipelines_tests.engine.conftest import emulated_commercetools

pytestmark = pytest.mark.anyio
POS = "lightspeed_r"
BASE = "https://api.lightspeedapp.com"


class ProcessDied(Exception):
    """The run's process stopped right after the POS applied its write."""


class Till(httpx.AsyncBaseTransport):
    """The R-Series emulator behind omnisync's client, and a till that may act at the worst moment:
    `sell_before_next_write` units are sold just before the next absolute write reaches the API;
    `die_before_next_write` stops the run before it is sent, `die_after_next_write` once the API has
    applied it."""

    def __init__(self, emu: LightspeedREmulator, item_id: int, shop_id: int):
        self.inner = EmulatorTransport(emu.app)
        self.emu, self.item_id, self.shop_id = emu, item_id, shop_id
        self.sell_before_next_write = 0
        self.die_before_next_write = self.die_after_next_write = False
        self.writes = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        is_write = request.method == "PUT" and "/Item/" in request.url.path
        if is_write and self.die_before_next_write:
            self.die_before_next_write = False
            raise ProcessDied()
        if is_write and self.sell_before_next_write:
            qoh = self.emu.qoh(self.item_id, self.shop_id)
            self.emu.store.set_qoh(self.item_id, self.shop_id, qoh - self.sell_before_next_write,
                                   "RemoveForTransaction", sale_id=990)
            self.sell_before_next_write = 0
        response = await self.inner.handle_async_request(request)
        if is_write:
            self.writes += 1
            if self.die_after_next_write:
                self.die_after_next_write = False
                raise ProcessDied()
        return response


@pytest.fixture
async def estate(ops):
    ct_emu, r_emu = CommercetoolsEmulator(seed=3), LightspeedREmulator(seed=3)
    berlin = r_emu.shop
    item = r_emu.seed_item("Tee S", custom_sku="TEE-S", qoh={berlin["shopID"]: 5})
    medium = r_emu.seed_item("Tee M", custom_sku="TEE-M", qoh={berlin["shopID"]: 2})
    till = Till(r_emu, item["itemID"], berlin["shopID"])
    settings = LightspeedRSettings(account_id=str(r_emu.account_id), base_url=BASE, client_id="sandbox-client",
                                   client_secret="sandbox-secret", refresh_token=r_emu.issue_tokens()["refresh_token"])
    r_client = build_client(settings, transport=till)
    pos = LightspeedRConnector(r_client, {str(berlin["shopID"]): "berlin"}, currency_of_location={})
    ct = CommercetoolsConnector(await emulated_commercetools(ct_emu, ("store-berlin",)), {"store-berlin": "berlin"})
    # the sync so far: commercetools holds Berlin's counts, the baselines say so
    await push_stock(stock_plan(("TEE-S", 5, 1), ("TEE-M", 2, 1)), ct, ops, pos_system=POS)
    try:
        yield {"ct": ct, "pos": pos, "writer": LightspeedRStockWriter(pos), "till": till, "emu": r_emu,
               "item": item["itemID"], "medium": medium["itemID"], "shop": berlin["shopID"], "ops": ops}
    finally:
        await ct.aclose()
        await r_client.aclose()


def stock_plan(*rows):
    """Stock flow rows at Berlin: (sku, POS count, POS version)."""
    return pd.DataFrame([{"idempotency_key": f"{stock_flow(POS)}|{POS}|{sku}@berlin|{version}", "source_system": POS,
                          "sku": sku, "location_key": "berlin", "pos_level": level, "pos_version": version,
                          "baseline_level": None, "expected_delta": 0, "kind": "level_change"}
                         for sku, level, version in rows], columns=STOCK_PLAN_COLUMNS)


def sends(run: str, *skus: str) -> pd.DataFrame:
    return pd.DataFrame([{"idempotency_key": f"stock_out|{POS}|{sku}@berlin|{run}", "source_system": POS, "sku": sku,
                          "location_key": "berlin", "expected_units": 0} for sku in skus], columns=PLAN_COLUMNS)


async def erp_books_in(estate, sku: str, units: int) -> None:
    state = await estate["ct"].read_stock(sku, "berlin")
    await estate["ct"].client.update_inventory_entry(state.entry_id, state.version,
                                                    [{"action": "addQuantity", "quantity": units}])


async def commercetools_count(estate, sku: str = "TEE-S") -> int:
    return (await estate["ct"].read_stock(sku, "berlin")).quantity_on_stock


def till_count(estate) -> int:
    return estate["emu"].qoh(estate["item"], estate["shop"])


async def test_goods_booked_in_at_commercetools_reach_the_till_once_and_never_come_back(estate):
    ops = estate["ops"]
    await erp_books_in(estate, "TEE-S", 12)
    stats, units = await push_stock_out(sends("rec-1", "TEE-S"), estate["writer"], estate["ct"], ops, pos_system=POS)
    assert (stats.applied, units, till_count(estate)) == (1, 12, 17)
    assert ops.baseline(POS, "TEE-S", "berlin")["level"] == 17  # the 12 are in both systems now

    again, units = await push_stock_out(sends("rec-1", "TEE-S"), estate["writer"], estate["ct"], ops, pos_system=POS)
    assert (again.already_applied, units, till_count(estate)) == (1, 0, 17)
    later, units = await push_stock_out(sends("rec-2", "TEE-S"), estate["writer"], estate["ct"], ops, pos_system=POS)
    assert (later.noop, units, till_count(estate)) == (1, 0, 17)  # a later reconciliation finds nothing left

    # the till's new count (17, a newer version) goes through the stock flow: nothing moves in commercetools
    await push_stock(stock_plan(("TEE-S", 17, 2)), estate["ct"], ops, pos_system=POS)
    assert await commercetools_count(estate) == 17


async def test_a_till_sale_in_the_write_window_is_put_back_not_lost(estate):
    ops = estate["ops"]
    await erp_books_in(estate, "TEE-S", 12)
    estate["till"].sell_before_next_write = 1  # sold after our read, before our absolute write landed
    stats, _ = await push_stock_out(sends("rec-1", "TEE-S"), estate["writer"], estate["ct"], ops, pos_system=POS)
    assert stats.applied == 1
    assert till_count(estate) == 5 - 1 + 12  # the sale and the 12, both counted
    [entry] = ops.table_frame("ledger").query(f"flow == '{stock_out_flow(POS)}'")["result"]
    assert '"restored": -1' in entry
    # the sale itself reaches commercetools through the stock flow, once
    await push_stock(stock_plan(("TEE-S", 16, 3)), estate["ct"], ops, pos_system=POS)
    assert await commercetools_count(estate) == 16


async def test_a_run_that_died_after_its_write_is_settled_from_the_log_not_written_twice(estate):
    ops = estate["ops"]
    await erp_books_in(estate, "TEE-S", 12)
    estate["till"].die_after_next_write = True
    with pytest.raises(ProcessDied):
        await push_stock_out(sends("rec-1", "TEE-S"), estate["writer"], estate["ct"], ops, pos_system=POS)
    assert till_count(estate) == 17 and ops.ledger_status(f"stock_out|{POS}|TEE-S@berlin|rec-1") == "retrying"
    ops.release_stock_many(POS, [f"stock_out|{POS}|TEE-S@berlin|rec-1"])  # a dead process's claim

    # meanwhile the stock flow sees the till's 17 but leaves the count alone until the write is settled
    held = await push_stock(stock_plan(("TEE-S", 17, 2)), estate["ct"], ops, pos_system=POS)
    assert (held.deferred, await commercetools_count(estate)) == (1, 17)

    stats, units = await push_stock_out(sends("rec-2", "TEE-S"), estate["writer"], estate["ct"], ops, pos_system=POS)
    assert (stats.recovered, stats.noop, units) == (1, 1, 12)
    assert (till_count(estate), estate["till"].writes) == (17, 1)
    assert ops.ledger_status(f"stock_out|{POS}|TEE-S@berlin|rec-1") == "applied"
    await push_stock(stock_plan(("TEE-S", 17, 2)), estate["ct"], ops, pos_system=POS)
    assert await commercetools_count(estate) == 17


async def test_a_run_that_died_before_its_write_plans_the_units_again(estate):
    ops = estate["ops"]
    await erp_books_in(estate, "TEE-M", 4)
    estate["till"].die_before_next_write = True
    with pytest.raises(ProcessDied):
        await push_stock_out(sends("rec-1", "TEE-M"), estate["writer"], estate["ct"], ops, pos_system=POS)
    key = f"stock_out|{POS}|TEE-M@berlin|rec-1"
    ops.release_stock_many(POS, [key])  # a dead process's claim
    assert ops.ledger_status(key) == "retrying"  # with the count and log position it read: the evidence

    stats, units = await push_stock_out(sends("rec-2", "TEE-M"), estate["writer"], estate["ct"], ops, pos_system=POS)
    assert ops.ledger_status(key) == "superseded"  # the log has no write of ours after that position
    assert (stats.applied, units) == (1, 4)
    assert estate["emu"].qoh(estate["medium"], estate["shop"]) == 6


async def test_a_sku_the_till_does_not_stock_is_rejected_with_its_reason_and_the_rest_lands(estate):
    ops = estate["ops"]
    await erp_books_in(estate, "TEE-S", 3)
    await push_stock(stock_plan(("CAP-1", 1, 1)), estate["ct"], ops, pos_system=POS)  # stocked in commercetools, not on the till
    await erp_books_in(estate, "CAP-1", 2)
    stats, units = await push_stock_out(sends("rec-1", "CAP-1", "TEE-S"), estate["writer"], estate["ct"], ops,
                                        pos_system=POS)
    assert (stats.rejected, stats.applied, units, till_count(estate)) == (1, 1, 3, 8)
    [reason] = ops.rejected_frame()["reason"]
    assert "CAP-1@berlin" in reason and "no R-Series item" in reason


def test_only_drift_at_stores_set_to_send_to_pos_is_planned():
    frame = pd.DataFrame({
        "pos_system": [POS, POS, POS], "sku": ["TEE-S", "TEE-M", "TEE-S"], "location_key": ["berlin", "berlin", "hamburg"],
        "status": ["drift", "match", "drift"], "pos_on_hand": [5, 2, 1], "difference": [12, 0, 3],
        "in_flight_units": [-1, 0, 0], "above_threshold": [True, False, True]})
    plan = plan_stock_out(frame, {"berlin": "send_to_pos", "hamburg": "correct_to_pos"}, run_id="rec-9")
    assert plan[["sku", "location_key", "expected_units"]].values.tolist() == [["TEE-S", "berlin", 11]]
    assert plan["idempotency_key"].tolist() == [f"stock_out|{POS}|TEE-S@berlin|rec-9"]
