"""Taxed prices of imported orders: stored as sent, or derived from a TaxRate."""

from __future__ import annotations

from ..errors import invalid_json, required
from ..fields import money


def taxed_price(draft: dict, field: str = "taxedPrice") -> dict:
    result = {"totalNet": money(required(draft, "totalNet"), f"{field}.totalNet"),
              "totalGross": money(required(draft, "totalGross"), f"{field}.totalGross"),
              "taxPortions": [{**p, "amount": money(p.get("amount"), f"{field}.taxPortions.amount")}
                              for p in draft.get("taxPortions") or []]}
    if draft.get("totalTax") is not None:
        result["totalTax"] = money(draft["totalTax"], f"{field}.totalTax")
    return result


def _taxed_from_rate(total: dict, rate: dict) -> dict:
    """TaxedItemPrice derived from a TaxRate, the way an import does without a given `taxedPrice`
    (rounding HalfEven, the default `taxRoundingMode`; Python's round() is half-even)."""
    amount = total["centAmount"]
    if rate.get("includedInPrice"):
        gross, net = amount, round(amount / (1 + rate["amount"]))
    else:
        gross, net = round(amount * (1 + rate["amount"])), amount
    tax = {**total, "centAmount": gross - net}
    return {"totalNet": {**total, "centAmount": net}, "totalGross": {**total, "centAmount": gross},
            "totalTax": tax, "taxPortions": [{"rate": rate["amount"], "name": rate.get("name"), "amount": tax}]}


def item_taxes(item: dict, draft: dict, total: dict, field: str, *, line: bool = True) -> None:
    """A given `taxedPrice` is stored as sent (on a (custom) line item only with its `taxRate`);
    else it is derived from the `taxRate`."""
    if line and draft.get("taxedPrice") is not None and draft.get("taxRate") is None:
        raise invalid_json(f"{field}.taxRate: Missing required value (a taxedPrice needs its taxRate)")
    if draft.get("taxRate") is not None:
        item["taxRate"] = draft["taxRate"]
    if draft.get("taxedPrice") is not None:
        item["taxedPrice"] = taxed_price(draft["taxedPrice"], f"{field}.taxedPrice")
    elif isinstance((draft.get("taxRate") or {}).get("amount"), int | float):
        item["taxedPrice"] = _taxed_from_rate(total, draft["taxRate"])
