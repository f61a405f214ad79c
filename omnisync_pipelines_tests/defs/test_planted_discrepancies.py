"""Reconciliation finds exactly what went wrong between the systems, with the right amounts.

The story: a retailer's systems are in step after a full sync and a trading day. Then, behind the
sync's back, five things go wrong: a back-office clerk adds 3 units in commercetools only; a stock
write is recorded as done but never reaches commercetools; a synced store order is deleted from
commercetools; a returned item is marked as not back in stock; a shopper is typed in twice at the
till. A sale also happens that the sync has not yet seen. No sync runs after that: the `reconcile`
job reads both systems fresh and must report every planted discrepancy with its amount, call the
unseen sale "explained" rather than drift, and report nothing else above threshold. Its run carries
the worst discrepancies and a drift chart, and its estate check fails: this retailer tolerates drift
in at most 2% of SKU x location rows.
"""

import json
from contextlib import contextmanager
from datetime import UTC, datetime

import duckdb
import httpx
import pandas as pd
import pytest
import yaml
from dagster import DagsterEventType

from omnisync_pipelines.config import load_config
from omnisync_pipelines.connectors.registry import open_connector
from omnisync_pipelines.defs.reconciliation import SHARE_CHECK
from omnisync_pipelines.demo import play_served
from omnisync_pipelines.runs import run_job
from omnisync_pipelines.sandbox.scenario import trading_day
from omnisync_pipelines.sandbox.world import Sale, SaleLine, TradingDay
from omnisync_pipelines.store.ops import OpsStore

STOCK_FLOW = "stock_lightspeed_x_to_commercetools"
MAX_SHARE_OF_ESTATE = 0.02  # the default is 0.05

pytestmark = pytest.mark.only_pos("lightspeed_x", reason="plants X-Series records (a lost write keyed by the "
                                  "inventory record's version, a customer over the X API) and reads lightspeed_x tables")


def query(sandbox, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(sandbox.data_dir / "omnisync.duckdb"), read_only=True) as con:
        return con.execute(sql).df()


@contextmanager
def reconciliation_configured(sandbox, **options):
    """omnisync.yaml with these `reconciliation` options for the runs inside the block."""
    path = sandbox.data_dir / "omnisync.yaml"
    saved = path.read_text()
    config = yaml.safe_load(saved)
    config["reconciliation"] = options
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        yield
    finally:
        path.write_text(saved)


def customer_findings(sandbox) -> set[tuple]:
    """(issue, field, the customer ids it names), whichever way round a duplicate pair is listed."""
    rows = query(sandbox, "SELECT issue, field, pos_customer_id, commercetools_customer_id, duplicate_of "
                          "FROM reconciliation.customers")
    return {(r.issue, None if pd.isna(r.field) else r.field,
             frozenset(x for x in (r.pos_customer_id, r.commercetools_customer_id, r.duplicate_of) if not pd.isna(x)))
            for r in rows.itertuples()}


def markdown_rows(table: str) -> list[dict]:
    """The body rows of a markdown table as dicts by header."""
    lines = [line.strip().strip("|") for line in table.strip().splitlines()]
    header = [cell.strip() for cell in lines[0].split("|")]
    return [dict(zip(header, (cell.strip() for cell in line.split("|")), strict=True)) for line in lines[2:]]


def commercetools(sandbox):
    config = load_config(sandbox.data_dir / "omnisync.yaml")
    secrets = {"client_id": sandbox.env["OMNISYNC_CT_CLIENT_ID"], "client_secret": sandbox.env["OMNISYNC_CT_CLIENT_SECRET"]}
    return open_connector("commercetools", config, secrets)


async def clerk_adds_units_in_commercetools_only(sandbox, sku: str, location_key: str, units: int) -> None:
    channel_key = next(loc.commercetools.supply_channel_key for loc in load_config(sandbox.data_dir / "omnisync.yaml").locations
                       if loc.key == location_key)
    async with commercetools(sandbox) as ct:
        channel = (await ct.client.channel_ids_by_key())[channel_key]
        [entry] = await ct.client.query("inventory", where=[f'sku = "{sku}"', f'supplyChannel(id = "{channel}")'])
        await ct.client.update("inventory", entry["id"], entry["version"], [{"action": "addQuantity", "quantity": units}])


