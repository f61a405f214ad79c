"""The stock plan: only (SKU, location) counts that moved since they were last applied, keyed by
POS version; unknown SKUs are rejected with a reason, never planned."""

import duckdb
import pandas as pd
import pytest

from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.canonical.models import CatalogItem, StockLevel
from omnisync_pipelines.engine.stock_plan import plan_stock
from omnisync_pipelines.store import warehouse


@pytest.fixture
def con():
    con = duckdb.connect()
    catalog = [CatalogItem("commercetools", sku, "tee", sku, f"p-{sku}") for sku in ("TEE-S", "TEE-M", "TEE-L")]
    warehouse.replace_table(con, "commercetools", "catalog", schemas.frame_from_records("catalog", catalog))
    stock = [
        StockLevel("lightspeed_x", "TEE-S", "berlin", 5, 0, 5, "i1", 101),
        StockLevel("lightspeed_x", "TEE-M", "berlin", 2, 0, 2, "i2", 102),
        StockLevel("lightspeed_x", "TEE-L", "berlin", 7, 0, 7, "i3", 103),
        StockLevel("lightspeed_x", "MUG-1", "berlin", 4, 0, 4, "i4", 104),
    ]
    warehouse.replace_table(con, "lightspeed_x", "stock", schemas.frame_from_records("stock", stock))
    return con


def baselines(*rows):
    return pd.DataFrame(rows, columns=["sku", "location_key", "level", "version"])


def test_first_sync_plans_every_known_sku_as_initial(con):
    plan, rejections = plan_stock(con, "lightspeed_x", baselines())
    assert sorted(plan["sku"]) == ["TEE-L", "TEE-M", "TEE-S"]
    assert set(plan["kind"]) == {"initial"}
    assert plan.set_index("sku").loc["TEE-S", "idempotency_key"] == "stock_lightspeed_x_to_commercetools|lightspeed_x|TEE-S@berlin|101"


def test_only_counts_that_moved_since_the_baseline_are_planned(con):
    plan, _ = plan_stock(con, "lightspeed_x", baselines(("TEE-S", "berlin", 5, 90), ("TEE-M", "berlin", 4, 91), ("TEE-L", "berlin", 7, 92)))
    assert plan[["sku", "expected_delta", "kind", "baseline_level"]].to_dict("records") == [
        {"sku": "TEE-M", "expected_delta": -2, "kind": "level_change", "baseline_level": 4}
    ]


def test_an_unknown_sku_is_rejected_with_the_field_and_a_reason(con):
    _, rejections = plan_stock(con, "lightspeed_x", baselines())
    assert [(r.record_ref, r.field) for r in rejections] == [("MUG-1@berlin", "sku")]
    assert "not in the commercetools catalog" in rejections[0].reason


def test_plan_keys_are_the_canonical_idempotency_keys_the_fast_lane_and_reprocess_also_use(con):
    from omnisync_pipelines.canonical.keys import idempotency_key

    plan, _ = plan_stock(con, "lightspeed_x", baselines())
    for row in plan.itertuples():
        assert row.idempotency_key == idempotency_key(
            "lightspeed_x", f"{row.sku}@{row.location_key}", int(row.pos_version), "stock_lightspeed_x_to_commercetools"
        )
