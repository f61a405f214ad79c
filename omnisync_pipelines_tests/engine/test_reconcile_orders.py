"""Order reconciliation: POS store sales against commercetools store orders, both ways, in minor units."""

from datetime import UTC, datetime

import pandas as pd

from omnisync_pipelines.canonical.models import Order, Payment
from omnisync_pipelines.canonical.schemas import frame_from_records
from omnisync_pipelines.engine.order_drafts import pos_order_number
from omnisync_pipelines.engine.reconcile_orders import ORDERS_COLUMNS, reconcile_orders

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
CHECKED = datetime(2025, 3, 2, tzinfo=UTC)


def pos_sale(order_id, number, gross, tax=300, loc="berlin", created=T0):
    return Order("lightspeed_x", order_id, number, "store", "EUR", gross, tax, 0, "closed", created, loc)


def ct_order(order_id, number, gross, tax=300, loc="berlin", channel="store"):
    return Order("commercetools", order_id, number, channel, "EUR", gross, tax, 0, "Complete", T0, loc)


def pay(system, order_id, amount):
    return Payment(system, order_id, f"{order_id}-p", "card", amount, "EUR")


def run(pos, ct, pos_pay=None, ct_pay=None, **kw):
    frame = reconcile_orders(
        frame_from_records("orders", pos), frame_from_records("orders", ct), pos_system="lightspeed_x",
        pos_payments=None if pos_pay is None else frame_from_records("order_payments", pos_pay),
        ct_payments=None if ct_pay is None else frame_from_records("order_payments", ct_pay),
        checked_at=CHECKED, **kw,
    )
    assert list(frame.columns) == ORDERS_COLUMNS
    return frame


def test_an_imported_sale_with_equal_totals_and_payments_matches():
    frame = run([pos_sale("s1", "1001", 1999)], [ct_order("o1", pos_order_number("berlin", "1001"), 1999)],
                [pay("lightspeed_x", "s1", 1999)], [pay("commercetools", "o1", 1999)])
    row = frame.iloc[0]
    assert (row["status"], row["pos_order_id"], row["commercetools_order_id"], row["difference"],
            row["payments_difference"]) == ("match", "s1", "o1", 0, 0)


def test_a_sale_never_imported_is_missing_in_commercetools_with_its_amount():
    frame = run([pos_sale("s1", "1001", 1999)], [])
    row = frame.iloc[0]
    assert (row["status"], row["pos_order_id"], row["pos_total_gross"], row["difference"]) == (
        "missing_in_commercetools", "s1", 1999, -1999)
    assert row["commercetools_order_id"] is None and row["checked_at"] == CHECKED


def test_a_store_order_without_a_pos_sale_is_missing_in_pos_and_online_orders_are_ignored():
    frame = run([], [ct_order("o9", "POS-BERLIN-77", 4500), ct_order("web1", "W-1", 999, channel="online")])
    assert len(frame) == 1
    row = frame.iloc[0]
    assert (row["status"], row["commercetools_order_id"], row["commercetools_total_gross"], row["difference"]) == (
        "missing_in_pos", "o9", 4500, 4500)


def test_totals_differing_by_five_cents_are_an_amount_mismatch_of_5():
    frame = run([pos_sale("s1", "1001", 1999)], [ct_order("o1", "POS-BERLIN-1001", 2004)])
    row = frame.iloc[0]
    assert (row["status"], row["difference"], row["tax_difference"]) == ("amount_mismatch", 5, 0)


def test_tax_and_payment_differences_are_mismatches_too():
    frame = run([pos_sale("s1", "1", 1000), pos_sale("s2", "2", 1000)],
                [ct_order("o1", "POS-BERLIN-1", 1000, tax=310), ct_order("o2", "POS-BERLIN-2", 1000)],
                [pay("lightspeed_x", "s1", 1000), pay("lightspeed_x", "s2", 1000)],
                [pay("commercetools", "o1", 1000), pay("commercetools", "o2", 900),
                 Payment("commercetools", "o2", "refund", "card", -100, "EUR")]).set_index("pos_order_id")
    assert (frame.loc["s1", "status"], frame.loc["s1", "difference"], frame.loc["s1", "tax_difference"]) == (
        "amount_mismatch", 0, 10)
    # refunds are not charges: only the 900 charged counts against the 1000 paid at the till
    assert (frame.loc["s2", "status"], frame.loc["s2", "payments_difference"]) == ("amount_mismatch", -100)


def test_pos_sale_id_wins_over_the_derived_order_number():
    ct = frame_from_records("orders", [ct_order("o1", "renamed-by-an-operator", 1999)])
    ct["pos_sale_id"] = ["s1"]
    frame = reconcile_orders(frame_from_records("orders", [pos_sale("s1", "1001", 1999)]), ct,
                             pos_system="lightspeed_x", checked_at=CHECKED)
    assert frame[["status", "pos_order_id", "commercetools_order_id"]].values.tolist() == [["match", "s1", "o1"]]


def test_a_second_sale_rejected_for_a_taken_order_number_is_not_paired_with_the_first_sales_order():
    """Two registers printed invoice 4001: s40 was imported, s41 refused (its number was taken).
    The order names its sale (posSaleId), so s40 matches and s41 shows as rejected, not as a
    mismatch against s40's order."""
    number = pos_order_number("berlin", "4001")
    ct = [Order("commercetools", "o1", number, "store", "EUR", 1999, 300, 0, "Complete", T0, "berlin", pos_sale_id="s40")]
    frame = run([pos_sale("s40", "4001", 1999), pos_sale("s41", "4001", 1000)], ct,
                rejected=rejections(("s41", f"orderNumber {number} already belongs to POS sale s40"))).set_index("pos_order_id")
    assert frame["status"].to_dict() == {"s40": "match", "s41": "rejected"}
    assert frame.loc["s40", "commercetools_order_id"] == "o1" and pd.isna(frame.loc["s41", "commercetools_order_id"])


