"""Which stores an online order may be routed to: the shopper's store, its fallbacks, and only tills
that take the order's currency."""

from datetime import UTC, datetime

import pytest

from omnisync_pipelines.canonical.models import Order
from omnisync_pipelines.engine.fulfilment import candidates, same_currency_stores


def _order(currency: str) -> Order:
    return Order("commercetools", "o-1", "WEB-1", "online", currency, 1000, 160, 0, "Open",
                 datetime(2026, 11, 23, tzinfo=UTC), "berlin", fulfilment="click_and_collect")


@pytest.mark.parametrize(("requested", "fallbacks", "default", "expected"), [
    ("berlin", {"berlin": ["munich"]}, ["hamburg"], ["berlin", "munich", "hamburg"]),
    ("berlin", {"berlin": ["munich"]}, ["munich"], ["berlin", "munich"]),  # a store is tried once
    (None, {}, ["hamburg"], ["hamburg"]),  # no store chosen: the default fallback only
    (None, {}, [], []),
])
def test_candidate_stores_in_order_of_preference(requested, fallbacks, default, expected):
    assert candidates(requested, fallbacks, default) == expected


@pytest.mark.parametrize(("currency", "tills", "kept", "reason_names"), [
    ("EUR", {"berlin": "EUR", "zurich": "CHF"}, ["berlin", "munich"], "zurich (CHF)"),
    ("EUR", {"berlin": "EUR", "munich": "EUR", "zurich": "EUR"}, ["berlin", "munich", "zurich"], None),
    ("USD", {"berlin": "EUR", "munich": "EUR", "zurich": "CHF"}, [], "berlin (EUR), munich (EUR), zurich (CHF)"),
    ("EUR", {}, ["berlin", "munich", "zurich"], None),  # currency unknown: no store is excluded on a guess
])
def test_a_store_whose_till_takes_another_currency_is_left_out(currency, tills, kept, reason_names):
    stores, reason = same_currency_stores(_order(currency), ["berlin", "munich", "zurich"], tills)
    assert stores == kept
    if reason_names is None:
        assert reason is None
    else:
        assert reason.startswith(f"order currency {currency} differs from the store currency of")
        assert reason.endswith(reason_names)
