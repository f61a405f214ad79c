"""Plan the catalog flow: commercetools (owner of catalog and prices) -> the POS.

Validate first (`catalog_validate`), then resolve the price in force per (SKU, location, price
book) for both systems, then diff each valid SKU against the POS snapshot. The plan holds one row
per SKU that needs a write, carrying the whole desired state (item and prices per location), so a
write is an absolute, repeatable upsert:

    idempotency_key  catalog_commercetools_to_<pos>|commercetools|<sku>|<hash of desired state>
    source_system    "commercetools"
    sku
    action           "create" (the POS lacks the SKU and it is active) | "update"
    changes          list of changed fields, in FIELD order, then "prices"
                     (a create lists every field)
    desired          JSON: {sku, product_key, name, barcode, attributes (object), tax_category, active}
    prices           JSON: {location_key: {currency, amount, price_books: {customer_group: amount}}}
                     for each location that sells the catalog; amount is the base (no customer
                     group) price, null when only group prices apply (inactive items only)
    pos_system_id    the POS's id of the item, null for a create
    desired_hash

Prices are a JSON column per SKU rather than rows of their own, because the POS takes an item's
prices together; `resolve_prices` gives the same prices as rows (price_book = customer group) for
analysts and checks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import duckdb
import pandas as pd

from omnisync_pipelines.canonical.keys import idempotency_key, short_hash
from omnisync_pipelines.canonical.models import Rejection
from omnisync_pipelines.engine.catalog_validate import (
    SOURCE,
    CatalogLocation,
    catalog_relation,
    locations_frame,
    prices_relation,
    validate_catalog,
)

PLAN_COLUMNS = [
    "idempotency_key", "source_system", "sku", "action", "changes", "desired", "prices", "pos_system_id", "desired_hash",
]
PRICE_COLUMNS = ["sku", "location_key", "currency", "price_book", "amount", "scope"]
BARCODE_ATTRIBUTES = frozenset({"gtin", "ean", "barcode", "upc"})  # carried as the barcode, not as an attribute


def catalog_flow(pos_system: str) -> str:
    return f"catalog_{SOURCE}_to_{pos_system}"


# field comparison: one normaliser per field; a field changed when the normal forms differ ------
def _text(value) -> str | None:
    return (str(value).strip() or None) if value is not None else None


def _barcode(value) -> str | None:
    code = _text(value)
    return code.zfill(14) if code and code.isdigit() else code  # UPC-A 0123... equals EAN-13 00123...


def _attributes(value) -> object:
    if value is None or value == "":
        return {}
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _flag(value) -> bool:
    return True if value is None else bool(value)


FIELDS: dict[str, Callable[[object], object]] = {
    "name": _text, "barcode": _barcode, "attributes": _attributes, "active": _flag, "tax_category": _text,
}


def _same_name(current, desired) -> bool:
    """A POS that shows a variant as "<product> / <option> / ..." (X-Series) holds the product name."""
    have, want = _text(current), _text(desired)
    return have == want or (have is not None and want is not None and have.startswith(f"{want} / "))


def changed_fields(current: dict | None, desired: dict) -> list[str]:
    if current is None:
        return list(FIELDS)
    changed = []
    for field, normal in FIELDS.items():
        if field == "name":
            same = _same_name(current.get(field), desired.get(field))
        elif field == "tax_category" and desired.get(field) is None:
            same = True  # no tax class named: the POS's default tax applies, whatever it is
        elif field == "attributes" and isinstance(have := normal(current.get(field)), list):
            # a POS that keeps a variant's values without their names (R-Series): the values in name order
            want = normal(desired.get(field))
            same = have == ([str(v) for _, v in sorted(want.items()) if v not in (None, "")]
                            if isinstance(want, dict) else want)
        else:
            same = normal(current.get(field)) == normal(desired.get(field))
        if not same:
            changed.append(field)
    return changed


# prices --------------------------------------------------------------------------------------
def resolve_prices(
    con: duckdb.DuckDBPyConnection, system: str, locations: Sequence[CatalogLocation], *, as_of: datetime | None = None
) -> pd.DataFrame:
    """The price in force per (sku, location, price book) in `<system>.prices`, most specific first:
    channel and country > channel (location_key = the store) > country > currency only.
    Among prices of one scope, the latest valid_from wins. price_book is the customer group (null: base)."""
    as_of = as_of or datetime.now(UTC)
    con.register("_catalog_locations", locations_frame(locations))
    try:
        return con.execute(
            f"""WITH candidates AS (
                  SELECT p.sku, l.location_key, l.currency, p.customer_group AS price_book, p.amount, p.system_id,
                         p.valid_from,
                         CASE WHEN p.location_key IS NOT NULL AND p.country IS NOT NULL THEN 0
                              WHEN p.location_key IS NOT NULL THEN 1
                              WHEN p.country IS NOT NULL THEN 2 ELSE 3 END AS specificity
                  FROM {prices_relation(system)} AS p JOIN _catalog_locations AS l
                    ON p.currency = l.currency
                   AND (p.location_key IS NULL OR p.location_key = l.location_key)
                   AND (p.country IS NULL OR p.country = l.country)
                  WHERE l.sells_catalog AND trim(coalesce(p.sku, '')) <> ''
                    AND (p.valid_from IS NULL OR p.valid_from <= ?)
                    AND (p.valid_until IS NULL OR p.valid_until > ?))
                SELECT sku, location_key, currency, price_book, amount,
                       ['channel', 'channel', 'country', 'base'][specificity + 1] AS scope
                FROM candidates
                QUALIFY row_number() OVER (
                  PARTITION BY sku, location_key, price_book
                  ORDER BY specificity, valid_from DESC NULLS LAST, system_id) = 1
                ORDER BY sku, location_key, price_book NULLS FIRST""",
            [as_of, as_of],
        ).df()[PRICE_COLUMNS]
    finally:
        con.unregister("_catalog_locations")


def prices_by_sku(resolved: pd.DataFrame, groups: Mapping[str, str] | None = None) -> dict[str, dict]:
    """{sku: {location_key: {"currency", "amount", "price_books": {group: amount}}}} (the set_prices shape).

    `groups` (customer group -> the POS's price book group) translates group prices into POS terms;
    prices of a group it does not list are left out (they stay online). None keeps the groups as they are."""
    out: dict[str, dict] = {}
    for r in resolved.itertuples(index=False):
        slot = out.setdefault(r.sku, {}).setdefault(
            r.location_key, {"currency": r.currency, "amount": None, "price_books": {}}
        )
        if r.price_book is None or pd.isna(r.price_book):
            slot["amount"] = int(r.amount)
        elif groups is None:
            slot["price_books"][r.price_book] = int(r.amount)
        elif r.price_book in groups:
            slot["price_books"][groups[r.price_book]] = int(r.amount)
    return out


# plan ----------------------------------------------------------------------------------------
def plan_catalog(
    con: duckdb.DuckDBPyConnection,
    pos_system: str,
    locations: Sequence[CatalogLocation],
    *,
    as_of: datetime | None = None,
    tax_classes: Mapping[str, str] | None = None,
    customer_groups: Mapping[str, str] | None = None,
    variant_attributes: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, list[Rejection]]:
    """Return (plan rows, rejections). Reads `commercetools.catalog|prices` and `<pos>.catalog|prices`.

    `tax_classes` (tax category -> POS tax id) and `customer_groups` (customer group -> POS group)
    put the desired state in the POS's terms before the diff; None compares them as they are. With
    `tax_classes` given, an item whose tax category it does not list is rejected (field tax_category).
    `variant_attributes` are the attributes the POS keeps (None: all but barcode/GTIN attributes)."""
    as_of = as_of or datetime.now(UTC)
    flow = catalog_flow(pos_system)
    valid, rejections = validate_catalog(con, locations, as_of=as_of)
    if tax_classes is not None:
        unmapped = unmapped_tax_classes(con, valid, tax_classes)
        rejections = sorted([*rejections, *unmapped], key=lambda r: (r.record_ref, r.field))
        valid = [sku for sku in valid if sku not in {r.record_ref for r in unmapped}]
    con.register("_valid_skus", pd.DataFrame({"sku": pd.Series(valid, dtype=object)}))
    try:
        pairs = con.execute(
            f"""WITH pos AS (SELECT * FROM {catalog_relation(pos_system)}
                             QUALIFY row_number() OVER (PARTITION BY sku ORDER BY system_id) = 1)
                SELECT c.sku, c.product_key, c.name, c.barcode, c.attributes, c.tax_category, c.active,
                       p.sku IS NOT NULL AS at_pos, p.system_id AS pos_system_id, p.name AS pos_name,
                       p.barcode AS pos_barcode, p.attributes AS pos_attributes,
                       p.tax_category AS pos_tax_category, p.active AS pos_active
                FROM {catalog_relation(SOURCE)} AS c JOIN _valid_skus USING (sku)
                LEFT JOIN pos AS p ON p.sku = c.sku
                ORDER BY c.sku"""
        ).df()
    finally:
        con.unregister("_valid_skus")
    desired_prices = prices_by_sku(resolve_prices(con, SOURCE, locations, as_of=as_of), customer_groups)
    current_prices = prices_by_sku(resolve_prices(con, pos_system, locations, as_of=as_of))

    rows = []
    for r in pairs.astype(object).where(pairs.notna(), None).to_dict("records"):
        desired = desired_item(r, variant_attributes)
        if tax_classes is not None and desired["tax_category"] is not None:
            desired["tax_category"] = tax_classes[desired["tax_category"]]
        current = {f: r[f"pos_{f}"] for f in FIELDS} if r["at_pos"] else None
        prices = desired_prices.get(r["sku"], {})
        changes = changed_fields(current, desired)
        if current is None or prices != current_prices.get(r["sku"], {}):
            changes.append("prices")
        if not changes or (current is None and not desired["active"]):
            continue  # an item inactive in commercetools is not created at the POS
        state = json.dumps({"item": desired, "prices": prices}, sort_keys=True)
        digest = short_hash(state)
        rows.append({
            "idempotency_key": idempotency_key(SOURCE, r["sku"], digest, flow),
            "source_system": SOURCE,
            "sku": r["sku"],
            "action": "update" if r["at_pos"] else "create",
            "changes": changes,
            "desired": json.dumps(desired, sort_keys=True),
            "prices": json.dumps(prices, sort_keys=True),
            "pos_system_id": r["pos_system_id"],
            "desired_hash": digest,
        })
    return pd.DataFrame(rows, columns=PLAN_COLUMNS), rejections


def unmapped_tax_classes(con, skus: Sequence[str], tax_classes: Mapping[str, str]) -> list[Rejection]:
    con.register("_valid_skus", pd.DataFrame({"sku": pd.Series(list(skus), dtype=object)}))
    try:
        rows = con.execute(
            f"""SELECT DISTINCT sku, trim(tax_category) FROM {catalog_relation(SOURCE)} JOIN _valid_skus USING (sku)
                WHERE trim(coalesce(tax_category, '')) <> '' ORDER BY sku"""
        ).fetchall()
    finally:
        con.unregister("_valid_skus")
    return [
        Rejection(SOURCE, "catalog", sku, "tax_category",
                  f"SKU {sku}: tax category {category!r} has no POS tax class (configuration catalog.tax_classes)",
                  json.dumps({"sku": sku, "tax_category": category}))
        for sku, category in rows if category not in tax_classes
    ]


def pos_attributes(value, variant_attributes: Sequence[str] | None = None) -> object:
    attributes = _attributes(value)
    if not isinstance(attributes, dict):
        return attributes
    if variant_attributes is not None:
        return {k: v for k, v in attributes.items() if k in set(variant_attributes)}
    return {k: v for k, v in attributes.items() if k.lower() not in BARCODE_ATTRIBUTES}


def desired_item(row: dict, variant_attributes: Sequence[str] | None = None) -> dict:
    """The canonical item shape `CatalogTarget.upsert_item` receives (plus `system_id` at push time)."""
    return {
        "sku": row["sku"],
        "product_key": row["product_key"],
        "name": _text(row["name"]),
        "barcode": _text(row["barcode"]),
        "attributes": pos_attributes(row["attributes"], variant_attributes),
        "tax_category": _text(row["tax_category"]),
        "active": _flag(row["active"]),
    }
