"""Return reconciliation: recorded on the original order, restock reflected, refund present and equal."""

from datetime import UTC, datetime

from omnisync_pipelines.canonical.models import Payment, Return, ReturnLine
from omnisync_pipelines.canonical.schemas import frame_from_records
from omnisync_pipelines.engine.reconcile_returns import (
    RETURNS_COLUMNS,
    reconcile_returns,
    return_items_from_orders,
)
from omnisync_pipelines.engine.return_actions import tracking_id

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
CHECKED = datetime(2025, 3, 2, tzinfo=UTC)


def pos_return(return_id, refund=1000, restock=True, quantity=2):
    ret = Return("lightspeed_x", return_id, "EUR", refund, T0, "sale-1", "berlin", "damaged")
    return ret, ReturnLine("lightspeed_x", return_id, f"{return_id}-l1", "SKU-1", quantity, refund, None, restock)


def raw_order(returns):
    """returns: [(POS return id, shipment state, quantity)] recorded on one order."""
    return {
        "id": "o1", "orderNumber": "POS-BERLIN-1001",
        "lineItems": [{"id": "li1", "variant": {"sku": "SKU-1"}, "quantity": 5}],
        "returnInfo": [
            {"returnTrackingId": f"POS-RETURN-{rid}",
             "items": [{"id": f"i-{rid}", "lineItemId": "li1", "quantity": qty, "shipmentState": state,
                        "paymentState": "Refunded"}]}
            for rid, state, qty in returns
        ],
    }


def refund(return_id, amount):
    return Payment("commercetools", "o1", f"pay1/{return_id}", "card", -amount, "EUR", return_id)


def run(pos, recorded, refunds, **kw):
    frame = reconcile_returns(
        frame_from_records("returns", [r for r, _ in pos]), frame_from_records("return_lines", [line for _, line in pos]),
        return_items_from_orders([raw_order(recorded)]), frame_from_records("order_payments", refunds),
        pos_system="lightspeed_x", checked_at=CHECKED, **kw,
    )
    assert list(frame.columns) == RETURNS_COLUMNS
    return frame.set_index("return_id")


def test_tracking_ids_are_the_returns_flows():
    ret, _ = pos_return("r1")
    assert tracking_id(ret) == "POS-RETURN-r1"


def test_a_fully_applied_return_matches():
    row = run([pos_return("r1")], [("r1", "BackInStock", 2)], [refund("r1", 1000)]).loc["r1"]
    assert (row["status"], row["problems"], row["commercetools_order_id"], row["commercetools_back_in_stock_units"],
            row["commercetools_refund_total"]) == ("match", "", "o1", 2, 1000)


def test_a_return_not_on_the_order_is_missing_in_commercetools():
    row = run([pos_return("r1")], [], []).loc["r1"]
    assert (row["status"], row["recorded"], row["problems"], row["refund_difference"]) == (
        "missing_in_commercetools", False, "not_recorded,restock_not_reflected,refund_missing", -1000)


def test_a_return_not_restocked_in_commercetools_is_reported():
    row = run([pos_return("r1")], [("r1", "Returned", 2)], [refund("r1", 1000)]).loc["r1"]
    assert (row["status"], row["restock_reflected"], row["pos_restock_units"],
            row["commercetools_back_in_stock_units"]) == ("restock_not_reflected", False, 2, 0)


def test_a_unit_the_pos_did_not_restock_must_not_be_back_in_stock():
    frame = run([pos_return("r1", restock=False), pos_return("r2", restock=False)],
                [("r1", "Unusable", 2), ("r2", "BackInStock", 2)], [refund("r1", 1000), refund("r2", 1000)])
    assert frame["status"].to_dict() == {"r1": "match", "r2": "restock_not_reflected"}


def test_a_refund_missing_is_reported():
    row = run([pos_return("r1", refund=1250)], [("r1", "BackInStock", 2)], []).loc["r1"]
    assert (row["status"], row["refund_reflected"], row["commercetools_refund_total"], row["refund_difference"]) == (
        "refund_missing", False, 0, -1250)


def test_a_refund_of_another_amount_is_a_mismatch():
    row = run([pos_return("r1", refund=1250)], [("r1", "BackInStock", 2)], [refund("r1", 1200)]).loc["r1"]
    assert (row["status"], row["refund_difference"]) == ("refund_mismatch", -50)


def test_a_return_in_flight_is_explained():
    frame = run([pos_return("r1"), pos_return("r2")], [], [], in_flight={"r1"})
    assert frame["status"].to_dict() == {"r1": "explained", "r2": "missing_in_commercetools"}
