"""Validate the commercetools catalog and prices before anything is written to the POS.

One small function per rule, each returning `Rejection`s (system `commercetools`, entity `catalog`,
record_ref = the SKU). A SKU with any rejection is left out of the plan; every other SKU proceeds.
Rules that scan the whole snapshot run as SQL in DuckDB; the barcode check digit is Python.
Several findings for one (SKU, field) are merged into one rejection, because the rejected-records
table keeps one open row per (flow, system, record_ref, field).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pandas as pd

from omnisync_pipelines.canonical.models import Rejection

SOURCE = "commercetools"
BARCODE_LENGTHS = {8: "EAN-8", 12: "UPC-A", 13: "EAN-13"}


@dataclass(frozen=True)
class CatalogLocation:
    """A store as the catalog flow sees it: the currency of its outlet, and whether it sells the catalog."""

    key: str
    currency: str
    country: str | None = None
    sells_catalog: bool = True


def locations_from_frame(frame: pd.DataFrame) -> list[CatalogLocation]:
    """From a `<pos>.locations` snapshot (canonical Location columns): mapped, active outlets with a currency."""
    rows = frame[frame["location_key"].notna() & frame["active"].astype(bool) & frame["currency"].notna()]
    return [CatalogLocation(r.location_key, r.currency, r.country or None) for r in rows.itertuples()]


def catalog_relation(system: str) -> str:
    """The `<system>.catalog` snapshot with its text columns typed (an all-NULL column loads as type NULL)."""
    return (
        "(SELECT sku::VARCHAR AS sku, product_key::VARCHAR AS product_key, name::VARCHAR AS name,"
        " system_id::VARCHAR AS system_id, attributes::VARCHAR AS attributes, barcode::VARCHAR AS barcode,"
        " tax_category::VARCHAR AS tax_category, active::BOOLEAN AS active"
        f" FROM {_ident(system)}.catalog)"
    )


def prices_relation(system: str) -> str:
    return (
        "(SELECT sku::VARCHAR AS sku, currency::VARCHAR AS currency, amount::BIGINT AS amount,"
        " system_id::VARCHAR AS system_id, country::VARCHAR AS country, location_key::VARCHAR AS location_key,"
        " customer_group::VARCHAR AS customer_group, valid_from::TIMESTAMPTZ AS valid_from,"
        " valid_until::TIMESTAMPTZ AS valid_until"
        f" FROM {_ident(system)}.prices)"
    )


def locations_frame(locations: Sequence[CatalogLocation]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "location_key": pd.Series([loc.key for loc in locations], dtype=object),
            "currency": pd.Series([loc.currency for loc in locations], dtype=object),
            "country": pd.Series([loc.country for loc in locations], dtype=object),
            "sells_catalog": pd.Series([loc.sells_catalog for loc in locations], dtype=bool),
        }
    )


def barcode_problem(barcode: str) -> str | None:
    """Why `barcode` is not a valid EAN-13 / UPC-A / EAN-8, or None when it is."""
    code = barcode.strip()
    if not code.isdigit() or len(code) not in BARCODE_LENGTHS:
        return f"barcode {barcode!r} is not 8, 12 or 13 digits (EAN-8, UPC-A, EAN-13)"
    body, check = code[:-1], int(code[-1])
    # GS1: weights 3,1,3,... from the digit next to the check digit leftwards
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    expected = (10 - total % 10) % 10
    if check != expected:
        kind = BARCODE_LENGTHS[len(code)]
        return f"barcode {code} is not a valid {kind}: check digit is {check}, expected {expected}"
    return None


def validate_catalog(
    con: duckdb.DuckDBPyConnection, locations: Sequence[CatalogLocation], *, as_of: datetime | None = None
) -> tuple[list[str], list[Rejection]]:
    """(valid SKUs, rejections) for `commercetools.catalog` and `commercetools.prices`.

    `as_of` (default now) decides which prices are in force for the missing-price rule.
    """
    as_of = as_of or datetime.now(UTC)
    catalog = catalog_relation(SOURCE)
    found: list[Rejection] = []
    found += missing_sku(con, catalog)
    found += duplicate_sku(con, catalog)
    found += duplicate_barcode(con, catalog)
    found += invalid_barcode(con, catalog)
    prices = prices_relation(SOURCE)
    found += negative_price(con, prices)
    found += conflicting_prices(con, prices)
    found += missing_price(con, catalog, prices, locations, as_of)
    rejections = merge_rejections(found)
    rejected = {r.record_ref for r in rejections}
    skus = con.execute(f"SELECT DISTINCT sku FROM {catalog} WHERE trim(coalesce(sku, '')) <> '' ORDER BY sku").fetchall()
    return [s for (s,) in skus if s not in rejected], rejections


# rules ---------------------------------------------------------------------------------------
def missing_sku(con, catalog: str) -> list[Rejection]:
    rows = con.execute(
        f"SELECT system_id, product_key, name FROM {catalog} WHERE trim(coalesce(sku, '')) = '' ORDER BY system_id"
    ).fetchall()
    return [
        _reject(
            f"(no sku) {system_id}", "sku",
            f"variant {system_id} of product {product_key or '?'} ({name!r}) has no SKU, so it cannot be matched at the POS",
            {"system_id": system_id, "product_key": product_key, "name": name},
        )
        for system_id, product_key, name in rows
    ]


def duplicate_sku(con, catalog: str) -> list[Rejection]:
    rows = con.execute(
        f"""SELECT sku, count(*) AS n, list(coalesce(product_key, system_id) ORDER BY product_key, system_id)
            FROM {catalog} WHERE trim(coalesce(sku, '')) <> '' GROUP BY sku HAVING count(*) > 1 ORDER BY sku"""
    ).fetchall()
    return [
        _reject(sku, "sku", f"SKU {sku} appears on {n} variants (products {', '.join(products)}); it must be unique",
                {"sku": sku, "products": products})
        for sku, n, products in rows
    ]


def duplicate_barcode(con, catalog: str) -> list[Rejection]:
    rows = con.execute(
        f"""WITH coded AS (SELECT DISTINCT sku, trim(barcode) AS barcode FROM {catalog}
                           WHERE trim(coalesce(sku, '')) <> '' AND trim(coalesce(barcode, '')) <> '')
            SELECT barcode, list(sku ORDER BY sku) FROM coded GROUP BY barcode HAVING count(*) > 1 ORDER BY barcode"""
    ).fetchall()
    return [
        _reject(sku, "barcode",
                f"barcode {barcode} of SKU {sku} is also used by SKU {', '.join(s for s in skus if s != sku)}",
                {"sku": sku, "barcode": barcode, "skus": skus})
        for barcode, skus in rows
        for sku in skus
    ]


def invalid_barcode(con, catalog: str) -> list[Rejection]:
    rows = con.execute(
        f"""SELECT DISTINCT sku, barcode FROM {catalog}
            WHERE trim(coalesce(sku, '')) <> '' AND trim(coalesce(barcode, '')) <> '' ORDER BY sku"""
    ).fetchall()
    return [
        _reject(sku, "barcode", f"SKU {sku}: {problem}", {"sku": sku, "barcode": barcode})
        for sku, barcode in rows
        if (problem := barcode_problem(barcode))
    ]


def negative_price(con, prices: str) -> list[Rejection]:
    rows = con.execute(f"SELECT * FROM {prices} WHERE amount < 0 ORDER BY sku, system_id").df()
    return [
        _reject(r["sku"], "prices", f"SKU {r['sku']} has a negative price {r['amount']} {_scope(r)}", r)
        for r in _records(rows)
    ]


def conflicting_prices(con, prices: str) -> list[Rejection]:
    """Two different amounts for the same scope whose validity periods overlap."""
    rows = con.execute(
        f"""SELECT a.sku, a.currency, a.country, a.location_key, a.customer_group,
                   a.amount AS amount_a, b.amount AS amount_b, a.system_id AS id_a, b.system_id AS id_b
            FROM {prices} AS a JOIN {prices} AS b
              ON a.sku = b.sku AND a.currency = b.currency
             AND a.country IS NOT DISTINCT FROM b.country
             AND a.location_key IS NOT DISTINCT FROM b.location_key
             AND a.customer_group IS NOT DISTINCT FROM b.customer_group
             AND a.system_id < b.system_id AND a.amount <> b.amount
             AND coalesce(a.valid_from, '-infinity'::TIMESTAMPTZ) < coalesce(b.valid_until, 'infinity'::TIMESTAMPTZ)
             AND coalesce(b.valid_from, '-infinity'::TIMESTAMPTZ) < coalesce(a.valid_until, 'infinity'::TIMESTAMPTZ)
            ORDER BY a.sku, a.system_id, b.system_id"""
    ).df()
    return [
        _reject(
            r["sku"], "prices",
            f"SKU {r['sku']} has two prices {_scope(r)} with overlapping validity: "
            f"{min(r['amount_a'], r['amount_b'])} and {max(r['amount_a'], r['amount_b'])}",
            r,
        )
        for r in _records(rows)
    ]


def missing_price(con, catalog: str, prices: str, locations: Sequence[CatalogLocation], as_of: datetime) -> list[Rejection]:
    """An active variant needs a price in force, in the outlet's currency, at every location that sells it."""
    con.register("_catalog_locations", locations_frame(locations))
    try:
        rows = con.execute(
            f"""SELECT DISTINCT c.sku, l.location_key, l.currency
                FROM {catalog} AS c CROSS JOIN _catalog_locations AS l
                WHERE l.sells_catalog AND c.active AND trim(coalesce(c.sku, '')) <> ''
                  AND NOT EXISTS (
                    SELECT 1 FROM {prices} AS p
                    WHERE p.sku = c.sku AND p.currency = l.currency AND p.customer_group IS NULL
                      AND (p.location_key IS NULL OR p.location_key = l.location_key)
                      AND (p.country IS NULL OR p.country = l.country)
                      AND (p.valid_from IS NULL OR p.valid_from <= ?)
                      AND (p.valid_until IS NULL OR p.valid_until > ?))
                ORDER BY c.sku, l.location_key""",
            [as_of, as_of],
        ).fetchall()
    finally:
        con.unregister("_catalog_locations")
    return [
        _reject(sku, "prices", f"SKU {sku} has no price in {currency} for location {location} (sold there)",
                {"sku": sku, "location_key": location, "currency": currency})
        for sku, location, currency in rows
    ]


