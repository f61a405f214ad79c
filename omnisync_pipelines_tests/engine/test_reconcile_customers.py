"""Customer reconciliation: unmatched per side, duplicate suspects, field disagreements by owner."""

from datetime import UTC, datetime

from omnisync_pipelines.canonical.models import Customer
from omnisync_pipelines.canonical.schemas import frame_from_records
from omnisync_pipelines.engine.reconcile_customers import CUSTOMERS_COLUMNS, STATUSES, reconcile_customers

CHECKED = datetime(2025, 3, 2, tzinfo=UTC)
POS_SYSTEM = "lightspeed_x"


def pos(cid, email, **kw):
    return Customer(POS_SYSTEM, cid, email, **kw)


def ct(cid, email, **kw):
    return Customer("commercetools", cid, email, **kw)


def run(pos_rows, ct_rows):
    frame = reconcile_customers(frame_from_records("customers", pos_rows), frame_from_records("customers", ct_rows),
                                pos_system=POS_SYSTEM, checked_at=CHECKED)
    assert list(frame.columns) == CUSTOMERS_COLUMNS
    return frame


def test_matched_customers_that_agree_produce_no_rows():
    frame = run([pos("p1", "ann@example.com", first_name="Ann", loyalty_id="L1")],
                [ct("c1", "ann@example.com", first_name="Ann", loyalty_id="L1")])
    assert frame.empty


def test_a_pos_owned_loyalty_id_that_disagrees_is_reported_with_owner_pos():
    frame = run([pos("p1", "ann@example.com", loyalty_id="L-NEW")], [ct("c1", "ann@example.com", loyalty_id="L-OLD")])
    assert frame[["issue", "pos_customer_id", "commercetools_customer_id", "field", "pos_value",
                  "commercetools_value", "owner", "wrong_side"]].values.tolist() == [
        ["field_mismatch", "p1", "c1", "loyalty_id", "L-NEW", "L-OLD", "pos", "commercetools"]]
    assert frame["status"].tolist() == ["drift"]


def test_a_commercetools_owned_name_that_disagrees_blames_the_pos():
    frame = run([pos("p1", "ann@example.com", last_name="Smith")], [ct("c1", "ann@example.com", last_name="Smyth")])
    row = frame.iloc[0]
    assert (row["field"], row["owner"], row["wrong_side"], row["pos_value"], row["commercetools_value"]) == (
        "last_name", "commercetools", "pos", "Smith", "Smyth")


def test_private_fields_and_values_the_owner_does_not_know_are_not_disagreements():
    frame = run([pos("p1", "ann@example.com", phone="+49 30 1", loyalty_id=None)],
                [ct("c1", "ann@example.com", phone="+49 30 2", loyalty_id="L1")])
    assert frame.empty


def test_unmatched_customers_are_reported_per_side():
    frame = run([pos("p1", "ann@example.com")], [ct("c9", "bob@example.com")])
    assert frame[["issue", "pos_customer_id", "commercetools_customer_id", "email", "held"]].values.tolist() == [
        ["missing_in_commercetools", "p1", None, "ann@example.com", False],
        ["missing_in_pos", None, "c9", "bob@example.com", False],
    ]
    assert frame["status"].tolist() == ["missing_in_commercetools", "missing_in_pos"]


def test_a_duplicate_customer_is_reported_and_held():
    frame = run([pos("p1", "ann@example.com"), pos("p2", "ann@example.com")], [])
    dupes = frame[frame["issue"] == "duplicate_suspect"]
    assert dupes[["pos_customer_id", "commercetools_customer_id", "duplicate_of", "rule", "score"]].values.tolist() == [
        ["p1", None, "p2", "same_email", 1.0]]
    missing = frame[frame["issue"] == "missing_in_commercetools"]
    assert missing[["pos_customer_id", "held"]].values.tolist() == [["p1", True], ["p2", True]]
    assert set(frame["status"]) == {"held"}


def test_a_cross_system_duplicate_names_both_sides():
    frame = run([pos("p1", "ann@example.com", first_name="Ann", last_name="Lee", phone="+49 30 123456789")],
                [ct("c1", "ann.lee@example.com", first_name="Ann", last_name="Lee", phone="030 123456789")])
    dupes = frame[frame["issue"] == "duplicate_suspect"]
    assert dupes[["pos_customer_id", "commercetools_customer_id", "duplicate_of", "rule"]].values.tolist() == [
        ["p1", "c1", None, "same_name_phone"]]


def test_a_field_no_side_owns_is_unowned_and_neither_side_is_wrong():
    from omnisync_pipelines.engine.customers import CustomerSyncOptions

    options = CustomerSyncOptions(ownership={"last_name": "commercetools"})
    frame = reconcile_customers(frame_from_records("customers", [pos("p1", "ann@example.com", first_name="Ann")]),
                                frame_from_records("customers", [ct("c1", "ann@example.com", first_name="Anne")]),
                                pos_system=POS_SYSTEM, options=options, checked_at=CHECKED)
    assert frame[["field", "owner", "wrong_side", "status"]].values.tolist() == [["first_name", None, None, "unowned"]]


def test_a_customer_whose_write_is_in_flight_is_explained():
    frame = reconcile_customers(frame_from_records("customers", [pos("p1", "ann@example.com", loyalty_id="L-NEW"),
                                                                 pos("p2", "bob@example.com")]),
                                frame_from_records("customers", [ct("c1", "ann@example.com", loyalty_id="L-OLD")]),
                                pos_system=POS_SYSTEM, checked_at=CHECKED,
                                in_flight={(POS_SYSTEM, "p1"), (POS_SYSTEM, "p2")})
    assert frame[["issue", "pos_customer_id", "status"]].values.tolist() == [
        ["field_mismatch", "p1", "explained"], ["missing_in_commercetools", "p2", "explained"]]
    assert set(frame["status"]) <= set(STATUSES)
