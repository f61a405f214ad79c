"""Catalog validation before any write, one table per rule (good and bad rows): each failing SKU is a
Rejection(commercetools, catalog, sku, field, specific reason) and is left out, the rest stay valid.
Also the price precedence: channel over country over the currency-only base price, customer groups
as price books."""

from datetime import UTC, datetime

import duckdb
import pytest

from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.canonical.models import CatalogItem, Location, Price
from omnisync_pipelines.engine.catalog_plan import changed_fields, prices_by_sku, resolve_prices
from omnisync_pipelines.engine.catalog_validate import (
    CatalogLocation,
    barcode_problem,
    locations_from_frame,
    validate_catalog,
)
from omnisync_pipelines.store import warehouse

NOW = datetime(2025, 6, 1, tzinfo=UTC)
BERLIN = CatalogLocation("berlin", "EUR", "DE")
LONDON = CatalogLocation("london", "GBP", "GB")


# fixtures ------------------------------------------------------------------------------------
def item(sku, barcode=None, product="tee", active=True, system_id=None):
    return CatalogItem("commercetools", sku, product, f"Tee {sku}", system_id or f"v-{sku}-{product}", barcode=barcode, active=active)


def price(sku, amount, currency="EUR", *, id=None, country=None, channel=None, group=None, start=None, end=None):
    return Price("commercetools", sku, currency, amount, id or f"p-{sku}-{amount}-{channel}-{country}-{group}",
                 country=country, location_key=channel, customer_group=group, valid_from=start, valid_until=end)


def run(items, prices, locations=(BERLIN,)):
    con = duckdb.connect()
    warehouse.replace_table(con, "commercetools", "catalog", schemas.frame_from_records("catalog", items))
    warehouse.replace_table(con, "commercetools", "prices", schemas.frame_from_records("prices", prices))
    valid, rejections = validate_catalog(con, list(locations), as_of=NOW)
    return valid, {(r.record_ref, r.field): r.reason for r in rejections}


def eur(*skus):
    return [price(s, 1999) for s in skus]


# barcode check digits ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("barcode", "ok"),
    [
        ("4006381333931", True),  # EAN-13
        ("036000291452", True),  # UPC-A
        ("96385074", True),  # EAN-8
        ("4006381333932", False),  # wrong check digit
        ("036000291453", False),
        ("96385075", False),
        ("40063813339", False),  # 11 digits
        ("ABC1234567890", False),
    ],
)
def test_barcode_check_digit(barcode, ok):
    assert (barcode_problem(barcode) is None) is ok


# one table per rule --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("items", "prices", "expected_valid", "expected"),
    [
        pytest.param([item("A"), item("B")], eur("A", "B"), ["A", "B"], {}, id="all good"),
        pytest.param([item("A"), item(" ", system_id="v9")], eur("A"), ["A"],
                     {("(no sku) v9", "sku"): "variant v9 of product tee ('Tee  ') has no SKU"}, id="blank sku"),
        pytest.param([item("A"), item("A", product="tee-2")], eur("A"), [],
                     {("A", "sku"): "SKU A appears on 2 variants (products tee, tee-2)"}, id="duplicate sku"),
        pytest.param([item("A", "4006381333931"), item("B", "4006381333931"), item("C", "036000291452")], eur("A", "B", "C"),
                     ["C"], {("A", "barcode"): "barcode 4006381333931 of SKU A is also used by SKU B",
                             ("B", "barcode"): "barcode 4006381333931 of SKU B is also used by SKU A"}, id="duplicate barcode"),
        pytest.param([item("A", "4006381333932"), item("B", "96385074")], eur("A", "B"), ["B"],
                     {("A", "barcode"): "SKU A: barcode 4006381333932 is not a valid EAN-13: check digit is 2, expected 1"},
                     id="invalid barcode"),
        pytest.param([item("A"), item("B")], [price("A", -5), price("B", 100)], ["B"],
                     {("A", "prices"): "SKU A has a negative price -5 for EUR"}, id="negative amount"),
    ],
)
def test_catalog_rules(items, prices, expected_valid, expected):
    valid, rejections = run(items, prices)
    assert valid == expected_valid
    assert set(rejections) == set(expected)
    for ref, reason in expected.items():
        assert reason in rejections[ref]


@pytest.mark.parametrize(
    ("prices", "rejected"),
    [
        pytest.param([price("A", 1999, channel="berlin"), price("A", 2499, channel="berlin")], True, id="same channel"),
        pytest.param([price("A", 1999, channel="berlin"), price("A", 1999, channel="berlin", id="dup")], False, id="same amount"),
        pytest.param([price("A", 1999, channel="berlin"), price("A", 2499)], False, id="different scopes"),
        pytest.param([price("A", 1999, group="vip"), price("A", 1799, group="vip"), price("A", 2499)], True, id="same group"),
        pytest.param([price("A", 1999, end=NOW), price("A", 2499, start=NOW)], False, id="consecutive validity"),
        pytest.param([price("A", 1999, end=datetime(2025, 7, 1, tzinfo=UTC)), price("A", 2499, start=NOW)], True,
                     id="overlapping validity"),
    ],
)
def test_conflicting_prices_for_one_scope(prices, rejected):
    valid, rejections = run([item("A")], prices)
    assert (("A", "prices") in rejections) is rejected
    assert valid == ([] if rejected else ["A"])


