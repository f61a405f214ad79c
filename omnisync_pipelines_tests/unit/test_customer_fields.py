"""Customer field diffs and the ownership filter.

Contract: each field function returns None when the source and target agree once normalised (and
when the source has no value: a missing value never erases one), else a FieldChange carrying the
target's old value and the value to write. The ownership filter lets a change through only from the
field's owner, and never a private field, whichever way it would flow.
"""

import pytest

from omnisync_pipelines.canonical.models import Customer
from omnisync_pipelines.engine.customer_fields import (
    FieldChange,
    compose_changes,
    diff_consent_marketing,
    diff_email,
    diff_first_name,
    diff_last_name,
    diff_loyalty_id,
    diff_phone,
    may_flow,
    owned_changes,
    seed_values,
)
from omnisync_pipelines.engine.customers import DEFAULT_OWNERSHIP

POS = "lightspeed_x"


# fixtures ------------------------------------------------------------------------------------
def rules(private=frozenset()):
    return {"ownership": DEFAULT_OWNERSHIP, "private_fields": private, "pos_system": POS}


# tests ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("diff", "source", "target", "expected"),
    [
        (diff_email, "Anna@Example.com ", "anna@example.com", None),
        (diff_email, "anna@new.example", "anna@example.com", FieldChange("email", "anna@example.com", "anna@new.example")),
        (diff_email, None, "anna@example.com", None),
        (diff_email, "  ", "anna@example.com", None),
        (diff_first_name, "Anna", "Anna", None),
        (diff_first_name, " Anna  ", "Anna", None),
        (diff_first_name, "Anna", "Ana", FieldChange("first_name", "Ana", "Anna")),
        (diff_first_name, None, "Ana", None),
        (diff_last_name, "Berg", None, FieldChange("last_name", None, "Berg")),
        (diff_last_name, "van  der Berg", "van der Berg", None),
        (diff_phone, "+49 30 1234567", "+49-30-1234567", None),
        (diff_phone, "+49 30 1234567", "+49 30 7654321", FieldChange("phone", "+49 30 7654321", "+49 30 1234567")),
        (diff_phone, None, "+49 30 1", None),
        (diff_loyalty_id, "L-1", "L-1", None),
        (diff_loyalty_id, "L-2", "L-1", FieldChange("loyalty_id", "L-1", "L-2")),
        (diff_loyalty_id, "L-2", None, FieldChange("loyalty_id", None, "L-2")),
        (diff_loyalty_id, None, "L-1", None),
        (diff_consent_marketing, True, True, None),
        (diff_consent_marketing, False, True, FieldChange("consent_marketing", True, False)),
        (diff_consent_marketing, False, None, None),  # opt-in: "none recorded" is already "no"
        (diff_consent_marketing, True, None, FieldChange("consent_marketing", None, True)),
        (diff_consent_marketing, None, True, None),
    ],
)
def test_field_diff(diff, source, target, expected):
    assert diff(source, target) == expected


def test_compose_gathers_changes_in_field_order():
    pos = Customer("lightspeed_x", "p1", "anna@example.com", "Anna", "Berg", loyalty_id="L-9", consent_marketing=True)
    ct = Customer("commercetools", "c1", "anna@example.com", "Ana", "Berg", loyalty_id=None, consent_marketing=True)
    assert [c.field for c in compose_changes(pos, ct)] == ["first_name", "loyalty_id"]
    assert compose_changes(pos, pos) == []


@pytest.mark.parametrize(
    ("field", "source", "private", "flows"),
    [
        ("loyalty_id", POS, frozenset(), True),  # POS-owned, POS -> commercetools
        ("loyalty_id", "commercetools", frozenset(), False),  # a POS-owned field never flows to the POS
        ("consent_marketing", "commercetools", frozenset(), False),
        ("consent_marketing", POS, frozenset(), True),
        ("email", "commercetools", frozenset(), True),
        ("email", POS, frozenset(), False),  # commercetools-owned, never from the POS
        ("first_name", POS, frozenset(), False),
        ("phone", "commercetools", frozenset(), True),
        ("phone", "commercetools", frozenset({"phone"}), False),  # private: never, even from its owner
        ("phone", POS, frozenset({"phone"}), False),
        ("loyalty_id", POS, frozenset({"loyalty_id"}), False),
        ("unknown_field", POS, frozenset(), False),  # no owner, no flow
    ],
)
def test_ownership(field, source, private, flows):
    assert may_flow(field, source, **rules(private)) is flows


def test_owned_changes_filters_before_push():
    changes = [FieldChange("first_name", "Ana", "Anna"), FieldChange("loyalty_id", None, "L-1"), FieldChange("phone", None, "+49 1")]
    assert [c.field for c in owned_changes(changes, POS, **rules())] == ["loyalty_id"]
    assert [c.field for c in owned_changes(changes, "commercetools", **rules())] == ["first_name", "phone"]
    assert [c.field for c in owned_changes(changes, "commercetools", **rules(frozenset({"phone"})))] == ["first_name"]


def test_ownership_by_system_id_or_pos_alias():
    ownership = {"loyalty_id": POS, "first_name": "pos"}
    assert may_flow("loyalty_id", POS, ownership=ownership, private_fields=(), pos_system=POS)
    assert may_flow("first_name", POS, ownership=ownership, private_fields=(), pos_system=POS)


def test_seed_values_skip_private_and_unknown():
    pos = Customer("lightspeed_x", "p1", " Anna@Example.com", "Anna", None, phone="+49 1", loyalty_id="L-1")
    assert seed_values(pos, {"phone"}) == {"email": "anna@example.com", "first_name": "Anna", "loyalty_id": "L-1"}


def test_customers_from_frame_round_trips_snapshot_rows():
    import pandas as pd

    from omnisync_pipelines.engine.customers import customers_from_frame

    rows = [Customer("lightspeed_x", "p1", "a@example.com", "A", loyalty_id="L-1", consent_marketing=True),
            Customer("lightspeed_x", "p2", None)]
    frame = pd.DataFrame([r.to_row() for r in rows], columns=Customer.columns())
    assert customers_from_frame(frame) == rows