async def order_deleted_in_commercetools(sandbox, order_number: str) -> None:
    async with commercetools(sandbox) as ct:
        [order] = await ct.client.query("orders", where=[f'orderNumber = "{order_number}"'])
        await ct.client.call("DELETE", ct.client.url("orders", order["id"]), params={"version": order["version"]})


async def returned_items_marked_not_back_in_stock(sandbox, return_id: str) -> int:
    async with commercetools(sandbox) as ct:
        tracking = f"POS-RETURN-{return_id}"
        orders = await ct.client.query("orders", where=[f'returnInfo(returnTrackingId = "{tracking}")'])
        order = orders[0]
        items = [item for info in order["returnInfo"] if info.get("returnTrackingId") == tracking for item in info["items"]]
        actions = [{"action": "setReturnShipmentState", "returnItemId": item["id"], "shipmentState": "Returned"} for item in items]
        await ct.client.update("orders", order["id"], order["version"], actions)
        return sum(item["quantity"] for item in items)


async def shopper_typed_in_again_at_the_till(sandbox, shopper) -> str:
    async with httpx.AsyncClient(base_url=sandbox.server.base_url("lightspeed_x")) as lsx:
        response = await lsx.post("/api/2.0/customers", headers={"Authorization": f"Bearer {sandbox.env['OMNISYNC_LSX_TOKEN']}"},
                                  json={"first_name": shopper.first_name, "last_name": shopper.last_name,
                                        "email": f" {shopper.email.upper()}", "customer_code": "TWIN-1"})
        response.raise_for_status()
        return response.json()["data"]["id"]


def write_recorded_but_lost(sandbox, sku: str, location_key: str, pos_level: int, pos_version: int) -> None:
    """The ledger and baseline say the movement reached commercetools; it never did."""
    ops = OpsStore.from_url(sandbox.env["OMNISYNC_OPS_URL"])
    key = f"{STOCK_FLOW}|lightspeed_x|{sku}@{location_key}|{pos_version}"
    ops.mark_retrying(key, flow=STOCK_FLOW, target="commercetools", source="lightspeed_x",
                      record_ref=f"{sku}@{location_key}", payload={"sku": sku, "location_key": location_key})
    ops.mark_applied(key, {"status": "applied"}, baseline={"source_system": "lightspeed_x", "sku": sku,
                                                          "location_key": location_key, "level": pos_level,
                                                          "version": pos_version})