def test_a_conflict_names_the_sku_currency_scope_and_both_amounts():
    _, rejections = run([item("TEE-RED-S")], [price("TEE-RED-S", 2499, channel="store-berlin"),
                                              price("TEE-RED-S", 1999, channel="store-berlin"), price("TEE-RED-S", 2999)])
    assert rejections[("TEE-RED-S", "prices")] == (
        "SKU TEE-RED-S has two prices for EUR at store-berlin with overlapping validity: 1999 and 2499"
    )


@pytest.mark.parametrize(
    ("prices", "rejected"),
    [
        pytest.param([price("A", 1999), price("A", 1599, "GBP")], False, id="both currencies"),
        pytest.param([price("A", 1999)], True, id="no GBP"),
        pytest.param([price("A", 1999), price("A", 1599, "GBP", country="GB")], False, id="GBP for the country"),
        pytest.param([price("A", 1999), price("A", 1599, "GBP", country="IE")], True, id="GBP for another country"),
        pytest.param([price("A", 1999), price("A", 1599, "GBP", channel="london")], False, id="GBP at the store"),
        pytest.param([price("A", 1999), price("A", 1599, "GBP", group="vip")], True, id="GBP only for a group"),
        pytest.param([price("A", 1999), price("A", 1599, "GBP", end=NOW)], True, id="GBP expired"),
    ],
)
def test_a_missing_price_for_an_outlet_currency(prices, rejected):
    valid, rejections = run([item("A")], prices, locations=(BERLIN, LONDON))
    assert (valid == []) is rejected
    if rejected:
        assert rejections[("A", "prices")] == "SKU A has no price in GBP for location london (sold there)"


def test_no_price_needed_where_the_catalog_is_not_sold_or_the_item_is_inactive():
    not_sold = CatalogLocation("london", "GBP", "GB", sells_catalog=False)
    assert run([item("A")], [price("A", 1999)], locations=(BERLIN, not_sold))[0] == ["A"]
    assert run([item("A", active=False)], [], locations=(BERLIN,))[0] == ["A"]


def test_findings_for_one_sku_and_field_are_merged_into_one_rejection():
    _, rejections = run([item("A")], [price("A", -1)], locations=(BERLIN, LONDON))
    assert list(rejections) == [("A", "prices")]
    assert "negative price -1" in rejections[("A", "prices")] and "no price in GBP" in rejections[("A", "prices")]


# price precedence ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("prices", "amount", "scope"),
    [
        pytest.param([price("A", 100)], 100, "base", id="base only"),
        pytest.param([price("A", 100), price("A", 200, country="DE")], 200, "country", id="country over base"),
        pytest.param([price("A", 100), price("A", 200, country="DE"), price("A", 300, channel="berlin")], 300, "channel",
                     id="channel over country"),
        pytest.param([price("A", 100), price("A", 300, channel="munich")], 100, "base", id="another store's price"),
        pytest.param([price("A", 100), price("A", 200, country="AT")], 100, "base", id="another country's price"),
        pytest.param([price("A", 100), price("A", 300, channel="berlin", end=NOW)], 100, "base", id="expired channel"),
        pytest.param([price("A", 100), price("A", 300, "GBP", channel="berlin")], 100, "base", id="other currency"),
    ],
)
def test_the_most_specific_price_in_force_applies(prices, amount, scope):
    con = duckdb.connect()
    warehouse.replace_table(con, "commercetools", "prices", schemas.frame_from_records("prices", prices))
    resolved = resolve_prices(con, "commercetools", [BERLIN], as_of=NOW)
    assert resolved[["sku", "location_key", "amount", "scope"]].to_dict("records") == [
        {"sku": "A", "location_key": "berlin", "amount": amount, "scope": scope}
    ]


def test_customer_group_prices_become_price_books():
    con = duckdb.connect()
    prices = [price("A", 100), price("A", 80, group="vip"), price("A", 70, group="vip", channel="berlin"),
              price("A", 90, group="staff")]
    warehouse.replace_table(con, "commercetools", "prices", schemas.frame_from_records("prices", prices))
    resolved = resolve_prices(con, "commercetools", [BERLIN], as_of=NOW)
    assert list(resolved["price_book"].fillna("-")) == ["-", "staff", "vip"]
    assert prices_by_sku(resolved) == {"A": {"berlin": {"currency": "EUR", "amount": 100, "price_books": {"staff": 90, "vip": 70}}}}


# field comparison ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("current", "desired", "changes"),
    [
        ({"name": "Tee"}, {"name": "Tee "}, []),
        ({"name": "Tee"}, {"name": "Tee 2"}, ["name"]),
        ({"barcode": "036000291452"}, {"barcode": "0036000291452"}, []),  # UPC-A as EAN-13
        ({"attributes": '{"b": 1, "a": 2}'}, {"attributes": {"a": 2, "b": 1}}, []),
        ({"attributes": "{}"}, {"attributes": {"a": 1}}, ["attributes"]),
        ({"active": True, "tax_category": "std"}, {"active": False, "tax_category": "reduced"}, ["active", "tax_category"]),
    ],
)
def test_changed_fields(current, desired, changes):
    assert changed_fields(current, desired) == changes


def test_locations_from_a_pos_locations_snapshot():
    frame = schemas.frame_from_records("locations", [
        Location("lightspeed_x", "berlin", "o1", "Berlin", "EUR", "DE"),
        Location("lightspeed_x", None, "o2", "Unmapped", "EUR"),
        Location("lightspeed_x", "closed", "o3", "Closed", "EUR", active=False),
    ])
    assert locations_from_frame(frame) == [CatalogLocation("berlin", "EUR", "DE")]
