"""Drift: thresholds on stock discrepancies, the worst of them, history rows, a chart, analyst
queries, and the stock auto-correction plan.

`apply_thresholds` adds to `reconciliation.stock` (THRESHOLD_COLUMNS): `velocity_daily_units`
(recent sales per day of the SKU at the location, 0 when unknown), `unit_price` (minor units of the
store's currency; None when unknown), `value_minor` (|difference| x unit_price, same currency),
`currency` (the store's ISO currency, in which both are; None when the store's currency is unknown)
and `above_threshold`. Only `drift` rows can be above. A row with no price counts as above a value
threshold: an unknown value is not a reason to hide a discrepancy.

Valuation is in the store's own currency, never another: the store's currency is its till's (the
`<pos>.locations` snapshot), else the one currency commercetools prices its country in (a country
priced in two currencies, or a store with neither, stays unknown: its rows are unpriced). Among the
base prices (no customer group) valid at `checked_at` in that currency, the most specific wins, as
the catalog flow resolves them: channel and country > channel (the store's own) > country >
currency only (then the latest valid_from, then the lower amount); a price for another country
or another store never applies. A SKU not priced in the store's currency is unpriced there, not
valued at a foreign price. The value threshold is compared in the store's own minor units (5000 is
50.00 EUR at a German store, 50.00 GBP at a British one, 5000 JPY at a Japanese one).

`history_rows` gives `drift.stock_history` / `drift.orders_history`: every row of a run whose
status is neither `match` nor `explained`, with `run_id` and `checked_at`. A run without any
discrepancy adds no rows, so the analyst queries see only runs that found something.

`corrections` plans, for locations whose policy is `correct_to_pos`, one row per drift (above
threshold when the frame has been through `apply_thresholds`) in `stock_plan.PLAN_COLUMNS`:
kind `correction`, pos_level = the POS count, expected_delta = POS - commercetools, pos_version and
baseline_level <NA> (a reconciliation row has neither), key `stock_correction|<pos>|<sku>@<loc>|<run id or checked_at>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import duckdb
import pandas as pd

from omnisync_pipelines.canonical.keys import idempotency_key
from omnisync_pipelines.canonical.models import MovementKind
from omnisync_pipelines.engine.stock_plan import PLAN_COLUMNS

CORRECTION_FLOW = "stock_correction"
THRESHOLD_COLUMNS = ["velocity_daily_units", "unit_price", "value_minor", "currency", "above_threshold"]
STORE_COLUMNS = ["location_key", "currency", "country"]
NOT_DRIFT = ("match", "explained")
Policy = Literal["report_only", "correct_to_pos"]


@dataclass(frozen=True)
class DriftThresholds:
    units: int = 0
    velocity_days: float | None = None
    value_minor: int | None = None
    max_share_of_estate: float = 0.05


def sales_velocity(movements: pd.DataFrame, *, as_of: datetime, days: int = 28) -> pd.DataFrame:
    """(sku, location_key, daily_units) from canonical POS `stock_movements`: units sold per day
    over the `days` before `as_of`, net of nothing (returns do not slow a seller down)."""
    con = duckdb.connect()
    try:
        con.register("m", movements[["sku", "location_key", "quantity", "kind", "occurred_at"]])
        return con.execute(
            """
            SELECT sku, location_key, -sum(quantity) / $days::DOUBLE AS daily_units
            FROM m WHERE kind = $sale AND occurred_at >= $start AND occurred_at < $end
            GROUP BY sku, location_key ORDER BY location_key, sku
            """,
            {"days": days, "sale": MovementKind.SALE.value, "start": as_of - timedelta(days=days), "end": as_of},
        ).df()
    finally:
        con.close()


def store_currencies(locations: pd.DataFrame, countries: Mapping[str, str | None] | None = None) -> pd.DataFrame:
    """(location_key, currency, country) per store, from a `<pos>.locations` snapshot (canonical
    Location columns: the till's currency and country) and the configured countries (`countries`:
    location key -> the store's tax country, which wins over what the outlet says, as in the catalog
    flow). A configured store the snapshot does not hold has no currency (the country may give it)."""
    stores: dict[str, dict] = {}
    if len(locations) and "location_key" in locations:
        for row in locations.to_dict("records"):
            key = _text(row.get("location_key"))
            if key is None:
                continue
            store = stores.setdefault(key, {"location_key": key, "currency": None, "country": None})
            store["currency"] = store["currency"] or _text(row.get("currency"))
            store["country"] = store["country"] or _text(row.get("country"))
    for key, country in (countries or {}).items():
        if _text(country):
            stores.setdefault(key, {"location_key": key, "currency": None, "country": None})["country"] = country
    return pd.DataFrame(list(stores.values()), columns=STORE_COLUMNS).astype(object)


def _text(value) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def apply_thresholds(
    stock: pd.DataFrame, velocity: pd.DataFrame, prices: pd.DataFrame, thresholds: DriftThresholds,
    stores: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """stock: `reconciliation.stock`; velocity: (sku, location_key, daily_units); prices: canonical
    commercetools `prices` (those valid at the row's checked_at with no customer group are used);
    stores: (location_key, currency, country), see `store_currencies` (None: every store's currency
    unknown, so nothing is priced)."""
    stores = stores if stores is not None and len(stores) else pd.DataFrame(columns=STORE_COLUMNS)
    con = duckdb.connect()
    try:
        con.register("s", stock)
        con.register("v", velocity[["sku", "location_key", "daily_units"]])
        con.register("p", prices[["sku", "currency", "country", "location_key", "amount", "customer_group",
                                  "valid_from", "valid_until"]])
        con.register("st", stores[STORE_COLUMNS].astype(object))
        out = con.execute(
            """
            WITH prices AS (
                SELECT sku::VARCHAR AS sku, currency::VARCHAR AS currency, country::VARCHAR AS country,
                       location_key::VARCHAR AS location_key, amount::BIGINT AS amount,
                       valid_from::TIMESTAMPTZ AS valid_from, valid_until::TIMESTAMPTZ AS valid_until
                FROM p WHERE customer_group IS NULL
            ), country_currency AS (  -- a country commercetools prices in exactly one currency
                SELECT country, min(currency) AS currency FROM prices WHERE country IS NOT NULL
                GROUP BY country HAVING count(DISTINCT currency) = 1
            ), given AS (  -- one row per store
                SELECT location_key::VARCHAR AS location_key, min(currency::VARCHAR) AS currency,
                       min(country::VARCHAR) AS country
                FROM st WHERE location_key IS NOT NULL GROUP BY ALL
            ), stores AS (
                SELECT g.location_key, coalesce(g.currency, cc.currency) AS currency, g.country
                FROM given AS g LEFT JOIN country_currency AS cc ON cc.country = g.country
            ), priced AS (
                SELECT s.sku, s.location_key, s.checked_at, p.amount AS unit_price
                FROM s JOIN stores AS st ON st.location_key = s.location_key
                JOIN prices AS p ON p.sku = s.sku AND p.currency = st.currency
                 AND (p.location_key IS NULL OR p.location_key = s.location_key)
                 AND (p.country IS NULL OR p.country = st.country)
                WHERE (p.valid_from IS NULL OR p.valid_from <= s.checked_at)
                  AND (p.valid_until IS NULL OR p.valid_until > s.checked_at)
                QUALIFY row_number() OVER (
                    PARTITION BY s.sku, s.location_key, s.checked_at
                    ORDER BY CASE WHEN p.location_key IS NOT NULL AND p.country IS NOT NULL THEN 0
                                  WHEN p.location_key IS NOT NULL THEN 1
                                  WHEN p.country IS NOT NULL THEN 2 ELSE 3 END,
                             p.valid_from DESC NULLS LAST, p.amount) = 1
            ), valued AS (
                SELECT s.*, coalesce(v.daily_units, 0)::DOUBLE AS velocity_daily_units, priced.unit_price,
                       abs(s.difference) * priced.unit_price AS value_minor, st.currency
                FROM s LEFT JOIN v USING (sku, location_key) LEFT JOIN priced USING (sku, location_key, checked_at)
                LEFT JOIN stores AS st ON st.location_key = s.location_key
            )
            SELECT *,
                   status = 'drift' AND abs(difference) > $units
                   AND ($days IS NULL OR abs(difference) > $days * velocity_daily_units)
                   AND ($value IS NULL OR value_minor IS NULL OR value_minor > $value) AS above_threshold
            FROM valued ORDER BY location_key, sku
            """,
            {"units": thresholds.units, "days": thresholds.velocity_days, "value": thresholds.value_minor},
        ).df()
    finally:
        con.close()
    for column in ("unit_price", "value_minor"):
        out[column] = out[column].astype("Int64")
    out["currency"] = out["currency"].astype(object).where(out["currency"].notna(), None)
    out["above_threshold"] = out["above_threshold"].astype(bool)
    return out[[*stock.columns, *THRESHOLD_COLUMNS]]


def drift_share(frame: pd.DataFrame) -> float:
    """Share of SKU x location rows drifting above threshold (0.0 for an empty estate)."""
    return float(frame["above_threshold"].mean()) if len(frame) else 0.0


def share_check(frame: pd.DataFrame, thresholds: DriftThresholds) -> tuple[bool, float]:
    """(passed, share): the asset check fails when the share exceeds `max_share_of_estate`."""
    share = drift_share(frame)
    return share <= thresholds.max_share_of_estate, share


def top_n(frame: pd.DataFrame, n: int = 20) -> str:
    """Markdown table of the worst discrepancies. Values rank only within one currency (minor units of
    EUR and of GBP are not comparable): with a `currency` column the table holds each currency's
    own worst `n`, one currency after the other (alphabetical; stores of unknown currency last),
    each by |value_minor| (unpriced rows after the priced ones), then |difference|, and shows the
    currency beside the value. Without one, the worst `n` by |difference|."""
    rows = frame[~frame["status"].isin(NOT_DRIFT)].copy()
    if "above_threshold" in rows:
        rows = rows[rows["above_threshold"]]
    if rows.empty:
        return "no drift"
    shown = [c for c in ("sku", "location_key", "pos_order_id", "commercetools_order_id", "commercetools_on_hand",
                         "pos_on_hand", "difference", "value_minor", "currency", "status") if c in rows]
    if "currency" not in rows:
        return _worst(rows, n, by_value=False)[shown].to_markdown(index=False)
    known = rows["currency"].notna()
    groups = [_worst(rows[known & (rows["currency"] == code)], n, by_value="value_minor" in rows)
              for code in sorted(rows.loc[known, "currency"].unique())]
    groups.append(_worst(rows[~known], n, by_value=False))
    return pd.concat([g for g in groups if len(g)])[shown].to_markdown(index=False)


def _worst(rows: pd.DataFrame, n: int, *, by_value: bool) -> pd.DataFrame:
    value = rows["value_minor"].abs().astype("Float64").fillna(-1) if by_value else pd.Series(0, index=rows.index)
    ranked = rows.assign(_value=value, _units=rows["difference"].abs())
    return ranked.sort_values(["_value", "_units"], ascending=False, kind="stable").head(n)


def history_rows(frame: pd.DataFrame, run_id: str, checked_at: datetime) -> pd.DataFrame:
    """One row per discrepancy (status not match/explained) of this run, stamped for a history table."""
    rows = frame[~frame["status"].isin(NOT_DRIFT)].copy()
    rows["run_id"] = run_id
    rows["checked_at"] = pd.Timestamp(checked_at)
    return rows.reset_index(drop=True)


# analyst queries: run against drift.stock_history ----------------------------------------------

WHICH_STORES_DRIFT_MOST = """
SELECT location_key, count(DISTINCT sku) AS skus_off, count(DISTINCT run_id) AS runs_with_drift,
       CAST(sum(abs(difference)) AS BIGINT) AS abs_units
FROM drift.stock_history
GROUP BY location_key
ORDER BY abs_units DESC, skus_off DESC, location_key
"""

def run_row(frame: pd.DataFrame, run_id: str, checked_at: datetime) -> pd.DataFrame:
    """One row for drift.stock_runs: every reconciliation run, clean ones included, so the history's
    gaps can be told apart from runs that were never made."""
    counts = frame["status"].value_counts()
    above = int(frame["above_threshold"].sum()) if "above_threshold" in frame else 0
    return pd.DataFrame([{
        "run_id": run_id, "checked_at": pd.Timestamp(checked_at), "rows": len(frame),
        "match": int(counts.get("match", 0)), "explained": int(counts.get("explained", 0)),
        "drift": int(counts.get("drift", 0)), "above_threshold": above,
    }])


# Runs are numbered in time order from drift.stock_runs (clean runs too); a SKU is "off now" when
# the latest run has it in the history, and its island of consecutive runs ending there says since when.
SINCE_WHEN_SKU_OFF = """
WITH runs AS (
    SELECT run_id, checked_at, row_number() OVER (ORDER BY checked_at, run_id) AS n FROM drift.stock_runs
), islands AS (
    SELECT h.sku, h.location_key, h.difference, r.n, r.checked_at,
           r.n - row_number() OVER (PARTITION BY h.sku, h.location_key ORDER BY r.n) AS island
    FROM drift.stock_history AS h JOIN runs AS r USING (run_id)
)
SELECT sku, location_key, min(checked_at) AS off_since, count(*) AS runs_off,
       arg_max(difference, n) AS current_difference
FROM islands
GROUP BY sku, location_key, island
HAVING max(n) = (SELECT max(n) FROM runs)
ORDER BY off_since, location_key, sku
"""

# The state at each day's last run: a day that ended clean shows 0.
DRIFT_PER_DAY = """
WITH last_runs AS (
    SELECT CAST(checked_at AS DATE) AS day, arg_max(run_id, checked_at) AS run_id, count(*) AS runs
    FROM drift.stock_runs GROUP BY day
)
SELECT l.day, l.runs, count(h.sku) AS discrepancies, CAST(coalesce(sum(abs(h.difference)), 0) AS BIGINT) AS abs_units
FROM last_runs AS l LEFT JOIN drift.stock_history AS h USING (run_id)
GROUP BY l.day, l.runs
ORDER BY l.day
"""

# The value of the latest run's drift, per currency: minor units of different currencies are never
# added together (a store of unknown currency has its own NULL row, its discrepancies all unpriced);
# value_minor is what the priced discrepancies add up to, `unpriced` counts the others.
DRIFT_VALUE_PER_CURRENCY = """
SELECT currency, count(*) AS discrepancies, count(*) FILTER (above_threshold) AS above_threshold,
       CAST(sum(abs(difference)) AS BIGINT) AS abs_units, CAST(sum(value_minor) AS BIGINT) AS value_minor,
       count(*) - count(value_minor) AS unpriced
FROM drift.stock_history
WHERE run_id = (SELECT arg_max(run_id, checked_at) FROM drift.stock_runs)
GROUP BY currency
ORDER BY currency NULLS LAST
"""


# views analysts query by name (created beside the history tables)
ANALYST_VIEWS = {"stores_drifting_most": WHICH_STORES_DRIFT_MOST, "skus_off_since": SINCE_WHEN_SKU_OFF,
                 "drift_per_day": DRIFT_PER_DAY}


def run_query(sql: str, *, stock_history: pd.DataFrame | None = None, orders_history: pd.DataFrame | None = None,
              stock_runs: pd.DataFrame | None = None, params: Mapping | None = None) -> pd.DataFrame:
    """Run an analyst query against history frames (as drift.stock_history / drift.orders_history /
    drift.stock_runs; without `stock_runs`, the runs are those the history names)."""
    if stock_runs is None and stock_history is not None:
        stock_runs = stock_history.groupby("run_id", as_index=False)["checked_at"].min()
    con = duckdb.connect()
    try:
        con.execute("CREATE SCHEMA drift")
        for table, frame in (("stock_history", stock_history), ("orders_history", orders_history),
                             ("stock_runs", stock_runs)):
            if frame is not None:
                con.register("_frame", frame)
                con.execute(f"CREATE TABLE drift.{table} AS SELECT * FROM _frame")
                con.unregister("_frame")
        return con.execute(sql, dict(params or {})).df()
    finally:
        con.close()


def drift_chart(history: pd.DataFrame, width: int = 30, runs: pd.DataFrame | None = None) -> str:
    """Markdown: drift per day (DRIFT_PER_DAY) as unicode bars of absolute units off."""
    if history.empty:
        return "no drift recorded"
    days = run_query(DRIFT_PER_DAY, stock_history=history, stock_runs=runs)
    peak = max(int(days["abs_units"].max()), 1)
    lines = ["| day | discrepancies | units off | |", "| --- | ---: | ---: | --- |"]
    for row in days.itertuples():
        bar = "█" * max(1, round(width * int(row.abs_units) / peak)) if row.abs_units else ""
        lines.append(f"| {row.day:%Y-%m-%d} | {row.discrepancies} | {int(row.abs_units)} | {bar} |")
    return "\n".join(lines)


# auto-correction ---------------------------------------------------------------------------------

def corrections(
    stock: pd.DataFrame, policy_by_location: Mapping[str, Policy], *, run_id: str | None = None
) -> pd.DataFrame:
    """Plan rows (stock_plan.PLAN_COLUMNS) aligning commercetools to the POS where the policy says so.
    Locations not in `policy_by_location` are `report_only`.

    The correction takes commercetools to the last POS count already synced (the baseline), not to
    the POS count itself: the POS units still in flight reach commercetools through the stock push,
    which moves it by POS count - baseline. Correcting by the whole difference would count them twice.
    """
    rows = stock[(stock["status"] == "drift") & stock["pos_on_hand"].notna()]
    if "above_threshold" in rows:
        rows = rows[rows["above_threshold"]]
    rows = rows[rows["location_key"].isin([loc for loc, p in policy_by_location.items() if p == "correct_to_pos"])]
    plan = pd.DataFrame({
        "idempotency_key": [
            idempotency_key(pos, f"{sku}@{loc}", run_id or pd.Timestamp(at).isoformat(), CORRECTION_FLOW)
            for pos, sku, loc, at in zip(rows["pos_system"], rows["sku"], rows["location_key"], rows["checked_at"],
                                         strict=True)
        ],
        "source_system": rows["pos_system"].astype(object),
        "sku": rows["sku"].astype(object),
        "location_key": rows["location_key"].astype(object),
        "pos_level": rows["pos_on_hand"].astype("int64"),
        "pos_version": pd.Series(pd.NA, index=rows.index, dtype="Int64"),
        "baseline_level": pd.Series(pd.NA, index=rows.index, dtype="Int64"),
        "expected_delta": (-(rows["difference"] + rows["in_flight_units"])).astype("int64"),
        "kind": "correction",
    }, columns=PLAN_COLUMNS)
    return plan.reset_index(drop=True)
