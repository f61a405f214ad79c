"""Stock reconciliation: equal counts match; a difference that is exactly a POS change still in
flight is explained; anything else is drift, with the difference commercetools minus POS."""

import pandas as pd

from omnisync_pipelines.engine.reconcile_stock import reconcile_stock


def frame(rows, value="on_hand"):
    return pd.DataFrame(rows, columns=["sku", "location_key", value])


def test_statuses_and_differences():
    ct = frame([("A", "ber", 5), ("B", "ber", 3), ("C", "ber", 9), ("D", "ber", 1)])
    pos = frame([("A", "ber", 5), ("B", "ber", 2), ("C", "ber", 4), ("E", "ber", 6)])
    base = frame([("A", "ber", 5), ("B", "ber", 3), ("C", "ber", 9), ("D", "ber", 1)], value="level")
    result = reconcile_stock(ct, pos, base, pos_system="lightspeed_x").set_index("sku")
    assert result.loc["A", "status"] == "match"
    # B: the POS sold one since the last push, commercetools still at the baseline
    assert (result.loc["B", "status"], result.loc["B", "difference"], result.loc["B", "in_flight_units"]) == ("explained", 1, -1)
    # C: commercetools is 9 and the baseline 9, but the POS says 4: explained (−5 in flight)
    assert result.loc["C", "status"] == "explained"
    # D: only in commercetools, with no POS record: drift of +1
    assert (result.loc["D", "status"], result.loc["D", "difference"]) == ("drift", 1)
    # E: only at the POS, never synced: in flight (the first push creates it)
    assert result.loc["E", "status"] == "explained"


def test_a_manual_change_in_commercetools_is_drift():
    ct = frame([("A", "ber", 8)])
    pos = frame([("A", "ber", 5)])
    base = frame([("A", "ber", 5)], value="level")
    row = reconcile_stock(ct, pos, base, pos_system="lightspeed_x").iloc[0]
    assert (row["status"], row["difference"], row["in_flight_units"]) == ("drift", 3, 0)
