"""The negative-stock policy: what a stock decrease that would take commercetools below zero does.

Typical cause: a store was offline, its sales reach the POS count late, and commercetools sold
(or lost) the same units meanwhile. `stock.negative_stock_policy`:
- `allow_negative_and_report`: apply it; the ledger result carries the units below zero (a discrepancy);
- `clamp_to_zero_and_report`: apply only down to zero; the units not applied are the discrepancy;
- `hold_for_review`: apply nothing; the ledger says rejected and the rejected table keeps the movement
  with status `held` until an operator releases it (status `released`), after which the next push
  applies it as it is. The baseline does not move while held, so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from omnisync_pipelines.store import tables as t
from omnisync_pipelines.store.ops import OpsStore

POLICIES = ("allow_negative_and_report", "clamp_to_zero_and_report", "hold_for_review")
HELD, RELEASED = "held", "released"


@dataclass(frozen=True)
class Decision:
    apply: int  # the delta to send
    discrepancy_units: int  # units below zero (allowed) or not applied (clamped / held)
    hold: bool = False

    def report(self, policy: str, current: int | None) -> dict:
        return {"negative_policy": policy, "discrepancy_units": self.discrepancy_units, "quantity_before": current}


def decide(policy: str, current: int | None, delta: int, *, released: bool = False) -> Decision:
    """`current`: commercetools quantity now (None: no entry yet, i.e. 0)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown negative stock policy {policy!r}; one of {', '.join(POLICIES)}")
    have = current or 0
    below = max(0, -(have + delta))
    if delta >= 0 or below == 0:
        return Decision(delta, 0)
    if released or policy == "allow_negative_and_report":
        return Decision(delta, below)
    if policy == "clamp_to_zero_and_report":
        return Decision(-max(0, have), below + min(0, have))
    return Decision(0, below, hold=True)


def released(ops: OpsStore, flow: str, record_ref: str) -> bool:
    """An operator released the held movement of this record (the rejected row's status)."""
    c = t.rejected.c
    with ops.engine.connect() as conn:
        status = conn.execute(select(c.status).where(c.flow == flow, c.record_ref == record_ref, c.field == "quantity")).scalar()
    return status == RELEASED


def resolve_released(ops: OpsStore, flow: str, record_ref: str) -> None:
    """The released movement (or a newer count that carried it) is applied: close the row."""
    from sqlalchemy import update

    from omnisync_pipelines.store.ops import now

    c = t.rejected.c
    with ops.engine.begin() as conn:
        conn.execute(update(t.rejected).where(c.flow == flow, c.record_ref == record_ref, c.status == RELEASED)
                     .values(status="resolved", updated_at=now()))