@pytest.fixture(scope="module")
def planted(sandbox, instance):
    assert run_job("full_sync", instance=instance).success
    sandbox.server.run(play_served(trading_day(sandbox.world, 3, day=1, sales_per_store=4), sandbox.loaded, sandbox.server))
    assert run_job("delta_sync", instance=instance).success

    x_series, world = sandbox.pos_emulator, sandbox.world
    ids = sandbox.loaded.pos["lightspeed_x"].ids
    product_ids, outlet_ids = ids["product_ids"], ids["outlet_ids"]
    stores = [s.key for s in world.stores]
    skus = [v.sku for v in world.variants]
    stock = query(sandbox, "SELECT sku, location_key, pos_on_hand FROM reconciliation.stock")
    on_hand = {(r.sku, r.location_key): int(r.pos_on_hand) for r in stock.itertuples()}
    customers_before = customer_findings(sandbox)

    # 1. a manual adjustment made only in commercetools: +3
    adjusted = (skus[0], stores[0])
    sandbox.server.run(clerk_adds_units_in_commercetools_only(sandbox, *adjusted, 3))
    # 2. a dropped movement: 2 units sold at the till, the write recorded as done but lost
    dropped = next((sku, stores[1]) for sku in skus[1:] if on_hand[(sku, stores[1])] >= 2)
    row = x_series.adjust_inventory(product_ids[dropped[0]], outlet_ids[dropped[1]], -2, "DAMAGE")
    write_recorded_but_lost(sandbox, *dropped, row["inventory_level"], row["version"])
    # 3. an order missing on one side: a synced store sale deleted from commercetools
    returned_sales = set(query(sandbox, "SELECT original_order_ref FROM lightspeed_x.returns")["original_order_ref"])
    sales = query(sandbox, "SELECT order_id, total_gross FROM lightspeed_x.orders ORDER BY order_id")
    missing = sales[~sales["order_id"].isin(returned_sales)].iloc[0]
    ledger = OpsStore.from_url(sandbox.env["OMNISYNC_OPS_URL"]).table_frame("ledger")
    order_result = ledger[(ledger["flow"] == "orders_lightspeed_x_to_commercetools") & (ledger["record_ref"] == missing["order_id"])]
    order_number = json.loads(order_result["result"].iloc[0])["orderNumber"]
    sandbox.server.run(order_deleted_in_commercetools(sandbox, order_number))
    # 4. a return not restocked in commercetools
    return_id = query(sandbox, "SELECT return_id FROM lightspeed_x.returns ORDER BY return_id")["return_id"][0]
    not_restocked_units = sandbox.server.run(returned_items_marked_not_back_in_stock(sandbox, return_id))
    # 5. a duplicate customer: a shopper known to both systems typed in again at the till, email in capitals
    #    (not the one the world already has a near-duplicate of)
    world_twin = next(s for s in world.shoppers if s.key == "c-dup")
    twin = next(s for s in world.shoppers if s.at_pos and s.email != world_twin.email.strip().lower() and s.key != "c-dup")
    [original_id] = query(sandbox, f"SELECT customer_id FROM lightspeed_x.customers WHERE email = '{twin.email}'")["customer_id"]
    [online_id] = query(sandbox, f"SELECT customer_id FROM commercetools.customers WHERE email = '{twin.email}'")["customer_id"]
    twin_id = sandbox.server.run(shopper_typed_in_again_at_the_till(sandbox, twin))
    # and a sale the sync has not seen yet: in flight, not drift
    in_flight = next((sku, stores[0]) for sku in skus[2:] if on_hand[(sku, stores[0])] >= 1 and (sku, stores[0]) != adjusted)
    x_series.adjust_inventory(product_ids[in_flight[0]], outlet_ids[in_flight[1]], -1, "SALE")

    with reconciliation_configured(sandbox, max_share_of_estate=MAX_SHARE_OF_ESTATE):
        reconcile = run_job("reconcile", instance=instance)
    assert reconcile.success, reconcile.failures
    return {"adjusted": adjusted, "dropped": dropped, "in_flight": in_flight, "missing_order": missing,
            "return_id": return_id, "not_restocked_units": not_restocked_units, "twin_id": twin_id,
            "original_id": original_id, "online_id": online_id, "customers_before": customers_before, "run_id": reconcile.run_id}


def test_stock_drift_is_exactly_the_clerks_adjustment_and_the_lost_write(sandbox, planted):
    above = query(sandbox, "SELECT sku, location_key, difference, status FROM reconciliation.stock WHERE above_threshold")
    assert {(r.sku, r.location_key): (r.difference, r.status) for r in above.itertuples()} == {
        planted["adjusted"]: (3, "drift"),
        planted["dropped"]: (2, "drift"),
    }


def test_the_sale_not_yet_synced_is_explained_not_drift(sandbox, planted):
    sku, location_key = planted["in_flight"]
    row = query(sandbox, f"SELECT difference, in_flight_units, status, above_threshold FROM reconciliation.stock "
                         f"WHERE sku = '{sku}' AND location_key = '{location_key}'").iloc[0]
    assert (row["difference"], row["status"], bool(row["above_threshold"])) == (1, "explained", False)
    others = query(sandbox, "SELECT count(*) AS n FROM reconciliation.stock WHERE status <> 'match'")["n"][0]
    assert others == 3


def test_the_deleted_order_is_missing_in_commercetools_with_its_amount(sandbox, planted):
    wrong = query(sandbox, "SELECT * FROM reconciliation.orders WHERE status <> 'match'")
    assert len(wrong) == 1, wrong.to_string()
    row = wrong.iloc[0]
    assert (row["pos_order_id"], row["status"]) == (planted["missing_order"]["order_id"], "missing_in_commercetools")
    assert row["pos_total_gross"] == planted["missing_order"]["total_gross"]


