"""Drift: stock scenarios, thresholds (units / velocity / value), valuation in the store's own
currency, the estate share, top-N, history, the analyst queries on a small history, the chart, and
auto-corrections per location policy."""

from datetime import UTC, datetime

import pandas as pd

from omnisync_pipelines.canonical.models import Price, StockMovement
from omnisync_pipelines.canonical.schemas import frame_from_records
from omnisync_pipelines.engine.drift import (
    DRIFT_PER_DAY,
    DRIFT_VALUE_PER_CURRENCY,
    SINCE_WHEN_SKU_OFF,
    WHICH_STORES_DRIFT_MOST,
    DriftThresholds,
    apply_thresholds,
    corrections,
    drift_chart,
    drift_share,
    history_rows,
    run_query,
    run_row,
    sales_velocity,
    share_check,
    store_currencies,
    top_n,
)
from omnisync_pipelines.engine.reconcile_stock import RECONCILIATION_COLUMNS, reconcile_stock
from omnisync_pipelines.engine.stock_plan import PLAN_COLUMNS

CHECKED = datetime(2025, 3, 2, 6, 0, tzinfo=UTC)


def levels(rows, value="on_hand"):
    return pd.DataFrame(rows, columns=["sku", "location_key", value])


def reconcile(ct, pos, base):
    return reconcile_stock(levels(ct), levels(pos), levels(base, "level"), pos_system="lightspeed_x",
                           checked_at=CHECKED)


def no_velocity():
    return pd.DataFrame({"sku": pd.Series(dtype=object), "location_key": pd.Series(dtype=object),
                         "daily_units": pd.Series(dtype=float)})


def prices(rows):
    """(sku, store, amount) in EUR, no country: the currency-only price (store None) or a store's own."""
    return frame_from_records("prices", [Price("commercetools", sku, "EUR", amount, f"p-{sku}-{loc}", location_key=loc)
                                         for sku, loc, amount in rows])


def priced(*rows):
    """(sku, currency, amount, country, store) commercetools base prices."""
    return frame_from_records("prices", [
        Price("commercetools", sku, currency, amount, f"p-{sku}-{currency}-{country}-{loc}", country=country,
              location_key=loc) for sku, currency, amount, country, loc in rows])


def stores(*rows):
    """(store, currency, country) as `store_currencies` gives them."""
    return pd.DataFrame(rows, columns=["location_key", "currency", "country"])


GERMAN_STORES = stores(("ber", "EUR", "DE"), ("ham", "EUR", "DE"))


# stock scenarios ---------------------------------------------------------------------------------

def test_a_manual_adjustment_made_only_in_commercetools_is_drift_with_the_right_amount():
    row = reconcile([("A", "ber", 12)], [("A", "ber", 5)], [("A", "ber", 5)]).iloc[0]
    assert (row["status"], row["difference"], row["in_flight_units"]) == ("drift", 7, 0)


def test_a_dropped_movement_is_drift():
    # the POS sold 3 (8 -> 5) and the baseline advanced to 5, but commercetools never got the -3
    row = reconcile([("A", "ber", 8)], [("A", "ber", 5)], [("A", "ber", 5)]).iloc[0]
    assert (row["status"], row["difference"]) == ("drift", 3)


def test_an_in_flight_movement_is_explained_not_drift():
    # the POS sold 3 since the last push: baseline 8, commercetools 8, POS 5; the next push carries -3
    row = reconcile([("A", "ber", 8)], [("A", "ber", 5)], [("A", "ber", 8)]).iloc[0]
    assert (row["status"], row["difference"], row["in_flight_units"]) == ("explained", 3, -3)


# thresholds --------------------------------------------------------------------------------------

ESTATE = (
    [("A", "ber", 10), ("B", "ber", 4), ("C", "ham", 20), ("D", "ham", 7)],  # commercetools
    [("A", "ber", 5), ("B", "ber", 3), ("C", "ham", 18), ("D", "ham", 7)],  # POS
    [("A", "ber", 5), ("B", "ber", 3), ("C", "ham", 18), ("D", "ham", 7)],  # baselines: nothing in flight
)  # differences: A +5, B +1, C +2, D 0