# helpers -------------------------------------------------------------------------------------
def merge_rejections(rejections: list[Rejection]) -> list[Rejection]:
    merged: dict[tuple[str, str], list[Rejection]] = {}
    for r in rejections:
        merged.setdefault((r.record_ref, r.field), []).append(r)
    out = []
    for (ref, field), group in sorted(merged.items()):
        if len(group) == 1:
            out.append(group[0])
            continue
        reasons = list(dict.fromkeys(r.reason for r in group))
        payload = json.dumps([json.loads(r.payload) for r in group], sort_keys=True)
        out.append(Rejection(SOURCE, "catalog", ref, field, "; ".join(reasons), payload))
    return out


def _reject(ref: str, field: str, reason: str, payload: dict) -> Rejection:
    return Rejection(SOURCE, "catalog", ref, field, reason, json.dumps(payload, sort_keys=True, default=str))


def _scope(row: dict) -> str:
    parts = [f"for {row['currency']}"]
    if row.get("location_key"):
        parts.append(f"at {row['location_key']}")
    if row.get("country"):
        parts.append(f"in {row['country']}")
    if row.get("customer_group"):
        parts.append(f"for customer group {row['customer_group']}")
    return " ".join(parts)


def _records(frame: pd.DataFrame) -> list[dict]:
    frame = frame.astype(object).where(frame.notna(), None)
    return [{k: (int(v) if k.startswith("amount") and v is not None else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def _ident(system: str) -> str:
    if not system.isidentifier():
        raise ValueError(f"not a system id: {system!r}")
    return system
