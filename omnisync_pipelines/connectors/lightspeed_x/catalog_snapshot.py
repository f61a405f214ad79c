"""What the run's own X-Series snapshots already say about the products a catalog plan updates, so
the catalog target need not look them up again.

The plan row carries the product id (`pos_system_id`); the catalog snapshot row with that id gives
the family's handle and the tax; the prices snapshot gives the retail price (`<product id>:<currency>`,
tax inclusive) and whether any price book holds an entry for the product (`price_book:<entry id>`).
Both snapshots were read by this run, from the same feeds a lookup would read. A product the
snapshots do not describe fully is left out: the target searches for it as before.
"""

from __future__ import annotations

import pandas as pd

from omnisync_pipelines.connectors.lightspeed_x.mapping import major_units

ENTRY_PREFIX = "price_book:"  # system id of a price book entry's price (mapping._price_book_price)


def products_from_snapshot(plan: pd.DataFrame, catalog: pd.DataFrame | None,
                           prices: pd.DataFrame | None) -> dict[str, dict]:
    """SKU -> the product as the target keeps it (`id`, `sku`, `handle`, `tax_id`, `price_including_tax`)
    plus `has_entries`, for each planned SKU with a product id that the catalog snapshot holds."""
    if catalog is None or not len(catalog) or not len(plan):
        return {}
    ids = {row.sku: row.pos_system_id for row in plan.itertuples(index=False) if isinstance(row.pos_system_id, str)}
    rows = catalog[catalog["system_id"].isin(set(ids.values())) & catalog["sku"].isin(set(ids))]
    price_rows = prices[prices["sku"].isin(set(ids))] if prices is not None and len(prices) else None
    known = {}
    for row in rows.itertuples(index=False):
        if ids[row.sku] != row.system_id:
            continue
        known[row.sku] = {"id": row.system_id, "sku": row.sku, "handle": _text(row.product_key),
                          "tax_id": _text(row.tax_category), **_price_state(row.system_id, row.sku, price_rows)}
    return known


def _price_state(product_id: str, sku: str, prices: pd.DataFrame | None) -> dict:
    if prices is None:
        return {"price_including_tax": None, "has_entries": False}
    own = prices[prices["sku"] == sku]
    retail = own[own["system_id"].str.startswith(f"{product_id}:")]
    price = None
    if len(retail):
        first = retail.iloc[0]
        price = float(major_units(int(first["amount"]), first["currency"]))
    return {"price_including_tax": price, "has_entries": bool(own["system_id"].str.startswith(ENTRY_PREFIX).any())}


def _text(value) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
