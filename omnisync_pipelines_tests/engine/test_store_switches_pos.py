"""A store moves from one POS to another (docs/mixed-estate.md, "A store changes POS").

Contract: baselines are kept per (POS, SKU, store), and a POS keeps them only for the stores that
trade on it: at the switch the old POS retires the store's baselines (and its open writes and plan
watermarks), and a POS a store comes back to retires what it held from the earlier stint. The new POS has none, so its first count is an `initial` alignment (commercetools set to
the new till's count, whatever the old POS said); from then on its changes are relative to its own
baseline. The old POS's plan no longer covers the store, so a late change in its stale snapshot moves
nothing. A store that moves back is aligned again the same way. No unit is counted twice or lost.
"""

from datetime import UTC, datetime

import duckdb
import pytest

from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.canonical.models import CatalogItem, Order, OrderLine, StockLevel
from omnisync_pipelines.config import parse_config
from omnisync_pipelines.connectors.commercetools.connector import CommercetoolsConnector
from omnisync_pipelines.defs.stock_flow import settle_store_moves
from omnisync_pipelines.engine.fulfilment import fulfilment_flow, plan_fulfilment
from omnisync_pipelines.engine.stock_plan import plan_stock
from omnisync_pipelines.engine.stock_push import push_stock
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.store import warehouse
from omnisync_pipelines_tests.engine.conftest import emulated_commercetools
from omnisync_pipelines_tests.stand_in_pos import stand_in_registered

pytestmark = pytest.mark.anyio
OLD = "lightspeed_x"


@pytest.fixture
def new_pos():
    with stand_in_registered() as stand_in:
        yield stand_in


@pytest.fixture
def con():
    con = duckdb.connect()
    catalog = [CatalogItem("commercetools", "TEE-M", "tee", "TEE-M", "p-tee-m")]
    warehouse.replace_table(con, "commercetools", "catalog", schemas.frame_from_records("catalog", catalog))
    return con


@pytest.fixture
async def ct():
    client = await emulated_commercetools(CommercetoolsEmulator(seed=5), ("store-berlin", "store-munich"))
    connector = CommercetoolsConnector(client, {"store-berlin": "berlin", "store-munich": "munich"})
    yield connector
    await connector.aclose()


def estate(new_pos: str, munich_on: str):
    return parse_config({
        "systems": {"commercetools": {"api_url": "https://api.example", "auth_url": "https://auth.example",
                                      "project_key": "shop"},
                    OLD: {"base_url": "https://shop.example", "domain_prefix": "shop"},
                    new_pos: {"base_url": "https://tills.example"}},
        "locations": [
            {"key": "berlin", "commercetools": {"supply_channel_key": "store-berlin"}, OLD: {"outlet_id": "o-1"}},
            {"key": "munich", "pos": munich_on, "commercetools": {"supply_channel_key": "store-munich"},
             OLD: {"outlet_id": "o-2"}, new_pos: {"shop_id": "shop-9"}},
        ],
    })


def till_counts(con, pos: str, counts: dict[str, tuple[int, int]]) -> None:
    """The POS snapshot: store -> (count of TEE-M, version)."""
    levels = [StockLevel(pos, "TEE-M", store, level, 0, level, f"{store}-tee", version)
              for store, (level, version) in counts.items()]
    warehouse.replace_table(con, pos, "stock", schemas.frame_from_records("stock", levels))


async def sync(con, ops, ct, config, pos: str):
    """What a sync run's stock plan and push do for one POS of the estate."""
    settle_store_moves(ops, config, pos)
    rows, rejected = plan_stock(con, pos, ops.baselines_frame(pos), locations=config.location_keys_of(pos))
    assert rejected == []
    await push_stock(rows, ct, ops, pos_system=pos)
    return rows


async def on_hand(ct, store: str) -> int:
    return (await ct.read_stock("TEE-M", store)).quantity_on_stock


