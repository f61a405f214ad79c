"""Exact amounts (a POS may keep more decimals than the currency has) -> integer minor units.

`fit_to_total` is the one rounding rule for the parts of a whole (a sale's lines, their taxes): the
parts are rounded so that they add up exactly to the whole's integer total, by largest remainder:
every part first rounded down, then the minor units still missing go one each to the parts with the
largest fractions (ties: the earlier part). Each part then differs from its exact amount by less than
one minor unit. Deterministic: the same amounts in the same order give the same parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

HALF = Decimal("0.5")
# ISO 4217 minor units where they are not 2 (amounts of these are whole units, or thousandths)
ZERO_DECIMAL_CURRENCIES = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
                                     "UYI", "VND", "VUV", "XAF", "XOF", "XPF"})
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def currency_digits(currency: str) -> int:
    """How many decimals the currency's minor unit has (ISO 4217): 0 for JPY, 2 for EUR, 3 for KWD."""
    code = currency.upper()
    return 0 if code in ZERO_DECIMAL_CURRENCIES else 3 if code in THREE_DECIMAL_CURRENCIES else 2


def round_half_up(amount: Decimal) -> int:
    """An exact amount in minor units, rounded half-up (away from zero) to a whole minor unit."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def within_rounding(total: int, exact: Decimal) -> bool:
    """Whether `total` is `exact` (both in minor units) rounded to a whole minor unit, either way a
    half falls: what a till taking a sale total to the minor unit can have made of it."""
    return abs(Decimal(total) - exact) <= HALF


def fit_to_total(exact: Sequence[Decimal], total: int) -> list[int] | None:
    """The exact parts (in minor units) as whole minor units adding up to exactly `total`, each less
    than one minor unit from its exact amount; None when no such parts exist (the exact parts add up
    to one minor unit or more away from `total`, so rounding cannot explain the difference)."""
    if not exact:
        return [] if total == 0 else None
    if abs(Decimal(total) - sum(exact, Decimal(0))) >= 1:
        return None
    floors = [int(a.to_integral_value(rounding=ROUND_FLOOR)) for a in exact]
    missing = total - sum(floors)  # 0 <= missing <= len(exact): each floor is less than 1 below its amount
    if not 0 <= missing <= len(exact):
        return None
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    up = set(order[:missing])
    return [f + (i in up) for i, f in enumerate(floors)]