def above(thresholds, velocity=None, price_rows=()):
    frame = apply_thresholds(reconcile(*ESTATE), no_velocity() if velocity is None else velocity,
                             prices(price_rows), thresholds, GERMAN_STORES)
    return frame.set_index("sku")["above_threshold"].to_dict()


def test_units_threshold_keeps_differences_strictly_above():
    assert above(DriftThresholds(units=0)) == {"A": True, "B": True, "C": True, "D": False}
    assert above(DriftThresholds(units=2)) == {"A": True, "B": False, "C": False, "D": False}


def test_velocity_threshold_ignores_what_a_fast_seller_sells_in_a_day():
    velocity = pd.DataFrame([("A", "ber", 3.0), ("C", "ham", 0.5)], columns=["sku", "location_key", "daily_units"])
    # A: 5 <= 2 days x 3/day -> filtered; C: 2 > 2 x 0.5; B: no sales -> any difference counts
    assert above(DriftThresholds(velocity_days=2), velocity) == {"A": False, "B": True, "C": True, "D": False}


def test_value_threshold_uses_the_location_price_before_the_base_price():
    price_rows = [("A", None, 100), ("B", None, 5000), ("C", None, 100), ("C", "ham", 300)]
    # A 5 x 100 = 500, B 1 x 5000 = 5000, C 2 x 300 = 600 (the ham price)
    assert above(DriftThresholds(value_minor=550), price_rows=price_rows) == {"A": False, "B": True, "C": True, "D": False}
    frame = apply_thresholds(reconcile(*ESTATE), no_velocity(), prices(price_rows), DriftThresholds(), GERMAN_STORES)
    values = frame.set_index("sku")["value_minor"]
    assert values[["A", "B", "C"]].tolist() == [500, 5000, 600] and pd.isna(values["D"])  # D: no price
    assert frame["currency"].tolist() == ["EUR"] * 4


def test_a_discrepancy_without_a_price_is_not_hidden_by_the_value_threshold():
    assert above(DriftThresholds(value_minor=10_000), price_rows=[("A", None, 100)]) == {
        "A": False, "B": True, "C": True, "D": False}


def test_sales_velocity_from_pos_sale_movements():
    def move(mid, qty, kind, day):
        return StockMovement(mid, "lightspeed_x", "A", "ber", qty, kind, "s", datetime(2025, 3, day, tzinfo=UTC))
    movements = frame_from_records("stock_movements", [move("m1", -4, "sale", 1), move("m2", -2, "sale", 1),
                                                       move("m3", 1, "return", 1), move("m4", -9, "sale", 2)])
    velocity = sales_velocity(movements, as_of=datetime(2025, 3, 2, tzinfo=UTC), days=2)
    assert velocity.values.tolist() == [["A", "ber", 3.0]]


def test_share_of_the_estate_drifting_and_the_check():
    frame = apply_thresholds(reconcile(*ESTATE), no_velocity(), prices([]), DriftThresholds(units=2))
    assert drift_share(frame) == 0.25
    assert share_check(frame, DriftThresholds(max_share_of_estate=0.25)) == (True, 0.25)
    assert share_check(frame, DriftThresholds(max_share_of_estate=0.2)) == (False, 0.25)


def test_top_n_markdown_lists_the_worst_first():
    frame = apply_thresholds(reconcile(*ESTATE), no_velocity(), prices([("B", None, 5000), ("A", None, 100),
                                                                        ("C", None, 100)]), DriftThresholds(), GERMAN_STORES)
    table = top_n(frame, n=2).splitlines()
    assert [c.strip() for c in table[0].split("|")[1:-1]] == [
        "sku", "location_key", "commercetools_on_hand", "pos_on_hand", "difference", "value_minor", "currency", "status"]
    assert [line.split("|")[1].strip() for line in table[2:]] == ["B", "A"]  # 5000 then 500 in value
    assert top_n(reconcile(*ESTATE)).splitlines()[2].split("|")[1].strip() == "A"  # no prices: by units
    assert top_n(reconcile([("A", "ber", 1)], [("A", "ber", 1)], [("A", "ber", 1)])) == "no drift"


# valuation in the store's currency ----------------------------------------------------------------
# Berlin Mitte (DE, EUR) and London Soho (GB, GBP) both stock the waxed jacket, priced 99.98 EUR in
# Germany and 85.98 GBP in Britain; each store's count is one unit off.