async def test_munich_moves_to_the_new_tills_without_a_unit_counted_twice_or_lost(con, ct, ops, new_pos):
    before, after = estate(new_pos, OLD), estate(new_pos, new_pos)

    till_counts(con, OLD, {"berlin": (5, 10), "munich": (10, 11)})
    await sync(con, ops, ct, before, OLD)
    till_counts(con, OLD, {"berlin": (5, 10), "munich": (9, 12)})  # a sale on the old till
    await sync(con, ops, ct, before, OLD)
    assert (await on_hand(ct, "berlin"), await on_hand(ct, "munich")) == (5, 9)

    # the switch: the stock take puts the store's 9 units on the new till; a void rung up late on the
    # old till after the cutover (+1) stays in the old POS's snapshot and moves nothing any more
    till_counts(con, new_pos, {"munich": (9, 1)})
    till_counts(con, OLD, {"berlin": (5, 10), "munich": (10, 13)})
    first = await sync(con, ops, ct, after, new_pos)
    old = await sync(con, ops, ct, after, OLD)
    assert first[["location_key", "kind"]].values.tolist() == [["munich", "initial"]]
    assert old.empty
    assert await on_hand(ct, "munich") == 9

    till_counts(con, new_pos, {"munich": (8, 2)})  # the first sale on the new till
    assert (await sync(con, ops, ct, after, new_pos))["kind"].tolist() == ["level_change"]
    assert (await on_hand(ct, "berlin"), await on_hand(ct, "munich")) == (5, 8)
    assert ops.baseline(OLD, "TEE-M", "munich") is None  # retired: the old POS no longer holds the store
    assert ops.baseline(OLD, "TEE-M", "berlin")["level"] == 5
    assert ops.baseline(new_pos, "TEE-M", "munich")["level"] == 8


async def test_a_store_that_moves_back_is_aligned_again_to_the_count_of_the_tills_it_returns_to(con, ct, ops, new_pos):
    on_old, on_new = estate(new_pos, OLD), estate(new_pos, new_pos)
    till_counts(con, OLD, {"berlin": (5, 10), "munich": (10, 11)})
    await sync(con, ops, ct, on_old, OLD)
    till_counts(con, new_pos, {"munich": (7, 1)})
    await sync(con, ops, ct, on_new, new_pos)
    assert await on_hand(ct, "munich") == 7

    # back to the old tills, whose count the retailer set to the 6 units on the shelf: aligned to 6, not
    # moved by 10 -> 6 from a baseline of its first stint (which would leave commercetools at 3)
    till_counts(con, OLD, {"berlin": (5, 10), "munich": (6, 14)})
    rows = await sync(con, ops, ct, on_old, OLD)  # the new POS has no store left: its plan no longer runs
    assert rows[["location_key", "kind"]].values.tolist() == [["munich", "initial"]]
    assert await on_hand(ct, "munich") == 6


def test_a_pickup_set_aside_at_the_old_tills_is_not_set_aside_again_at_the_new_ones(ops, new_pos):
    """Hamburg took a click-and-collect order on the old tills, then moved: the new POS's fulfilment
    plan sees the order (its store now trades there) but the goods are already set aside."""
    order = Order("commercetools", "ct-order-1", "WEB-1", "online", "EUR", 1999, 319, 0, "Open",
                  datetime(2026, 11, 2, 13, 7, tzinfo=UTC), location_key="hamburg", fulfilment="click_and_collect")
    line = OrderLine("commercetools", "ct-order-1", "line-1", "TEE-RED-S", 1, 1999, 0, 319, 1999)
    old_flow, new_flow = fulfilment_flow(OLD), fulfilment_flow(new_pos)
    key = plan_fulfilment([order], [line], ops, old_flow, fallback_stores={}, default_fallback=[])["idempotency_key"][0]
    ops.mark_retrying(key, flow=old_flow, target=OLD, source="commercetools", record_ref="WEB-1", payload={})
    ops.mark_applied(key, {"status": "applied", "store": "hamburg"})

    plan = plan_fulfilment([order], [line], ops, new_flow, fallback_stores={}, default_fallback=[],
                           other_flows=[old_flow])

    assert plan["status"].tolist() == ["assigned_elsewhere"]
    assert plan_fulfilment([order], [line], ops, new_flow, fallback_stores={},
                           default_fallback=[])["status"].tolist() == ["to_assign"]  # what it did without knowing