def test_the_return_not_restocked_is_reported_with_its_units(sandbox, planted):
    wrong = query(sandbox, "SELECT * FROM reconciliation.returns WHERE status <> 'match'")
    assert len(wrong) == 1, wrong.to_string()
    row = wrong.iloc[0]
    assert (row["return_id"], row["status"]) == (planted["return_id"], "restock_not_reflected")
    assert (row["pos_restock_units"], row["commercetools_back_in_stock_units"]) == (planted["not_restocked_units"], 0)
    assert bool(row["refund_reflected"]) and bool(row["recorded"])


def test_the_duplicate_customer_is_the_only_new_customer_finding(sandbox, planted):
    twin, original, online = planted["twin_id"], planted["original_id"], planted["online_id"]
    # the sync never read the twin: the reconciliation found it in its own read of the POS
    assert twin not in set(query(sandbox, "SELECT customer_id FROM lightspeed_x.customers")["customer_id"])
    # her first till record stays linked to her account; the twin is held for an operator, not merged
    twin_held_for_an_operator = {
        ("duplicate_suspect", None, frozenset({twin, original})),
        ("duplicate_suspect", None, frozenset({twin, online})),
        ("duplicate_suspect", None, frozenset({original, online})),
        ("missing_in_commercetools", None, frozenset({twin})),
    }
    assert customer_findings(sandbox) == planted["customers_before"] | twin_held_for_an_operator
    held = query(sandbox, f"SELECT held FROM reconciliation.customers WHERE '{twin}' IN (pos_customer_id, duplicate_of)")
    assert len(held) == 3 and held["held"].all()


def test_every_discrepancy_lands_in_the_drift_history_of_the_run(sandbox, planted):
    history = query(sandbox, "SELECT sku, location_key, difference FROM drift.stock_history "
                             "WHERE run_id = (SELECT max_by(run_id, checked_at) FROM drift.stock_history)")
    found = {(r.sku, r.location_key): r.difference for r in history.itertuples()}
    assert found[planted["adjusted"]] == 3 and found[planted["dropped"]] == 2
    orders = query(sandbox, "SELECT * FROM drift.orders_history "
                            "WHERE run_id = (SELECT max_by(run_id, checked_at) FROM drift.orders_history)")
    assert set(orders["status"]) == {"missing_in_commercetools"}


def test_analysts_ask_their_three_questions_of_named_views(sandbox, planted):
    stores = query(sandbox, "SELECT location_key, abs_units FROM drift.stores_drifting_most")
    # only the reconcile run saw them: the syncs before the planting found nothing
    assert dict(stores.values.tolist()) == {planted["adjusted"][1]: 3, planted["dropped"][1]: 2}
    off = query(sandbox, "SELECT sku, location_key, runs_off, current_difference FROM drift.skus_off_since")
    assert {(r.sku, r.location_key): (r.runs_off, r.current_difference) for r in off.itertuples()} == {
        planted["adjusted"]: (1, 3), planted["dropped"]: (1, 2)}
    days = query(sandbox, "SELECT discrepancies, abs_units FROM drift.drift_per_day")
    assert days.values.tolist()[-1] == [2, 5]


def materializations(instance, run_id: str) -> dict[tuple, dict]:
    return {tuple(e.asset_materialization.asset_key.path): e.asset_materialization.metadata
            for e in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)}


def test_the_run_shows_the_worst_drift_and_a_chart_of_drift_over_time(sandbox, planted, instance):
    metadata = materializations(instance, planted["run_id"])
    worst = markdown_rows(metadata[("reconciliation", "stock")]["worst_drift"].value)
    assert {(r["sku"], r["location_key"]): (int(r["difference"]), r["status"]) for r in worst} == {
        planted["adjusted"]: (3, "drift"), planted["dropped"]: (2, "drift")}
    chart = markdown_rows(metadata[("drift", "stock_history")]["drift_over_time"].value)
    today = query(sandbox, "SELECT day FROM drift.drift_per_day").iloc[-1]["day"]
    assert (chart[-1]["day"], chart[-1]["discrepancies"], chart[-1]["units off"]) == (f"{today:%Y-%m-%d}", "2", "5")
    assert chart[-1][""].strip("█") == "" and len(chart[-1][""]) == 30  # the tallest bar: the worst day so far