JACKET = ("JACKET-OLIVE-M", "EUR", 9998, "DE", None), ("JACKET-OLIVE-M", "GBP", 8598, "GB", None)
BERLIN_AND_LONDON = stores(("berlin", "EUR", "DE"), ("london", "GBP", "GB"))


def one_unit_off(*skus, stores_=("berlin", "london")):
    rows = [(sku, store, 4) for sku in skus for store in stores_]
    return reconcile([(sku, store, 5) for sku, store, _ in rows], rows, rows)


def valued(stock, price_frame, store_frame=BERLIN_AND_LONDON, thresholds=DriftThresholds()):
    frame = apply_thresholds(stock, no_velocity(), price_frame, thresholds, store_frame)
    return {(r.sku, r.location_key): (r.unit_price, r.value_minor, r.currency, r.above_threshold)
            for r in frame.itertuples()}


def test_each_store_is_valued_at_its_own_countrys_price_in_its_own_currency():
    assert valued(one_unit_off("JACKET-OLIVE-M"), priced(*JACKET)) == {
        ("JACKET-OLIVE-M", "berlin"): (9998, 9998, "EUR", True),
        ("JACKET-OLIVE-M", "london"): (8598, 8598, "GBP", True),
    }


def test_the_currency_column_sits_right_after_the_money_columns():
    frame = apply_thresholds(one_unit_off("JACKET-OLIVE-M"), no_velocity(), priced(*JACKET), DriftThresholds(),
                             BERLIN_AND_LONDON)
    assert list(frame.columns) == [*RECONCILIATION_COLUMNS, "velocity_daily_units", "unit_price", "value_minor",
                                   "currency", "above_threshold"]


def test_a_store_price_wins_over_the_country_price_and_applies_only_at_that_store():
    # London Soho runs its own price on the jacket (79.99 GBP); Berlin keeps the German price
    london_price = ("JACKET-OLIVE-M", "GBP", 7999, "GB", "london")
    values = valued(one_unit_off("JACKET-OLIVE-M"), priced(*JACKET, london_price))
    assert values[("JACKET-OLIVE-M", "london")][:3] == (7999, 7999, "GBP")
    assert values[("JACKET-OLIVE-M", "berlin")][:3] == (9998, 9998, "EUR")


def test_the_country_price_wins_over_a_currency_only_price_and_another_countrys_never_applies():
    # a euro list price for the whole eurozone, the German price, and an Austrian one
    rows = [("SCARF", "EUR", 2500, None, None), ("SCARF", "EUR", 2990, "DE", None), ("SCARF", "EUR", 2790, "AT", None)]
    assert valued(one_unit_off("SCARF", stores_=("berlin",)), priced(*rows))[("SCARF", "berlin")][:3] == (
        2990, 2990, "EUR")
    # without the German price Berlin falls back to the euro list price, not the Austrian one
    assert valued(one_unit_off("SCARF", stores_=("berlin",)), priced(rows[0], rows[2]))[("SCARF", "berlin")][:3] == (
        2500, 2500, "EUR")


def test_a_sku_priced_only_in_pounds_leaves_the_euro_store_unpriced():
    # the British-only tweed cap is miscounted at both stores: London values it, Berlin cannot
    values = valued(one_unit_off("CAP-TWEED"), priced(("CAP-TWEED", "GBP", 2400, "GB", None)),
                    thresholds=DriftThresholds(value_minor=5000))
    assert values[("CAP-TWEED", "london")] == (2400, 2400, "GBP", False)  # 24.00 GBP: under the 50.00 threshold
    unit_price, value, currency, is_above = values[("CAP-TWEED", "berlin")]
    assert (pd.isna(unit_price), pd.isna(value), currency, is_above) == (True, True, "EUR", True)  # unpriced: shown


def test_the_value_threshold_compares_in_each_stores_own_currency():
    # threshold 90.00: Berlin's 99.98 EUR is above it, London's 85.98 GBP is not (no exchange rate applied)
    values = valued(one_unit_off("JACKET-OLIVE-M"), priced(*JACKET), thresholds=DriftThresholds(value_minor=9000))
    assert {key: v[3] for key, v in values.items()} == {("JACKET-OLIVE-M", "berlin"): True,
                                                       ("JACKET-OLIVE-M", "london"): False}