def test_a_sale_in_flight_or_made_after_the_last_push_is_explained_not_missing():
    late = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    frame = run([pos_sale("s1", "1", 500), pos_sale("s2", "2", 700, created=late), pos_sale("s3", "3", 900)], [],
                in_flight={"s1"}, last_push_at=datetime(2025, 3, 1, 11, 0, tzinfo=UTC)).set_index("pos_order_id")
    assert frame["status"].to_dict() == {"s1": "explained", "s2": "explained", "s3": "missing_in_commercetools"}
    assert frame["in_flight"].to_dict() == {"s1": True, "s2": True, "s3": False}


def test_since_limits_both_sides():
    old = datetime(2025, 1, 1, tzinfo=UTC)
    frame = run([pos_sale("s1", "1", 500, created=old), pos_sale("s2", "2", 700)], [],
                since=datetime(2025, 2, 1, tzinfo=UTC))
    assert frame["pos_order_id"].tolist() == ["s2"]


def test_empty_reads_give_an_empty_table_with_its_columns():
    frame = run([], [], [], [])
    assert frame.empty and list(frame.columns) == ORDERS_COLUMNS


def rejections(*rows):
    return pd.DataFrame([{"record_ref": ref, "reason": reason} for ref, reason in rows])


def test_a_sale_still_rejected_shows_in_reconciliation_orders_with_its_reason():
    # s2 could not be mapped at all (only its id is known); s3 mapped but the push refused it
    reasons = rejections(("s2", "payments.amount: 19.991 has more decimals than EUR allows"),
                         ("s3", "payments add up to 3000, order total is 2900 (difference 100 minor units)"),
                         ("s3", "line taxes add up to 462, order tax is 463"))
    frame = run([pos_sale("s1", "1", 1999), pos_sale("s3", "3", 2900)],
                [ct_order("o1", pos_order_number("berlin", "1"), 1999)], rejected=reasons).set_index("pos_order_id")
    assert frame["status"].to_dict() == {"s1": "match", "s2": "rejected", "s3": "rejected"}
    assert frame.loc["s2", "reason"] == "rejected: payments.amount: 19.991 has more decimals than EUR allows"
    assert frame.loc["s3", "reason"] == ("rejected: line taxes add up to 462, order tax is 463; "
                                         "payments add up to 3000, order total is 2900 (difference 100 minor units)")
    assert pd.isna(frame.loc["s1", "reason"])
    # what is known of each side: s3 its amounts, s2 only its id
    assert (frame.loc["s3", "pos_total_gross"], frame.loc["s3", "difference"]) == (2900, -2900)
    assert pd.isna(frame.loc["s2", "pos_total_gross"]) and pd.isna(frame.loc["s2", "difference"])


def test_a_rejected_sale_is_listed_even_when_the_pos_read_has_no_sale_at_all():
    frame = run([], [], rejected=rejections(("s9", "outlet_id: sale s9: outlet x is not in the location map")))
    assert frame[["pos_order_id", "status", "reason"]].values.tolist() == [
        ["s9", "rejected", "rejected: outlet_id: sale s9: outlet x is not in the location map"]]


def test_a_rejection_of_a_sale_whose_order_is_in_commercetools_does_not_hide_the_match():
    # an open rejection left from before a fix: the sale maps now and its order is there
    frame = run([pos_sale("s1", "1", 1999)], [ct_order("o1", pos_order_number("berlin", "1"), 1999)],
                rejected=rejections(("s1", "an old reason")))
    assert frame[["status", "reason"]].values.tolist() == [["match", None]]


def test_every_row_that_is_not_a_match_says_why():
    frame = run([pos_sale("s1", "1", 1999), pos_sale("s2", "2", 500), pos_sale("s3", "3", 1000)],
                [ct_order("o1", "POS-BERLIN-1", 2004), ct_order("o9", "POS-BERLIN-77", 4500)],
                in_flight={"s2"}).set_index("commercetools_order_number", drop=False)
    reasons = dict(zip(frame["status"], frame["reason"], strict=True))
    assert reasons == {
        "amount_mismatch": "gross differs by 5",
        "explained": "in flight: the next push imports it",
        "missing_in_commercetools": "no commercetools store order has posSaleId s3 or orderNumber POS-BERLIN-3, "
                                    "and the sale is neither in flight nor rejected",
        "missing_in_pos": "no sale of this POS has the orderNumber POS-BERLIN-77",
    }


def test_an_order_without_pos_sale_id_is_not_paired_with_two_sales_deriving_its_number():
    """An order imported before omnisync set posSaleId carries only its number; s2 derives the same
    one but was refused: the order pairs with s1 alone, s2 stays rejected, the order is one row."""
    number = pos_order_number("berlin", "1001")
    frame = run([pos_sale("s1", "1001", 1999), pos_sale("s2", "1001", 500)], [ct_order("o1", number, 1999)],
                rejected=rejections(("s2", f"orderNumber {number} already belongs to POS sale s1")))
    assert sorted(frame[["pos_order_id", "commercetools_order_id", "status"]].fillna("-").values.tolist()) == [
        ["s1", "o1", "match"], ["s2", "-", "rejected"]]
