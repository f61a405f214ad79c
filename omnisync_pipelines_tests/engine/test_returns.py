"""POS returns -> commercetools return info, refund and restock, against the in-process emulator.

Contract: a return is recorded on its original order (an in-store sale found by its POS sale id, an
online order by its orderNumber or id) as returnInfo whose items end BackInStock and Refunded, with a
Refund transaction carrying the POS return id; stock goes back once under `restock_via="return"` and
not at all under the default `stock_flow` (the POS count carries it); unmapped reasons and unknown
orders are rejected with the field; pushing the same returns again changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omnisync_pipelines.canonical.models import Return, ReturnLine
from omnisync_pipelines.engine.returns import ReturnSyncOptions, sync_returns
from omnisync_pipelines_tests.engine import test_store_sales_to_orders as sales
from omnisync_pipelines_tests.engine.test_store_sales_to_orders import POS, line, push, sale, seed_world

emulator, ct = sales.emulator, sales.ct  # the same emulator and client fixtures (ops: conftest)

pytestmark = pytest.mark.anyio
RETURNED_AT = datetime(2024, 5, 3, 9, 0, tzinfo=UTC)
REASONS = {"damaged": "DAMAGED", "wrong size": "SIZE"}


# fixtures ------------------------------------------------------------------------------------
def pos_return(return_id: str, original: str | None, lines: list[tuple[str, int, int]], *, reason: str | None = "wrong size",
               restock: bool = True) -> tuple[Return, list[ReturnLine]]:
    rows = [ReturnLine(POS, return_id, f"{return_id}-L{i}", sku, qty, refund, None, restock)
            for i, (sku, qty, refund) in enumerate(lines)]
    ret = Return(POS, return_id, "EUR", sum(r.refund_amount for r in rows), RETURNED_AT, original, "berlin", reason)
    return ret, rows


async def push_returns(ct, ops, stores, *returns, restock_via="stock_flow"):
    options = ReturnSyncOptions(reason_codes=REASONS, restock_via=restock_via)
    return await sync_returns([r for r, _ in returns], [li for _, rows in returns for li in rows], ct, ops,
                              pos_system=POS, stores=stores, options=options)


def return_items(order: dict) -> list[tuple]:
    return [(info["returnTrackingId"], i["quantity"], i["shipmentState"], i["paymentState"], i["comment"])
            for info in order["returnInfo"] for i in info["items"]]


async def refunds(ct, order: dict) -> list[tuple[str, int, str, str]]:
    payments = [await ct.get_by_id("payments", ref["id"]) for ref in order["paymentInfo"]["payments"]]
    return [(p["key"], t["amount"]["centAmount"], t["state"], t["interactionId"])
            for p in payments for t in p["transactions"] if t["type"] == "Refund"]


async def stock(ct, stores, sku: str) -> int | None:
    entry = await ct.find_inventory_entry(sku, stores["berlin"].channel_id)
    return None if entry is None else entry["quantityOnStock"]


# tests ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("restock_via", "restocked"), [("return", 1), ("stock_flow", None)])
async def test_return_of_an_in_store_purchase(ct, ops, restock_via, restocked):
    stores = await seed_world(ct)
    await push(ct, ops, stores, sale("s1", "1001", [line("s1", 1, "TEE-S", 2, 1999)], [("cash", 2000), ("card", 1998)]))
    ret = pos_return("r1", "s1", [("TEE-S", 1, 1999)])

    first = await push_returns(ct, ops, stores, ret, restock_via=restock_via)
    assert (first.statistics.applied, first.statistics.rejected) == (1, 0)
    order = await ct.get_order_by_number("POS-BERLIN-1001")
    assert return_items(order) == [("POS-RETURN-r1", 1, "BackInStock", "Refunded", "SIZE")]
    assert order["returnInfo"][0]["returnDate"] == "2024-05-03T09:00:00.000Z"
    assert await refunds(ct, order) == [("pos-lightspeed_x-s1-P0", 1999, "Success", "r1")]
    assert await stock(ct, stores, "TEE-S") == restocked

    again = await push_returns(ct, ops, stores, ret, restock_via=restock_via)
    assert (again.statistics.applied, again.statistics.already_applied, again.statistics.api_writes) == (0, 1, 0)
    order_after = await ct.get_order_by_number("POS-BERLIN-1001")
    assert order_after["version"] == order["version"]
    assert await refunds(ct, order_after) == [("pos-lightspeed_x-s1-P0", 1999, "Success", "r1")]
    assert await stock(ct, stores, "TEE-S") == restocked  # restocked once, or never by this flow


async def test_return_of_the_rest_and_a_damaged_item(ct, ops):
    """A second return takes the remaining quantity; an item not restocked ends Unusable."""
    stores = await seed_world(ct)
    await push(ct, ops, stores, sale("s2", "1002", [line("s2", 1, "MUG-1", 3, 1000)], [("card", 3000)]))
    await push_returns(ct, ops, stores, pos_return("r2", "s2", [("MUG-1", 2, 2000)]), restock_via="return")
    await push_returns(ct, ops, stores, pos_return("r3", "s2", [("MUG-1", 1, 1000)], reason="damaged", restock=False),
                       restock_via="return")
    outcome = await push_returns(ct, ops, stores, pos_return("r4", "s2", [("MUG-1", 1, 1000)]), restock_via="return")
    order = await ct.get_order_by_number("POS-BERLIN-1002")
    assert return_items(order) == [("POS-RETURN-r2", 2, "BackInStock", "Refunded", "SIZE"),
                                   ("POS-RETURN-r3", 1, "Unusable", "Refunded", "DAMAGED")]
    assert await stock(ct, stores, "MUG-1") == 2
    (rejection,) = outcome.rejections
    assert (rejection.record_ref, rejection.field) == ("r4", "quantity")
    assert rejection.reason == "returning 1 x MUG-1, but only 0 of 3 sold are still returnable"


async def test_return_in_store_of_an_online_purchase(ct, ops):
    stores = await seed_world(ct)
    online = await ct.import_order({
        "orderNumber": "WEB-5001", "customerEmail": "cy@example.com", "orderState": "Complete",
        "shipmentState": "Delivered", "paymentState": "Paid", "totalPrice": {"currencyCode": "EUR", "centAmount": 2998},
        "lineItems": [{"name": {"en": "Cap"}, "variant": {"sku": "CAP-1"}, "quantity": 2,
                       "price": {"value": {"currencyCode": "EUR", "centAmount": 1499}}}],
    })
    by_number = pos_return("r5", "WEB-5001", [("CAP-1", 1, 1499)])
    by_id = pos_return("r6", online.id, [("CAP-1", 1, 1499)], reason="damaged")
    outcome = await push_returns(ct, ops, stores, by_number, by_id, restock_via="return")
    assert (outcome.statistics.applied, outcome.rejections) == (2, [])
    order = await ct.get_order_by_number("WEB-5001")
    assert sorted(return_items(order)) == [("POS-RETURN-r5", 1, "BackInStock", "Refunded", "SIZE"),
                                           ("POS-RETURN-r6", 1, "BackInStock", "Refunded", "DAMAGED")]
    # the online order had no payment: one refund payment per return, linked to the order
    assert sorted(await refunds(ct, order)) == [("pos-refund-r5", 1499, "Success", "r5"),
                                                ("pos-refund-r6", 1499, "Success", "r6")]
    assert await stock(ct, stores, "CAP-1") == 2  # returned into the Berlin store's channel


async def test_unmapped_reason_code_is_rejected(ct, ops):
    stores = await seed_world(ct)
    await push(ct, ops, stores, sale("s7", "1007", [line("s7", 1, "TEE-S", 1, 1999)], [("cash", 1999)]))
    outcome = await push_returns(ct, ops, stores, pos_return("r7", "s7", [("TEE-S", 1, 1999)], reason="changed mind"))
    (rejection,) = outcome.rejections
    assert (rejection.record_ref, rejection.field) == ("r7", "reason_code")
    assert rejection.reason == "POS reason 'changed mind' has no configured commercetools reason code"
    assert (outcome.statistics.rejected, outcome.statistics.applied) == (1, 0)
    assert (await ct.get_order_by_number("POS-BERLIN-1007"))["returnInfo"] == []
    stored = ops.rejected_frame("open")
    assert list(zip(stored["flow"], stored["field"], strict=True)) == [("returns_lightspeed_x_to_commercetools", "reason_code")]


async def test_unknown_original_order_is_rejected(ct, ops):
    stores = await seed_world(ct)
    outcome = await push_returns(ct, ops, stores, pos_return("r8", "no-such-sale", [("TEE-S", 1, 1999)]))
    (rejection,) = outcome.rejections
    assert (rejection.record_ref, rejection.field) == ("r8", "original_order_ref")
    assert (outcome.statistics.rejected, outcome.statistics.failed) == (1, 0)
    assert await ct.query("payments") == []


async def test_sale_and_its_return_in_one_batch_sales_first(ct, ops):
    """Later the sale is pushed (its batch ran first): the return that was rejected now applies."""
    stores = await seed_world(ct)
    ret = pos_return("r9", "s9", [("TEE-S", 1, 1999)])
    early = await push_returns(ct, ops, stores, ret)
    assert [r.field for r in early.rejections] == ["original_order_ref"]
    await push(ct, ops, stores, sale("s9", "1009", [line("s9", 1, "TEE-S", 1, 1999)], [("cash", 1999)]))
    late = await push_returns(ct, ops, stores, ret)
    assert (late.statistics.applied, late.rejections) == (1, [])
    assert ops.rejected_frame("open").empty


async def test_two_returns_racing_for_the_last_unit_apply_once(ct, ops):
    stores = await seed_world(ct)
    await push(ct, ops, stores, sale("s10", "1010", [line("s10", 1, "MUG-1", 1, 1000)], [("card", 1000)]))
    outcome = await push_returns(ct, ops, stores, pos_return("r10", "s10", [("MUG-1", 1, 1000)]),
                                 pos_return("r11", "s10", [("MUG-1", 1, 1000)]))
    assert (outcome.statistics.applied, outcome.statistics.rejected) == (1, 1)
    assert [r.field for r in outcome.rejections] == ["quantity"]
    order = await ct.get_order_by_number("POS-BERLIN-1010")
    assert len(return_items(order)) == 1 and len(await refunds(ct, order)) == 1
