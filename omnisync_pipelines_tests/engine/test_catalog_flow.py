"""The catalog and prices flow, commercetools -> POS, on an in-memory DuckDB: validation runs before
any write (an item with conflicting prices, or without a price for a GBP outlet, never reaches the
POS while the others do), the plan lists only what differs (a renamed item is one update with
changes == ["name"]), and pushing the same plan twice writes nothing the second time.

The POS here is `RecordingCatalogTarget`, an in-memory stand-in that records every call; the
X-Series target is the connector's (added by the lead)."""

import json
from datetime import UTC, datetime

import duckdb
import pytest

from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.canonical.models import CatalogItem, Price
from omnisync_pipelines.engine.catalog_plan import PLAN_COLUMNS, catalog_flow, plan_catalog
from omnisync_pipelines.engine.catalog_push import push_catalog
from omnisync_pipelines.engine.catalog_validate import CatalogLocation
from omnisync_pipelines.engine.stock_push import SystemicSyncError
from omnisync_pipelines.rest.errors import ServerError, Unauthorized, Unprocessable
from omnisync_pipelines.store import warehouse

POS = "lightspeed_x"
FLOW = catalog_flow(POS)
NOW = datetime(2025, 6, 1, tzinfo=UTC)
LOCATIONS = [CatalogLocation("berlin", "EUR", "DE"), CatalogLocation("london", "GBP", "GB")]


# fixtures ------------------------------------------------------------------------------------
class RecordingCatalogTarget:
    """In-memory CatalogTarget: keeps the items and prices it was given and records every call.
    `refuse[sku]` is an exception raised for that SKU's next write."""

    system = POS

    def __init__(self):
        self.items: dict[str, dict] = {}
        self.prices: dict[str, dict] = {}
        self.calls: list[tuple[str, str]] = []
        self.refuse: dict[str, Exception] = {}

    async def upsert_item(self, desired: dict) -> dict:
        self._maybe_refuse(desired["sku"])
        self.calls.append(("upsert_item", desired["sku"]))
        existing = self.items.get(desired["sku"])
        system_id = existing["system_id"] if existing else f"pos-{desired['sku']}"
        self.items[desired["sku"]] = {**desired, "system_id": system_id}
        return {"status": "updated" if existing else "created", "system_id": system_id}

    async def set_prices(self, sku: str, prices_by_location: dict) -> dict:
        self._maybe_refuse(sku)
        self.calls.append(("set_prices", sku))
        self.prices[sku] = prices_by_location
        return {"status": "applied"}

    def _maybe_refuse(self, sku: str) -> None:
        if sku in self.refuse:
            raise self.refuse.pop(sku)

    def snapshot(self, con) -> None:
        """Re-read the POS: what this target wrote replaces those SKUs' rows in `<pos>.catalog|prices`."""
        items = [
            CatalogItem(POS, i["sku"], i["product_key"], i["name"], i["system_id"], json.dumps(i["attributes"], sort_keys=True),
                        i["barcode"], i["tax_category"], i["active"])
            for i in self.items.values()
        ]
        prices = [
            Price(POS, sku, slot["currency"], amount, f"{sku}-{loc}-{book}", location_key=loc, customer_group=book)
            for sku, by_location in self.prices.items()
            for loc, slot in by_location.items()
            for book, amount in [(None, slot["amount"]), *slot["price_books"].items()]
        ]
        for entity, records in (("catalog", items), ("prices", prices)):
            kept = warehouse.read_table(con, POS, entity)
            kept = kept[~kept["sku"].isin({r.sku for r in records})]
            fresh = schemas.frame_from_records(entity, [*kept.to_dict("records"), *records])
            warehouse.replace_table(con, POS, entity, fresh)


def write(con, system, items, prices):
    warehouse.replace_table(con, system, "catalog", schemas.frame_from_records("catalog", items))
    warehouse.replace_table(con, system, "prices", schemas.frame_from_records("prices", prices))


def ct_item(sku, name, barcode=None):
    return CatalogItem("commercetools", sku, sku.split("-")[0].lower(), name, f"v-{sku}", '{"colour": "red"}', barcode, "standard")


def ct_price(sku, amount, currency="EUR", channel=None, group=None):
    return Price("commercetools", sku, currency, amount, f"p-{sku}-{currency}-{amount}-{channel}-{group}",
                 location_key=channel, customer_group=group)


