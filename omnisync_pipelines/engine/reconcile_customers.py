"""Customer reconciliation: what the customers flow has not (or cannot) make agree.

Matching and the duplicate report are the customers engine's own (`validate_customers`,
`match_customers`): this table shows the same pairs and suspects the flow acts on. Invalid emails
are left out here (they are in the rejected table). A field disagreement is judged by ownership
(`CustomerSyncOptions.ownership`): the side that does not own the field is the wrong one; private
fields never sync and are not compared; a value the owner does not know (None) is no disagreement,
as in `customer_fields`. Fields without an owner are reported with `owner`/`wrong_side` None.

`reconciliation.customers` (CUSTOMERS_COLUMNS), one row per finding:
    pos_system
    issue               missing_in_commercetools | missing_in_pos | duplicate_suspect | field_mismatch
    pos_customer_id, commercetools_customer_id, email
    field, pos_value, commercetools_value      (field_mismatch; values as text)
    owner, wrong_side   "pos" | "commercetools" (field_mismatch)
    duplicate_of        duplicate_suspect within one system: the other customer id of that system
    rule, score         duplicate rule and score (duplicate_suspect), as `customers.DUPLICATE_COLUMNS`
    held                unmatched customer named in a duplicate row: waits for an operator
    status              what the finding means, in the vocabulary of the sibling tables (the table
                        lists findings only, so there is no `match` row):
                          drift       field_mismatch of an owned field: after the sync the side that
                                      does not own the field still holds another value
                          missing_in_commercetools / missing_in_pos   an unmatched customer, not held
                          held        a duplicate suspect, or an unmatched customer named in one:
                                      waits for an operator (the flow neither merges nor creates it)
                          unowned     field_mismatch of a field no side owns: nothing syncs it, so
                                      neither side is wrong
                          explained   the customer's write is in flight (`in_flight`: its ledger key
                                      is retrying, or it changed after the sync read it); the next
                                      push settles it
    checked_at
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime

import duckdb
import pandas as pd

from omnisync_pipelines.engine.customer_fields import COMMERCETOOLS, FIELDS, POS, compose_changes
from omnisync_pipelines.engine.customers import (
    CustomerSyncOptions,
    customers_from_frame,
    match_customers,
    validate_customers,
)

CUSTOMERS_COLUMNS = [
    "pos_system", "issue", "pos_customer_id", "commercetools_customer_id", "email", "field", "pos_value",
    "commercetools_value", "owner", "wrong_side", "duplicate_of", "rule", "score", "held", "status", "checked_at",
]
_TEXT_COLUMNS = [c for c in CUSTOMERS_COLUMNS if c not in ("score", "held", "checked_at")]
STATUSES = ("drift", "missing_in_commercetools", "missing_in_pos", "held", "unowned", "explained")


def reconcile_customers(
    pos_customers: pd.DataFrame,
    ct_customers: pd.DataFrame,
    *,
    pos_system: str,
    links: Mapping[tuple[str, str], str] | None = None,
    options: CustomerSyncOptions = CustomerSyncOptions(),
    checked_at: datetime | None = None,
    in_flight: Collection[tuple[str, str]] = (),
) -> pd.DataFrame:
    """Frames: canonical `customers` snapshots; links: `Crosswalk.mapping("customer")`; in_flight:
    (system, customer id) of customers whose write is in flight (their findings are `explained`)."""
    pos, _ = validate_customers(customers_from_frame(pos_customers))
    ct, _ = validate_customers(customers_from_frame(ct_customers))
    m = match_customers(pos, ct, links or {})
    rows: list[dict] = []
    for p, c in m.pairs:
        for field in FIELDS:
            if field in options.private_fields:
                continue
            owner = _side(options.ownership.get(field), pos_system)
            if owner is None:
                differs = bool(compose_changes(p, c, [field]) or compose_changes(c, p, [field]))
            else:
                source, target = (p, c) if owner == POS else (c, p)
                differs = bool(compose_changes(source, target, [field]))
            if differs:
                rows.append(_row("field_mismatch", p.customer_id, c.customer_id, c.email or p.email, field=field,
                                 pos_value=_text(getattr(p, field)), commercetools_value=_text(getattr(c, field)),
                                 owner=owner, wrong_side=_other(owner)))
    paired = {(x.system, x.customer_id) for pair in m.pairs for x in pair}
    for customer, issue in [*((p, "missing_in_commercetools") for p in pos),
                            *((c, "missing_in_pos") for c in ct)]:
        ref = (customer.system, customer.customer_id)
        if ref not in paired:
            is_pos = customer.system != COMMERCETOOLS
            rows.append(_row(issue, customer.customer_id if is_pos else None,
                             None if is_pos else customer.customer_id, customer.email, held=ref in m.held))
    for d in m.duplicates:
        left, right = (d["left_system"], d["left_id"]), (d["right_system"], d["right_id"])
        if left[0] == right[0]:  # two customers of one system: the second is `duplicate_of`
            ids = {left[0]: left[1]}
            other = right[1]
        else:
            ids, other = dict([left, right]), None
        rows.append(_row("duplicate_suspect", ids.get(pos_system), ids.get(COMMERCETOOLS), None,
                         duplicate_of=other, rule=d["rule"], score=d["score"], held=True))
    flying = {tuple(ref) for ref in in_flight}
    for row in rows:
        row["status"] = _status(row, pos_system, flying)
    return _frame(rows, pos_system, checked_at)


def _status(row: dict, pos_system: str, in_flight: set[tuple[str, str]]) -> str:
    refs = {(pos_system, row["pos_customer_id"]), (COMMERCETOOLS, row["commercetools_customer_id"])}
    if row["held"]:
        return "held"
    if refs & in_flight:
        return "explained"
    if row["issue"] == "field_mismatch":
        return "drift" if row["owner"] is not None else "unowned"
    return row["issue"]


def _frame(rows: list[dict], pos_system: str, checked_at: datetime | None) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[c for c in CUSTOMERS_COLUMNS if c not in ("pos_system", "checked_at")])
    con = duckdb.connect()
    try:
        con.register("findings", frame)
        out = con.execute(
            """
            SELECT * FROM findings
            ORDER BY CASE issue WHEN 'field_mismatch' THEN 0 WHEN 'duplicate_suspect' THEN 1 ELSE 2 END,
                     issue, coalesce(pos_customer_id, commercetools_customer_id), field
            """
        ).df()
    finally:
        con.close()
    out["pos_system"] = pos_system
    out["checked_at"] = pd.Timestamp(checked_at or datetime.now(UTC))
    out["held"] = out["held"].astype(bool)
    out["score"] = out["score"].astype(float)
    for column in _TEXT_COLUMNS:  # a column of no values comes back typed NULL (<NA>, even Int32): None
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out[CUSTOMERS_COLUMNS]


def _row(issue: str, pos_id, ct_id, email, **extra) -> dict:
    row = {"issue": issue, "pos_customer_id": pos_id, "commercetools_customer_id": ct_id, "email": email,
           "field": None, "pos_value": None, "commercetools_value": None, "owner": None, "wrong_side": None,
           "duplicate_of": None, "rule": None, "score": None, "held": False}
    return {**row, **extra}


def _side(owner: str | None, pos_system: str) -> str | None:
    if owner in (POS, pos_system):
        return POS
    return COMMERCETOOLS if owner == COMMERCETOOLS else None


def _other(side: str | None) -> str | None:
    return {POS: COMMERCETOOLS, COMMERCETOOLS: POS}.get(side)


def _text(value) -> str | None:
    return None if value is None else str(value)