def test_a_store_without_a_till_currency_takes_its_countrys_currency_else_stays_unpriced():
    stock = one_unit_off("JACKET-OLIVE-M", stores_=("berlin", "zurich", "popup"))
    # berlin: no currency from its outlet, but Germany is priced in EUR only; zurich: Switzerland is
    # priced in both CHF and EUR, so which one is not guessed; popup: neither currency nor country
    swiss = [("JACKET-OLIVE-M", "CHF", 10990, "CH", None), ("JACKET-OLIVE-M", "EUR", 10500, "CH", None)]
    values = valued(stock, priced(*JACKET, *swiss),
                    stores(("berlin", None, "DE"), ("zurich", None, "CH"), ("popup", None, None)))
    assert values[("JACKET-OLIVE-M", "berlin")][:3] == (9998, 9998, "EUR")
    for store in ("zurich", "popup"):
        unit_price, value, currency, _ = values[("JACKET-OLIVE-M", store)]
        assert (pd.isna(unit_price), pd.isna(value), currency) == (True, True, None)


def test_store_currencies_from_the_outlets_with_the_configured_country_first():
    outlets = pd.DataFrame([
        {"location_key": "berlin", "currency": "EUR", "country": "DE"},
        {"location_key": "london", "currency": "GBP", "country": None},
        {"location_key": None, "currency": "EUR", "country": "DE"},  # an unmapped outlet
    ])
    result = store_currencies(outlets, {"berlin": None, "london": "GB", "leeds": "GB"})
    assert result.values.tolist() == [["berlin", "EUR", "DE"], ["london", "GBP", "GB"], ["leeds", None, "GB"]]
    assert store_currencies(pd.DataFrame(), {}).empty  # no locations snapshot yet


def test_top_n_ranks_within_each_currency_never_across_them():
    # London is 3 jackets off (257.94 GBP); Berlin 2 jackets (199.96 EUR) and, unpriced in EUR, 4 caps;
    # the pop-up store has no known currency: 5 jackets off, unvalued
    ct, pos = [("JACKET-OLIVE-M", "berlin", 6), ("JACKET-OLIVE-M", "london", 7), ("CAP-TWEED", "berlin", 6),
               ("JACKET-OLIVE-M", "popup", 9)], [
              ("JACKET-OLIVE-M", "berlin", 4), ("JACKET-OLIVE-M", "london", 4), ("CAP-TWEED", "berlin", 2),
              ("JACKET-OLIVE-M", "popup", 4)]
    frame = apply_thresholds(reconcile(ct, pos, pos), no_velocity(),
                             priced(*JACKET, ("CAP-TWEED", "GBP", 2400, "GB", None)), DriftThresholds(),
                             stores(("berlin", "EUR", "DE"), ("london", "GBP", "GB"), ("popup", None, None)))

    def rows(table):
        return [tuple(c.strip() for c in line.split("|")[1:-1]) for line in table.splitlines()[2:]]
    # each currency's worst first, currency by currency: 25794 GBP does not outrank 19996 EUR
    assert [(r[0], r[1], r[5], r[6]) for r in rows(top_n(frame, n=5))] == [
        ("JACKET-OLIVE-M", "berlin", "19996", "EUR"), ("CAP-TWEED", "berlin", "<NA>", "EUR"),
        ("JACKET-OLIVE-M", "london", "25794", "GBP"), ("JACKET-OLIVE-M", "popup", "<NA>", "")]
    # n applies per currency: each currency keeps its own worst
    assert [(r[1], r[6]) for r in rows(top_n(frame, n=1))] == [("berlin", "EUR"), ("london", "GBP"), ("popup", "")]
    assert rows(top_n(frame, n=1))[0][0] == "JACKET-OLIVE-M"  # priced 19996 before the unpriced 4 caps