def share_check_of(instance, run_id: str):
    [evaluation] = [e.dagster_event.event_specific_data
                    for e in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
                    if e.dagster_event.event_specific_data.check_name == SHARE_CHECK]
    return evaluation


def test_the_estate_check_fails_when_more_than_the_tolerated_share_drifts(sandbox, planted, instance):
    evaluation = share_check_of(instance, planted["run_id"])
    rows = query(sandbox, "SELECT count(*) AS n FROM reconciliation.stock")["n"][0]
    share = evaluation.metadata["share_above_threshold"].value
    assert share == round(2 / rows, 4) and share > MAX_SHARE_OF_ESTATE
    assert evaluation.metadata["max_share_of_estate"].value == MAX_SHARE_OF_ESTATE
    assert evaluation.passed is False


def test_a_store_set_to_correct_to_pos_gets_commercetools_set_back_once(sandbox, planted, instance):
    sku, location_key = planted["adjusted"]
    with reconciliation_configured(sandbox, correction={location_key: "correct_to_pos"}):
        assert run_job("reconcile", instance=instance).success
        second = run_job("reconcile", instance=instance)
    assert second.success
    ledger = OpsStore.from_url(sandbox.env["OMNISYNC_OPS_URL"]).table_frame("ledger")
    corrections = ledger[ledger["flow"] == "stock_correction"]
    # the first run finds +3 and corrects it; the second finds nothing left to correct
    assert corrections[["record_ref", "status"]].values.tolist() == [[f"{sku}@{location_key}", "applied"]]
    row = query(sandbox, f"SELECT difference, status FROM reconciliation.stock WHERE sku = '{sku}' AND location_key = '{location_key}'")
    assert (row["difference"][0], row["status"][0]) == (0, "match")
    # the store still on report_only keeps its drift for an operator
    dropped_sku, dropped_location = planted["dropped"]
    kept = query(sandbox, f"SELECT status FROM reconciliation.stock WHERE sku = '{dropped_sku}' AND location_key = '{dropped_location}'")
    assert kept["status"][0] == "drift"
    # one drifting row of the estate is within the default 5%: the check passes again
    rows = query(sandbox, "SELECT count(*) AS n FROM reconciliation.stock")["n"][0]
    evaluation = share_check_of(instance, second.run_id)
    assert evaluation.passed and evaluation.metadata["share_above_threshold"].value == round(1 / rows, 4)


def test_a_till_sale_after_the_last_sync_is_explained_until_the_next_sync_imports_it(sandbox, planted, instance):
    world, store = sandbox.world, sandbox.world.stores[1]
    on_hand = query(sandbox, f"SELECT sku FROM reconciliation.stock WHERE location_key = '{store.key}' "
                             f"AND pos_on_hand > 0 AND status = 'match' ORDER BY sku")["sku"]
    variant = world.variant(on_hand[0])
    price = variant.price_at(store)
    sale = Sale("late-sale", datetime.now(UTC), store.key, (SaleLine(variant.sku, 1, price),), (("cash", price),))
    sandbox.server.run(play_served(TradingDay(2, [sale]), sandbox.loaded, sandbox.server))
    sale_id = sandbox.loaded.sale_ids["late-sale"]

    assert run_job("reconcile", instance=instance).success
    orders = query(sandbox, "SELECT pos_order_id, status, in_flight FROM reconciliation.orders WHERE status <> 'match'")
    assert sorted(map(tuple, orders.values.tolist())) == sorted([
        (sale_id, "explained", True), (planted["missing_order"]["order_id"], "missing_in_commercetools", False)])
    history = query(sandbox, "SELECT pos_order_id FROM drift.orders_history "
                             "WHERE run_id = (SELECT max_by(run_id, checked_at) FROM drift.orders_history)")
    assert history["pos_order_id"].tolist() == [planted["missing_order"]["order_id"]]

    assert run_job("delta_sync", instance=instance).success
    status = query(sandbox, f"SELECT status FROM reconciliation.orders WHERE pos_order_id = '{sale_id}'")["status"]
    assert status.tolist() == ["match"]