@pytest.fixture
def con():
    con = duckdb.connect()
    items = [
        ct_item("TEE-RED-S", "Tee red S", "4006381333931"),
        ct_item("TEE-RED-M", "Tee red M"),
        ct_item("TEE-RED-L", "Tee red L (new name)"),
        ct_item("MUG-1", "Mug"),
        ct_item("CAP-1", "Cap"),
    ]
    prices = [
        ct_price("TEE-RED-S", 1999, channel="berlin"), ct_price("TEE-RED-S", 2499, channel="berlin"),
        ct_price("TEE-RED-S", 1599, "GBP"),
        ct_price("TEE-RED-M", 1999), ct_price("TEE-RED-M", 1799, group="vip"), ct_price("TEE-RED-M", 1599, "GBP"),
        ct_price("TEE-RED-L", 1999), ct_price("TEE-RED-L", 1599, "GBP"),
        ct_price("MUG-1", 999),
        ct_price("CAP-1", 1200), ct_price("CAP-1", 1100, "GBP"),
    ]
    write(con, "commercetools", items, prices)
    pos_items = [
        CatalogItem(POS, "TEE-RED-L", "tee", "Tee red L", "pos-TEE-RED-L", '{"colour": "red"}', None, "standard"),
        CatalogItem(POS, "CAP-1", "cap", "Cap", "pos-CAP-1", '{"colour": "red"}', None, "standard"),
    ]
    pos_prices = [
        Price(POS, "TEE-RED-L", "EUR", 1999, "x1"), Price(POS, "TEE-RED-L", "GBP", 1599, "x2"),
        Price(POS, "CAP-1", "EUR", 1200, "x3", location_key="berlin"), Price(POS, "CAP-1", "GBP", 1100, "x4", location_key="london"),
    ]
    write(con, POS, pos_items, pos_prices)
    return con


def plan_of(con):
    return plan_catalog(con, POS, LOCATIONS, as_of=NOW)


# tests ---------------------------------------------------------------------------------------
def test_invalid_items_are_rejected_and_only_differences_are_planned(con):
    plan, rejections = plan_of(con)
    assert list(plan.columns) == PLAN_COLUMNS
    assert {(r.record_ref, r.field) for r in rejections} == {("TEE-RED-S", "prices"), ("MUG-1", "prices")}
    reasons = {r.record_ref: r.reason for r in rejections}
    assert reasons["TEE-RED-S"] == "SKU TEE-RED-S has two prices for EUR at berlin with overlapping validity: 1999 and 2499"
    assert reasons["MUG-1"] == "SKU MUG-1 has no price in GBP for location london (sold there)"

    rows = plan.set_index("sku")
    assert sorted(rows.index) == ["TEE-RED-L", "TEE-RED-M"]  # CAP-1 is equal at the POS
    assert rows.loc["TEE-RED-L", "action"] == "update"
    assert rows.loc["TEE-RED-L", "changes"] == ["name"]
    assert rows.loc["TEE-RED-L", "pos_system_id"] == "pos-TEE-RED-L"
    assert rows.loc["TEE-RED-M", "action"] == "create"
    assert json.loads(rows.loc["TEE-RED-M", "prices"]) == {
        "berlin": {"currency": "EUR", "amount": 1999, "price_books": {"vip": 1799}},
        "london": {"currency": "GBP", "amount": 1599, "price_books": {}},
    }
    key = rows.loc["TEE-RED-L", "idempotency_key"]
    assert key == f"{FLOW}|commercetools|TEE-RED-L|{rows.loc['TEE-RED-L', 'desired_hash']}"


def test_a_replayed_plan_keeps_its_keys_and_a_new_change_gets_a_new_one(con):
    first, _ = plan_of(con)
    again, _ = plan_of(con)
    assert list(first["idempotency_key"]) == list(again["idempotency_key"])
    write(con, "commercetools", [ct_item("TEE-RED-L", "Tee red L (newer)")], [ct_price("TEE-RED-L", 1999), ct_price("TEE-RED-L", 1599, "GBP")])
    changed, _ = plan_of(con)
    assert changed["idempotency_key"].iloc[0] not in set(first["idempotency_key"])