def test_history_carries_the_currency_and_drift_value_is_summed_per_currency():
    stock = reconcile([("JACKET-OLIVE-M", "berlin", 6), ("JACKET-OLIVE-M", "london", 7), ("CAP-TWEED", "berlin", 3),
                       ("SCARF", "hamburg", 5)],
                      [("JACKET-OLIVE-M", "berlin", 4), ("JACKET-OLIVE-M", "london", 4), ("CAP-TWEED", "berlin", 2),
                       ("SCARF", "hamburg", 4)],
                      [("JACKET-OLIVE-M", "berlin", 4), ("JACKET-OLIVE-M", "london", 4), ("CAP-TWEED", "berlin", 2),
                       ("SCARF", "hamburg", 4)])
    frame = apply_thresholds(stock, no_velocity(), priced(*JACKET, ("SCARF", "EUR", 2990, "DE", None)),
                             DriftThresholds(), stores(("berlin", "EUR", "DE"), ("london", "GBP", "GB"),
                                                       ("hamburg", "EUR", "DE")))
    history = history_rows(frame, "r1", CHECKED)
    assert history[["sku", "location_key", "value_minor", "currency"]].astype(object).where(
        history[["sku", "location_key", "value_minor", "currency"]].notna(), None).values.tolist() == [
        ["CAP-TWEED", "berlin", None, "EUR"], ["JACKET-OLIVE-M", "berlin", 19996, "EUR"],
        ["SCARF", "hamburg", 2990, "EUR"], ["JACKET-OLIVE-M", "london", 25794, "GBP"]]
    result = run_query(DRIFT_VALUE_PER_CURRENCY, stock_history=history)
    assert result.values.tolist() == [["EUR", 3, 3, 4, 22986, 1], ["GBP", 1, 1, 3, 25794, 0]]


# history and analyst queries ----------------------------------------------------------------------

def run_at(run_id, at, rows):
    """rows: (sku, location, difference) drifting in this run; plus one matching row."""
    frame = pd.DataFrame([(s, loc, d, "drift") for s, loc, d in rows] + [("Z", "ber", 0, "match")],
                         columns=["sku", "location_key", "difference", "status"])
    return history_rows(frame, run_id, at)


def history():
    return pd.concat([
        run_at("r1", datetime(2025, 3, 1, 6, tzinfo=UTC), [("A", "ber", 2), ("B", "ham", -1)]),
        run_at("r2", datetime(2025, 3, 1, 18, tzinfo=UTC), [("A", "ber", 3)]),
        run_at("r3", datetime(2025, 3, 2, 6, tzinfo=UTC), [("A", "ber", 3), ("B", "ham", -4), ("C", "ber", 1)]),
    ], ignore_index=True)


def test_history_rows_keep_only_discrepancies_stamped_with_the_run():
    rows = run_at("r1", datetime(2025, 3, 1, 6, tzinfo=UTC), [("A", "ber", 2)])
    assert rows[["sku", "run_id"]].values.tolist() == [["A", "r1"]]
    assert rows["checked_at"].tolist() == [pd.Timestamp("2025-03-01 06:00", tz="UTC")]


def test_which_stores_drift_most():
    result = run_query(WHICH_STORES_DRIFT_MOST, stock_history=history())
    assert result.values.tolist() == [["ber", 2, 3, 9], ["ham", 1, 2, 5]]


def test_since_when_a_sku_is_off():
    result = run_query(SINCE_WHEN_SKU_OFF, stock_history=history())
    # A off in all three runs; B dropped out in r2, so its current streak starts at r3; C new in r3
    assert result[["sku", "location_key", "runs_off", "current_difference"]].values.tolist() == [
        ["A", "ber", 3, 3], ["C", "ber", 1, 1], ["B", "ham", 1, -4]]
    assert result["off_since"].dt.tz_convert("UTC").tolist() == [
        pd.Timestamp("2025-03-01 06:00", tz="UTC"), pd.Timestamp("2025-03-02 06:00", tz="UTC"),
        pd.Timestamp("2025-03-02 06:00", tz="UTC")]


def test_drift_per_day_is_the_state_at_each_days_last_run():
    result = run_query(DRIFT_PER_DAY, stock_history=history())
    assert [(str(d)[:10], runs, n, units) for d, runs, n, units in result.values.tolist()] == [
        ("2025-03-01", 2, 1, 3), ("2025-03-02", 1, 3, 8)]


