"""Return reconciliation: every POS return against what the returns flow should have left on the
original commercetools order (see `engine/returns.py`):

  recorded   a returnInfo whose `returnTrackingId` is `tracking_id(return)` ("POS-RETURN-<id>");
  restocked  the units the POS put back on the shelf (`restock` lines) are `BackInStock` items of
             that returnInfo (the canonical commercetools ReturnLine only knows "not Unusable",
             so the items come from `return_items_from_orders` over raw orders);
  refunded   successful Refund transactions with interactionId = the POS return id (canonical
             commercetools `order_payments`: negative amounts, `reference` = interactionId) add up
             to the POS refund total.

`reconciliation.returns` (RETURNS_COLUMNS), one row per POS return:
    pos_system, return_id, original_order_ref, location_key, currency
    commercetools_order_id, commercetools_order_number   of the order holding the returnInfo
    pos_refund_total, commercetools_refund_total, refund_difference (commercetools minus POS)
    pos_restock_units, commercetools_back_in_stock_units
    recorded, restock_reflected, refund_reflected         bools
    problems        comma-separated: not_recorded, restock_not_reflected, refund_missing, refund_mismatch
    status          match | missing_in_commercetools | restock_not_reflected | refund_missing |
                    refund_mismatch (the first problem) | explained (not match, return in flight)
    checked_at
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from types import SimpleNamespace

import duckdb
import pandas as pd

from omnisync_pipelines.engine.return_actions import tracking_id

RETURNS_COLUMNS = [
    "pos_system", "return_id", "original_order_ref", "location_key", "currency", "commercetools_order_id",
    "commercetools_order_number", "pos_refund_total", "commercetools_refund_total", "refund_difference",
    "pos_restock_units", "commercetools_back_in_stock_units", "recorded", "restock_reflected",
    "refund_reflected", "problems", "status", "checked_at",
]
RETURN_ITEM_COLUMNS = [
    "order_id", "order_number", "return_tracking_id", "item_id", "line_item_id", "sku", "quantity",
    "shipment_state", "payment_state",
]


def return_items_from_orders(raw_orders: Iterable[dict]) -> pd.DataFrame:
    """RETURN_ITEM_COLUMNS: one row per return item of raw commercetools orders."""
    rows = []
    for order in raw_orders:
        skus = {li.get("id"): (li.get("variant") or {}).get("sku") for li in order.get("lineItems") or []}
        for info in order.get("returnInfo") or []:
            for item in info.get("items") or []:
                rows.append({
                    "order_id": order.get("id"), "order_number": order.get("orderNumber"),
                    "return_tracking_id": info.get("returnTrackingId"), "item_id": item.get("id"),
                    "line_item_id": item.get("lineItemId"), "sku": skus.get(item.get("lineItemId")),
                    "quantity": int(item.get("quantity") or 0), "shipment_state": item.get("shipmentState"),
                    "payment_state": item.get("paymentState"),
                })
    frame = pd.DataFrame(rows, columns=RETURN_ITEM_COLUMNS)
    frame["quantity"] = frame["quantity"].astype("int64")
    return frame


def reconcile_returns(
    pos_returns: pd.DataFrame,
    pos_return_lines: pd.DataFrame,
    ct_return_items: pd.DataFrame,
    ct_payments: pd.DataFrame,
    *,
    pos_system: str,
    in_flight: Iterable[str] = (),
    since: datetime | None = None,
    checked_at: datetime | None = None,
) -> pd.DataFrame:
    """POS frames: canonical `returns` / `return_lines`; `ct_return_items`: RETURN_ITEM_COLUMNS;
    `ct_payments`: canonical commercetools `order_payments`. `in_flight`: POS return ids whose
    ledger key is `retrying`."""
    rets = pos_returns[["return_id", "currency", "refund_total", "created_at", "original_order_ref", "location_key"]].copy()
    rets["tracking"] = [tracking_id(SimpleNamespace(return_id=r)) for r in rets["return_id"]]
    rets["created_at"] = pd.to_datetime(rets["created_at"], utc=True)
    rets["refund_total"] = rets["refund_total"].astype("int64")
    lines = pos_return_lines[["return_id", "quantity", "restock"]].astype({"quantity": "int64", "restock": bool})
    items = ct_return_items[RETURN_ITEM_COLUMNS].astype({"quantity": "int64"})
    refunds = ct_payments.loc[ct_payments["amount"] < 0, ["reference", "amount"]].astype({"amount": "int64"})
    con = duckdb.connect()
    try:
        for name, frame in (("rets", rets), ("lines", lines), ("items", items), ("refunds", refunds)):
            con.register(name, frame)
        con.register("flight", pd.DataFrame({"return_id": pd.Series(sorted(set(in_flight)), dtype=object)}))
        since_ts = since.astimezone(UTC) if since else None
        out = con.execute(_SQL, {"since": since_ts}).df()
    finally:
        con.close()
    out["pos_system"] = pos_system
    out["checked_at"] = pd.Timestamp(checked_at or datetime.now(UTC))
    for column in ("pos_refund_total", "commercetools_refund_total", "refund_difference", "pos_restock_units",
                   "commercetools_back_in_stock_units"):
        out[column] = out[column].astype("Int64")
    for column in ("recorded", "restock_reflected", "refund_reflected"):
        out[column] = out[column].astype(bool)
    return out[RETURNS_COLUMNS]


_SQL = """
WITH r AS (SELECT * FROM rets WHERE $since IS NULL OR created_at >= $since
), pos_units AS (
    SELECT return_id, sum(CASE WHEN restock THEN quantity ELSE 0 END) AS units FROM lines GROUP BY return_id
), ct AS (
    SELECT return_tracking_id, any_value(order_id) AS order_id, any_value(order_number) AS order_number,
           sum(CASE WHEN shipment_state = 'BackInStock' THEN quantity ELSE 0 END) AS back_in_stock
    FROM items GROUP BY return_tracking_id
), refunded AS (SELECT reference, -sum(amount) AS amount FROM refunds GROUP BY reference
), joined AS (
    SELECT r.return_id, r.original_order_ref, r.location_key, r.currency,
           ct.order_id AS commercetools_order_id, ct.order_number AS commercetools_order_number,
           r.refund_total AS pos_refund_total, coalesce(refunded.amount, 0) AS commercetools_refund_total,
           coalesce(refunded.amount, 0) - r.refund_total AS refund_difference,
           coalesce(pos_units.units, 0) AS pos_restock_units,
           coalesce(ct.back_in_stock, 0) AS commercetools_back_in_stock_units,
           ct.return_tracking_id IS NOT NULL AS recorded,
           r.return_id IN (SELECT return_id FROM flight) AS in_flight
    FROM r LEFT JOIN ct ON ct.return_tracking_id = r.tracking
    LEFT JOIN pos_units ON pos_units.return_id = r.return_id
    LEFT JOIN refunded ON refunded.reference = r.return_id
), judged AS (
    SELECT *,
           recorded AND commercetools_back_in_stock_units = pos_restock_units AS restock_reflected,
           refund_difference = 0 AS refund_reflected,
           concat_ws(',',
               CASE WHEN NOT recorded THEN 'not_recorded' END,
               CASE WHEN commercetools_back_in_stock_units <> pos_restock_units THEN 'restock_not_reflected' END,
               CASE WHEN refund_difference <> 0 AND commercetools_refund_total = 0 THEN 'refund_missing' END,
               CASE WHEN refund_difference <> 0 AND commercetools_refund_total <> 0 THEN 'refund_mismatch' END
           ) AS problems
    FROM joined
)
SELECT *,
       CASE WHEN problems = '' THEN 'match'
            WHEN in_flight THEN 'explained'
            WHEN NOT recorded THEN 'missing_in_commercetools'
            ELSE split_part(problems, ',', 1) END AS status
FROM judged
ORDER BY location_key, return_id
"""