@pytest.mark.anyio
async def test_valid_items_reach_the_pos_and_pushing_twice_writes_nothing_the_second_time(con, ops):
    plan, _ = plan_of(con)
    target = RecordingCatalogTarget()
    stats = await push_catalog(plan, target, ops, pos_system=POS)
    assert (stats.applied, stats.created, stats.updated, stats.rejected, stats.failed) == (2, 1, 1, 0, 0)
    assert set(target.items) == {"TEE-RED-M", "TEE-RED-L"}  # never TEE-RED-S nor MUG-1
    assert target.calls == [("upsert_item", "TEE-RED-L"), ("upsert_item", "TEE-RED-M"), ("set_prices", "TEE-RED-M")]
    assert target.items["TEE-RED-L"]["name"] == "Tee red L (new name)"

    again = await push_catalog(plan, target, ops, pos_system=POS)
    assert (again.applied, again.already_applied, again.api_writes) == (0, 2, 0)
    assert len(target.calls) == 3

    target.snapshot(con)  # the POS as re-read after the push: nothing left to do
    assert plan_of(con)[0].empty


@pytest.mark.anyio
async def test_a_refused_item_is_rejected_a_transient_failure_retried_and_the_rest_land(con, ops):
    plan, _ = plan_of(con)
    target = RecordingCatalogTarget()
    err = dict(system=POS, method="POST", url="http://pos.test/products")
    target.refuse["TEE-RED-M"] = Unprocessable("invalid tax", status=422, **err)
    target.refuse["TEE-RED-L"] = ServerError("unavailable", status=503, **err)
    stats = await push_catalog(plan, target, ops, pos_system=POS)
    assert (stats.applied, stats.rejected, stats.failed) == (0, 1, 1)
    rejected = ops.rejected_frame("open")
    assert list(zip(rejected["record_ref"], rejected["field"], strict=True)) == [("TEE-RED-M", "item")]
    assert "refused the item of SKU TEE-RED-M (422)" in rejected["reason"].iloc[0]

    retried = await push_catalog(plan, target, ops, pos_system=POS)
    assert (retried.applied, retried.rejected, retried.failed) == (1, 1, 0)
    assert set(target.items) == {"TEE-RED-L"}


@pytest.mark.anyio
async def test_an_auth_failure_stops_the_run(con, ops):
    plan, _ = plan_of(con)
    target = RecordingCatalogTarget()
    target.refuse["TEE-RED-L"] = Unauthorized("bad token", status=401, system=POS, method="PUT", url="http://pos.test")
    with pytest.raises(SystemicSyncError):
        await push_catalog(plan.iloc[:1], target, ops, pos_system=POS)


@pytest.mark.anyio
async def test_an_older_key_left_in_flight_is_superseded_by_a_newer_plan(con, ops):
    ops.mark_retrying(f"{FLOW}|commercetools|TEE-RED-L|old", flow=FLOW, target=POS, source="commercetools",
                      record_ref="TEE-RED-L", payload={})
    plan, _ = plan_of(con)
    await push_catalog(plan, RecordingCatalogTarget(), ops, pos_system=POS)
    assert ops.ledger_status(f"{FLOW}|commercetools|TEE-RED-L|old") == "superseded"
    assert ops.in_flight(FLOW) == []


@pytest.mark.anyio
async def test_a_sku_fixed_at_the_source_reaches_the_pos_and_closes_its_rejection(con, ops):
    _, rejections = plan_of(con)
    ops.add_rejections(FLOW, rejections)
    write(con, "commercetools", [ct_item("MUG-1", "Mug")], [ct_price("MUG-1", 999), ct_price("MUG-1", 899, "GBP")])
    plan, rejections = plan_of(con)
    assert rejections == [] and list(plan["sku"]) == ["MUG-1"]
    target = RecordingCatalogTarget()
    await push_catalog(plan, target, ops, pos_system=POS)
    assert target.prices["MUG-1"]["london"] == {"currency": "GBP", "amount": 899, "price_books": {}}
    assert set(ops.rejected_frame("resolved")["record_ref"]) == {"MUG-1"}


def test_an_item_inactive_in_commercetools_is_not_created_at_the_pos(con):
    write(con, "commercetools", [CatalogItem("commercetools", "OLD-1", "old", "Old", "v-old", active=False)], [])
    plan, rejections = plan_of(con)
    assert plan.empty and rejections == []