def test_drift_chart_has_a_bar_per_day_scaled_to_the_worst():
    chart = drift_chart(history(), width=8).splitlines()
    assert chart[2] == "| 2025-03-01 | 1 | 3 | ███ |"
    assert chart[3] == "| 2025-03-02 | 3 | 8 | ████████ |"
    assert drift_chart(history().iloc[0:0]) == "no drift recorded"


# corrections --------------------------------------------------------------------------------------

def test_corrections_only_for_correct_to_pos_locations():
    frame = reconcile([("A", "ber", 10), ("B", "ham", 9), ("C", "ber", 8)],
                      [("A", "ber", 5), ("B", "ham", 3), ("C", "ber", 5)],
                      [("A", "ber", 5), ("B", "ham", 3), ("C", "ber", 8)])  # C: in flight, explained
    plan = corrections(frame, {"ber": "correct_to_pos", "ham": "report_only"}, run_id="run-7")
    assert list(plan.columns) == PLAN_COLUMNS
    assert plan[["idempotency_key", "sku", "location_key", "pos_level", "expected_delta", "kind"]].values.tolist() == [
        ["stock_correction|lightspeed_x|A@ber|run-7", "A", "ber", 5, -5, "correction"]]
    assert corrections(frame, {}).empty  # report_only is the default


def test_corrections_respect_thresholds_and_key_on_checked_at_without_a_run_id():
    frame = apply_thresholds(reconcile(*ESTATE), no_velocity(), prices([]), DriftThresholds(units=2))
    plan = corrections(frame, {"ber": "correct_to_pos", "ham": "correct_to_pos"})
    assert plan[["idempotency_key", "expected_delta"]].values.tolist() == [
        ["stock_correction|lightspeed_x|A@ber|2025-03-02T06:00:00+00:00", -5]]


def test_an_empty_estate_has_no_drift_and_no_corrections():
    frame = apply_thresholds(reconcile([], [], []), no_velocity(), prices([]), DriftThresholds(velocity_days=1, value_minor=1))
    assert (len(frame), drift_share(frame), top_n(frame)) == (0, 0.0, "no drift")
    assert corrections(frame, {"ber": "correct_to_pos"}).empty


def test_a_clean_run_ends_every_streak_and_shows_as_a_clean_day():
    clean = pd.DataFrame([{"run_id": "r4", "checked_at": pd.Timestamp("2025-03-03 06:00", tz="UTC")}])
    runs = pd.concat([history().groupby("run_id", as_index=False)["checked_at"].min(), clean], ignore_index=True)
    assert run_query(SINCE_WHEN_SKU_OFF, stock_history=history(), stock_runs=runs).empty
    days = run_query(DRIFT_PER_DAY, stock_history=history(), stock_runs=runs)
    assert [(str(d)[:10], n, units) for d, _, n, units in days.values.tolist()][-1] == ("2025-03-03", 0, 0)
    assert drift_chart(history(), width=8, runs=runs).splitlines()[-1] == "| 2025-03-03 | 0 | 0 |  |"


def test_the_run_row_counts_statuses_and_rows_above_threshold():
    frame = apply_thresholds(reconcile(*ESTATE), no_velocity(), prices([]), DriftThresholds(units=2))
    row = run_row(frame, "r9", CHECKED).iloc[0]
    assert (row["rows"], row["match"] + row["explained"] + row["drift"], row["above_threshold"]) == (
        len(frame), len(frame), int(frame["above_threshold"].sum()))


def test_a_correction_leaves_the_units_in_flight_to_the_stock_push():
    # A clerk added 3 in commercetools (13) while the till sold 2 not yet pushed (POS 8, baseline 10).
    frame = reconcile([("A", "ber", 13)], [("A", "ber", 8)], [("A", "ber", 10)])
    row = frame.iloc[0]
    assert (row["status"], row["difference"], row["in_flight_units"]) == ("drift", 5, -2)
    plan = corrections(frame, {"ber": "correct_to_pos"}, run_id="run-8")
    correction = int(plan.iloc[0]["expected_delta"])
    assert correction == -3  # back to the synced baseline, not -5 to the POS count
    pending_push = 8 - 10  # what the stock flow sends next: POS count - baseline
    assert 13 + correction + pending_push == 8  # commercetools ends at the POS count, the sale counted once
