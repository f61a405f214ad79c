"""Order reconciliation: every POS store sale against its commercetools order, and the reverse.

A POS sale is paired with the store-channel commercetools order that carries its id as
`custom.fields.posSaleId` (column `pos_sale_id` of the commercetools frame) or, for an order without
one, whose orderNumber is the derived `pos_order_number(location_key, pos number)`.
Online orders are not this table's business. Amounts are integer minor units.
A sale the POS has but omnisync rejected (it could not be mapped, or the push refused it: the
rejected-records table) is listed too, from the `rejected` frame, even when it never reached the
snapshot: its POS side then has only its id.

`reconciliation.orders` (ORDERS_COLUMNS), one row per sale or store order:
    pos_system, pos_order_id, pos_order_number          POS side keys (None when missing_in_pos)
    commercetools_order_id, commercetools_order_number  commercetools side keys (None when missing)
    location_key, currency
    pos_total_gross, commercetools_total_gross          order gross totals
    pos_total_tax, commercetools_total_tax
    pos_payments, commercetools_payments                sum of successful charges (refunds are
                                                        reconciled in reconciliation.returns);
                                                        None when no payments frame was given
    difference          commercetools gross minus POS gross, a missing side counting 0
    tax_difference, payments_difference                 commercetools minus POS (None if unknown)
    in_flight           the sale's ledger key is `retrying`, or it was created after the last push
    status              match | missing_in_commercetools | missing_in_pos | amount_mismatch |
                        rejected (an open rejection of the sale, and no commercetools order for
                        it or no POS side that maps) |
                        explained (missing in commercetools while in flight: the next push
                        imports it). An in-flight amount mismatch stays `amount_mismatch`:
                        imported orders are never rewritten, so no push will fix it.
    reason              why the row is not a match, in words: the rejections' reasons for
                        `rejected`; None for `match`
    checked_at
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import duckdb
import pandas as pd

from omnisync_pipelines.canonical.models import OrderChannel
from omnisync_pipelines.engine.order_drafts import pos_order_number

ORDERS_COLUMNS = [
    "pos_system", "pos_order_id", "pos_order_number", "commercetools_order_id", "commercetools_order_number",
    "location_key", "currency", "pos_total_gross", "commercetools_total_gross", "pos_total_tax",
    "commercetools_total_tax", "pos_payments", "commercetools_payments", "difference", "tax_difference",
    "payments_difference", "in_flight", "status", "reason", "checked_at",
]
_ORDER = ["order_id", "order_number", "channel", "currency", "total_gross", "total_tax", "created_at", "location_key"]
_INT_COLUMNS = [c for c in ORDERS_COLUMNS if c.startswith(("pos_total", "commercetools_total", "pos_pay",
                                                              "commercetools_pay")) or c.endswith("difference")]
_TEXT_COLUMNS = [c for c in ORDERS_COLUMNS if c not in (*_INT_COLUMNS, "in_flight", "checked_at")]


def reconcile_orders(
    pos_orders: pd.DataFrame,
    ct_orders: pd.DataFrame,
    *,
    pos_system: str,
    pos_payments: pd.DataFrame | None = None,
    ct_payments: pd.DataFrame | None = None,
    in_flight: Iterable[str] = (),
    rejected: pd.DataFrame | None = None,
    last_push_at: datetime | None = None,
    since: datetime | None = None,
    checked_at: datetime | None = None,
) -> pd.DataFrame:
    """Frames have the canonical `orders` / `order_payments` columns; `ct_orders` may add
    `pos_sale_id`. `in_flight`: POS order ids whose ledger key is `retrying`. `since` limits both
    sides to orders created at or after it (a POS read rarely covers all of history). `rejected`:
    open rejections of this POS's sales (`record_ref` = the POS order id, `reason`), one or more
    rows per sale; a rejected sale not in `pos_orders` gets a row of its own."""
    pos = _orders(pos_orders)
    pos["expected_number"] = pd.Series([
        pos_order_number(loc, str(num)) if isinstance(loc, str) else None
        for loc, num in zip(pos["location_key"], pos["order_number"], strict=True)
    ], index=pos.index, dtype=object)
    ct = _orders(ct_orders)
    ct["pos_sale_id"] = ct_orders.get("pos_sale_id")
    ct["pos_sale_id"] = ct["pos_sale_id"].astype(object)
    compare_payments = pos_payments is not None and ct_payments is not None
    con = duckdb.connect()
    try:
        con.register("pos", pos)
        con.register("ct", ct)
        con.register("pos_pay", _charges(pos_payments))
        con.register("ct_pay", _charges(ct_payments))
        con.register("flight", pd.DataFrame({"order_id": pd.Series(sorted(set(in_flight)), dtype=object)}))
        con.register("rej", _rejections(rejected))
        frame = con.execute(_SQL, {
            "store": OrderChannel.STORE.value, "since": _ts(since), "last_push": _ts(last_push_at),
            "payments": compare_payments,
        }).df()
    finally:
        con.close()
    frame["pos_system"] = pos_system
    frame["checked_at"] = pd.Timestamp(checked_at or datetime.now(UTC))
    for column in _INT_COLUMNS:
        frame[column] = frame[column].astype("Int64")
    frame["in_flight"] = frame["in_flight"].astype(bool)
    for column in _TEXT_COLUMNS:  # a column of no values comes back typed NULL (<NA>, even Int32): None
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame[ORDERS_COLUMNS]


_SQL = """
WITH r AS (
    SELECT record_ref AS order_id, string_agg(DISTINCT reason, '; ' ORDER BY reason) AS reason
    FROM rej GROUP BY record_ref
), p AS (
    SELECT pos.*, true AS mapped FROM pos WHERE channel = $store AND ($since IS NULL OR created_at >= $since)
    UNION ALL BY NAME  -- a rejected sale the POS read could not map: known by its id only
    SELECT order_id, $store AS channel, false AS mapped FROM r WHERE order_id NOT IN (SELECT order_id FROM pos)
), c AS (
    SELECT * FROM ct WHERE channel = $store AND ($since IS NULL OR created_at >= $since)
), c_keyed AS (
    -- posSaleId when present, else the POS sale whose derived orderNumber this order carries
    SELECT c.*, coalesce(c.pos_sale_id, byno.order_id) AS sale_id
    FROM c LEFT JOIN (
        -- one sale per number, so an order is never paired twice: the only sale deriving it, or
        -- the only one of several that is not rejected (the others were refused for that number)
        SELECT expected_number,
               CASE WHEN count(*) = 1 THEN any_value(order_id)
                    WHEN count(*) FILTER (WHERE clean) = 1 THEN any_value(order_id) FILTER (WHERE clean) END AS order_id
        FROM (SELECT p.order_id, p.expected_number, r.order_id IS NULL AS clean FROM p LEFT JOIN r USING (order_id))
        WHERE expected_number IS NOT NULL GROUP BY expected_number
    ) AS byno ON c.pos_sale_id IS NULL AND c.order_number = byno.expected_number
), pp AS (SELECT order_id, sum(amount) AS paid FROM pos_pay GROUP BY order_id
), cp AS (SELECT order_id, sum(amount) AS paid FROM ct_pay GROUP BY order_id
), joined AS (
    SELECT p.order_id AS pos_order_id, p.order_number AS pos_order_number,
           c.order_id AS commercetools_order_id, c.order_number AS commercetools_order_number,
           coalesce(p.location_key, c.location_key) AS location_key,
           coalesce(p.currency, c.currency) AS currency,
           p.currency AS pos_currency, c.currency AS ct_currency,
           p.total_gross AS pos_total_gross, c.total_gross AS commercetools_total_gross,
           p.total_tax AS pos_total_tax, c.total_tax AS commercetools_total_tax,
           CASE WHEN $payments AND p.order_id IS NOT NULL THEN coalesce(pp.paid, 0) END AS pos_payments,
           CASE WHEN $payments AND c.order_id IS NOT NULL THEN coalesce(cp.paid, 0) END AS commercetools_payments,
           p.order_id IS NOT NULL AND (p.order_id IN (SELECT order_id FROM flight)
               OR ($last_push IS NOT NULL AND p.created_at > $last_push)) AS in_flight,
           p.mapped, p.expected_number, c.pos_sale_id, r.reason AS rejection
    FROM p FULL OUTER JOIN c_keyed AS c ON c.sale_id = p.order_id
    LEFT JOIN pp ON pp.order_id = p.order_id
    LEFT JOIN cp ON cp.order_id = c.order_id
    LEFT JOIN r ON r.order_id = p.order_id
), diffs AS (
    SELECT *,
           CASE WHEN p_known OR commercetools_total_gross IS NOT NULL
                THEN coalesce(commercetools_total_gross, 0) - coalesce(pos_total_gross, 0) END AS difference,
           commercetools_total_tax - pos_total_tax AS tax_difference,
           commercetools_payments - pos_payments AS payments_difference
    FROM (SELECT *, coalesce(mapped, false) AS p_known FROM joined)
), statuses AS (
    SELECT *,
           CASE WHEN rejection IS NOT NULL AND (commercetools_order_id IS NULL OR NOT p_known) THEN 'rejected'
                WHEN commercetools_order_id IS NULL AND in_flight THEN 'explained'
                WHEN commercetools_order_id IS NULL THEN 'missing_in_commercetools'
                WHEN pos_order_id IS NULL THEN 'missing_in_pos'
                WHEN difference <> 0 OR tax_difference <> 0 OR coalesce(payments_difference, 0) <> 0
                     OR pos_currency <> ct_currency THEN 'amount_mismatch'
                ELSE 'match' END AS status
    FROM diffs
)
SELECT *,
       CASE status
           WHEN 'rejected' THEN 'rejected: ' || rejection
           WHEN 'explained' THEN 'in flight: the next push imports it'
           WHEN 'missing_in_commercetools' THEN 'no commercetools store order has posSaleId ' || pos_order_id
                || coalesce(' or orderNumber ' || expected_number, '') || ', and the sale is neither in flight nor rejected'
           WHEN 'missing_in_pos' THEN 'no sale of this POS has ' || coalesce('the id ' || pos_sale_id || ' (posSaleId) or ', '')
                || 'the orderNumber ' || commercetools_order_number
           WHEN 'amount_mismatch' THEN concat_ws('; ',
                CASE WHEN difference <> 0 THEN 'gross differs by ' || difference END,
                CASE WHEN tax_difference <> 0 THEN 'tax differs by ' || tax_difference END,
                CASE WHEN payments_difference <> 0 THEN 'payments differ by ' || payments_difference END,
                CASE WHEN pos_currency <> ct_currency THEN 'currency ' || ct_currency || ' against ' || pos_currency END)
       END AS reason
FROM statuses
ORDER BY location_key, coalesce(pos_order_number, commercetools_order_number)
"""


def _orders(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[_ORDER].copy() if len(frame) else pd.DataFrame({c: pd.Series(dtype=object) for c in _ORDER})
    out["created_at"] = pd.to_datetime(out["created_at"], utc=True)
    for column in ("total_gross", "total_tax"):
        out[column] = out[column].astype("int64")
    return out


def _rejections(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None or not len(frame):
        return pd.DataFrame({"record_ref": pd.Series(dtype=object), "reason": pd.Series(dtype=object)})
    return frame[["record_ref", "reason"]].astype(object)


def _charges(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None or not len(frame):
        return pd.DataFrame({"order_id": pd.Series(dtype=object), "amount": pd.Series(dtype="int64")})
    return frame.loc[frame["amount"] > 0, ["order_id", "amount"]]


def _ts(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None
