"""Rounding a whole's exact parts (a POS keeps more decimals than the currency has) to integer minor
units that add up exactly to the whole: largest remainder, each part less than a minor unit off."""

from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from omnisync_pipelines.canonical.money import fit_to_total, round_half_up, within_rounding

# exact amounts in minor units with up to 4 more decimals (X-Series keeps 5 decimals of a euro: 3 of a cent)
exact_amounts = st.lists(st.decimals(min_value=-10**7, max_value=10**7, places=4, allow_nan=False, allow_infinity=False),
                         min_size=1, max_size=30)


def test_a_euro_off_three_units_fits_the_29_euros_the_till_took():
    # three lines of 9.66667 each: rounded one by one they make 29.01, the till took 29.00
    assert fit_to_total([Decimal("966.667")] * 3, 2900) == [967, 967, 966]
    assert fit_to_total([Decimal("2900.001")], 2900) == [2900]


def test_the_largest_fraction_gets_the_missing_unit_and_a_tie_goes_to_the_earlier_part():
    assert fit_to_total([Decimal("1.2"), Decimal("1.7"), Decimal("1.4")], 4) == [1, 2, 1]
    assert fit_to_total([Decimal("1.2"), Decimal("1.7"), Decimal("1.4")], 5) == [1, 2, 2]
    assert fit_to_total([Decimal("1.5"), Decimal("1.5")], 3) == [2, 1]


def test_parts_a_minor_unit_or_more_away_from_the_total_are_not_fitted():
    assert fit_to_total([Decimal("10"), Decimal("10")], 21) is None
    assert fit_to_total([Decimal("10.4"), Decimal("10")], 19) is None
    assert fit_to_total([], 0) == [] and fit_to_total([], 1) is None


@given(exact_amounts, st.decimals(min_value=Decimal("-0.999"), max_value=Decimal("0.999"), places=3))
@example([Decimal("966.667")] * 3, Decimal("-0.001"))
def test_any_parts_within_a_minor_unit_of_a_total_add_up_to_it_exactly(exact, offset):
    total = round_half_up(sum(exact) + offset)
    if abs(Decimal(total) - sum(exact)) >= 1:
        assert fit_to_total(exact, total) is None
        return
    parts = fit_to_total(exact, total)
    assert sum(parts) == total
    assert all(abs(part - amount) < 1 for part, amount in zip(parts, exact, strict=True))
    assert all(part == amount for part, amount in zip(parts, exact, strict=True) if amount == int(amount))
    assert fit_to_total(list(exact), total) == parts  # deterministic


@given(exact_amounts)
def test_lines_and_taxes_fitted_to_payments_the_till_rounded_agree_exactly(lines):
    # the till takes the sale's total rounded to the minor unit; lines and line taxes (19 %) fit it
    paid = round_half_up(sum(lines))
    taxes = [(amount * Decimal("0.19") / Decimal("1.19")).quantize(Decimal("0.0001")) for amount in lines]
    assert within_rounding(paid, sum(lines))
    fitted_lines, fitted_taxes = fit_to_total(lines, paid), fit_to_total(taxes, round_half_up(sum(taxes)))
    assert sum(fitted_lines) == paid and sum(fitted_taxes) == round_half_up(sum(taxes))


def test_within_rounding_takes_a_half_either_way():
    assert within_rounding(2900, Decimal("2900.5")) and within_rounding(2901, Decimal("2900.5"))
    assert not within_rounding(2902, Decimal("2900.5")) and not within_rounding(2899, Decimal("2899.501") + 1)
