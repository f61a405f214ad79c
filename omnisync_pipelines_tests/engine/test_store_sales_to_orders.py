"""Store sales -> commercetools orders, against the in-process commercetools emulator.

Contract: each valid POS sale becomes one imported order (orderNumber `POS-<LOCATION>-<receipt>`,
Complete/Delivered/Paid, inventoryMode None, the store's channel on every line) with one payment per
tender (a Charge, keyed by the POS payment id) linked to it; a sale that does not add up is rejected
with the reason and the rest of the batch is imported; pushing the same batch again writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from omnisync_pipelines.canonical.models import Order, OrderLine, Payment
from omnisync_pipelines.connectors.commercetools.client import build_client
from omnisync_pipelines.connectors.commercetools.settings import CommercetoolsSettings
from omnisync_pipelines.engine.order_drafts import OrderSyncOptions, StoreRef, order_import_draft
from omnisync_pipelines.engine.orders import ensure_order_types, orders_flow, sync_store_sales
from omnisync_pipelines.rest.retry import RetryPolicy
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport
from omnisync_pipelines.store.ops import OpsStore

pytestmark = pytest.mark.anyio
BASE = "http://ct.test"
POS = "lightspeed_x"
SOLD_AT = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
SKUS = ("TEE-S", "MUG-1", "CAP-1")


# fixtures ------------------------------------------------------------------------------------
@pytest.fixture
def emulator():
    return CommercetoolsEmulator(seed=7)


@pytest.fixture
async def ct(emulator):
    creds = emulator.credentials(BASE)
    settings = CommercetoolsSettings(
        api_url=creds["api_url"], auth_url=creds["auth_url"], project_key=creds["project_key"],
        client_id=creds["client_id"], client_secret=SecretStr(creds["client_secret"]), scopes=creds.get("scopes"),
    )
    http = httpx.AsyncClient(transport=EmulatorTransport(emulator.app), base_url=BASE)
    client = build_client(settings, http=http, retry=RetryPolicy(max_attempts=2))
    yield client
    await client.aclose()


async def seed_world(client) -> dict[str, StoreRef]:
    """The Berlin store (supply channel + store) and the products sold there."""
    channel = await client.create("channels", {"key": "store-berlin", "roles": ["InventorySupply"], "name": {"en": "Berlin"}})
    await client.create("stores", {"key": "berlin", "name": {"en": "Berlin"},
                                   "supplyChannels": [{"typeId": "channel", "id": channel["id"]}]})
    product_type = await client.create("product-types", {"key": "goods", "name": "goods", "description": "goods"})
    for sku in SKUS:
        await client.create("products", {
            "key": sku.lower(), "productType": {"typeId": "product-type", "id": product_type["id"]},
            "name": {"en": sku}, "slug": {"en": sku.lower()}, "publish": True,
            "masterVariant": {"sku": sku, "prices": [{"value": {"currencyCode": "EUR", "centAmount": 1999}}]},
        })
    return {"berlin": StoreRef(channel_id=channel["id"], store_key="berlin", country="DE")}


def vat(gross: int) -> int:
    """19 % VAT included in a gross amount, as the POS rounds it."""
    return gross - round(gross / 1.19)


def line(order_id: str, n: int, sku: str, quantity: int, unit: int, discount: int = 0) -> OrderLine:
    total = quantity * unit - discount
    return OrderLine(POS, order_id, f"{order_id}-L{n}", sku, quantity, unit, discount, vat(total), total)


def sale(order_id: str, number: str, lines: list[OrderLine], tenders: list[tuple[str, int]], *,
         customer_ref: str | None = None, email: str | None = None, total: int | None = None):
    gross = sum(li.total for li in lines) if total is None else total
    order = Order(
        system=POS, order_id=order_id, order_number=number, channel="store", currency="EUR",
        total_gross=gross, total_tax=sum(li.tax for li in lines), total_discount=sum(li.discount for li in lines),
        status="CLOSED", created_at=SOLD_AT, location_key="berlin", customer_ref=customer_ref,
        customer_email=email, fulfilment="in_store", updated_at=SOLD_AT,
    )
    payments = [Payment(POS, order_id, f"{order_id}-P{i}", method, amount, "EUR") for i, (method, amount) in enumerate(tenders)]
    return order, lines, payments


def batch(*sales):
    return ([s[0] for s in sales], [li for s in sales for li in s[1]], [p for s in sales for p in s[2]])


async def push(ct, ops, stores, *sales, customers=None):
    orders, lines, payments = batch(*sales)
    return await sync_store_sales(orders, lines, payments, ct, ops, pos_system=POS, stores=stores,
                                  customers=(customers or {}).get)


async def payments_of(ct, order: dict) -> list[dict]:
    return [await ct.get_by_id("payments", ref["id"]) for ref in order["paymentInfo"]["payments"]]


def tenders(payments: list[dict]) -> list[tuple[str, str, int, str, str]]:
    return sorted((p["key"], p["paymentMethodInfo"]["method"], t["amount"]["centAmount"], t["type"], t["state"])
                  for p in payments for t in p["transactions"])


# tests ---------------------------------------------------------------------------------------
async def test_cash_sale_to_a_guest(ct, ops):
    stores = await seed_world(ct)
    outcome = await push(ct, ops, stores, sale("s1", "1001", [line("s1", 1, "TEE-S", 1, 1999)], [("cash", 1999)],
                                               email="ann@example.com"))
    assert (outcome.statistics.applied, outcome.statistics.rejected, outcome.rejections) == (1, 0, [])

    order = await ct.get_order_by_number("POS-BERLIN-1001")
    assert order["customerEmail"] == "ann@example.com" and "customerId" not in order
    assert (order["orderState"], order["shipmentState"], order["paymentState"], order["inventoryMode"]) == (
        "Complete", "Delivered", "Paid", "None")
    assert order["store"]["key"] == "berlin" and order["completedAt"] == "2024-05-01T10:00:00.000Z"
    assert order["totalPrice"]["centAmount"] == 1999
    taxed = order["taxedPrice"]
    assert (taxed["totalGross"]["centAmount"], taxed["totalNet"]["centAmount"], taxed["totalTax"]["centAmount"]) == (1999, 1680, 319)
    assert [(p["rate"], p["amount"]["centAmount"]) for p in taxed["taxPortions"]] == [(0.19, 319)]
    (item,) = order["lineItems"]
    assert (item["variant"]["sku"], item["quantity"], item["price"]["value"]["centAmount"]) == ("TEE-S", 1, 1999)
    assert item["supplyChannel"]["id"] == stores["berlin"].channel_id
    assert item["taxRate"] == {"name": "19.0%", "amount": 0.19, "includedInPrice": True, "country": "DE"}
    fields = order["custom"]["fields"]
    assert fields == {"posSaleId": "s1", "storeKey": "berlin", "fulfilment": "in_store"}
    assert tenders(await payments_of(ct, order)) == [("pos-lightspeed_x-s1-P0", "cash", 1999, "Charge", "Success")]
    assert await ct.query("inventory") == []  # stock is the stock flow's, never moved by an order import
    assert ops.ledger_status(f"{orders_flow(POS)}|{POS}|s1|{SOLD_AT.isoformat()}") == "applied"


async def test_card_sale_to_a_linked_customer(ct, ops):
    stores = await seed_world(ct)
    customer = (await ct.create("customers", {"email": "bob@example.com", "password": "x", "key": "bob"}))["customer"]
    outcome = await push(ct, ops, stores, sale("s2", "1002", [line("s2", 1, "MUG-1", 2, 1250)], [("card", 2500)],
                                               customer_ref="pos-42"), customers={"pos-42": customer["id"]})
    assert outcome.statistics.applied == 1
    order = await ct.get_order_by_number("POS-BERLIN-1002")
    assert order["customerId"] == customer["id"] and "customerEmail" not in order
    assert tenders(await payments_of(ct, order)) == [("pos-lightspeed_x-s2-P0", "card", 2500, "Charge", "Success")]


async def test_split_payment_cash_card_and_gift_card(ct, ops):
    stores = await seed_world(ct)
    lines = [line("s3", 1, "TEE-S", 2, 1999), line("s3", 2, "CAP-1", 1, 999)]
    await push(ct, ops, stores, sale("s3", "1003", lines, [("cash", 1000), ("card", 2997), ("gift_card", 1000)]))
    order = await ct.get_order_by_number("POS-BERLIN-1003")
    payments = await payments_of(ct, order)
    assert len(payments) == 3 and order["totalPrice"]["centAmount"] == 4997
    assert tenders(payments) == [
        ("pos-lightspeed_x-s3-P0", "cash", 1000, "Charge", "Success"),
        ("pos-lightspeed_x-s3-P1", "card", 2997, "Charge", "Success"),
        ("pos-lightspeed_x-s3-P2", "gift_card", 1000, "Charge", "Success"),
    ]
    assert sum(p["amountPlanned"]["centAmount"] for p in payments) == 4997


async def test_discount_applied_at_the_register_line_and_whole_sale(ct, ops):
    stores = await seed_world(ct)
    line_discount = sale("s4", "1004", [line("s4", 1, "TEE-S", 2, 1999, discount=400)], [("cash", 3598)])
    # 10 % off the whole sale (300 of 2999), allocated to the lines by the POS: 100 and 200.
    whole_sale = sale("s5", "1005", [line("s5", 1, "MUG-1", 1, 1000, discount=100), line("s5", 2, "TEE-S", 1, 1999, discount=200)],
                      [("card", 2699)])
    uneven = sale("s6", "1006", [line("s6", 1, "CAP-1", 3, 1000, discount=100)], [("cash", 2900)])
    outcome = await push(ct, ops, stores, line_discount, whole_sale, uneven)
    assert outcome.statistics.applied == 3

    def items(order):
        return [(i["variant"]["sku"], i["quantity"], i["price"]["value"]["centAmount"],
                 i["custom"]["fields"]["listUnitPrice"]["centAmount"], i["custom"]["fields"]["lineDiscount"]["centAmount"])
                for i in order["lineItems"]]

    first = await ct.get_order_by_number("POS-BERLIN-1004")
    assert items(first) == [("TEE-S", 2, 1799, 1999, 400)] and first["totalPrice"]["centAmount"] == 3598
    second = await ct.get_order_by_number("POS-BERLIN-1005")
    assert items(second) == [("MUG-1", 1, 900, 1000, 100), ("TEE-S", 1, 1799, 1999, 200)]
    assert second["totalPrice"]["centAmount"] == 2699
    third = await ct.get_order_by_number("POS-BERLIN-1006")  # 29.00 for 3 does not divide: 2 x 9.67 + 1 x 9.66
    assert items(third) == [("CAP-1", 2, 967, 1000, 100), ("CAP-1", 1, 966, 1000, 100)]
    assert sum(i["totalPrice"]["centAmount"] for i in third["lineItems"]) == third["totalPrice"]["centAmount"] == 2900


async def test_sale_whose_lines_do_not_add_up_is_rejected_while_the_rest_is_imported(ct, ops):
    stores = await seed_world(ct)
    broken = sale("s7", "1007", [line("s7", 1, "TEE-S", 1, 1999)], [("cash", 2099)], total=2099)
    good = sale("s8", "1008", [line("s8", 1, "MUG-1", 1, 1250)], [("cash", 1250)])
    outcome = await push(ct, ops, stores, broken, good)
    assert (outcome.statistics.processed, outcome.statistics.applied, outcome.statistics.rejected) == (2, 1, 1)
    (rejection,) = outcome.rejections
    assert (rejection.record_ref, rejection.field) == ("s7", "total_gross")
    assert rejection.reason == "lines add up to 1999, order total is 2099 (difference -100 minor units)"
    assert await ct.get_order_by_number("POS-BERLIN-1007") is None
    assert (await ct.get_order_by_number("POS-BERLIN-1008"))["totalPrice"]["centAmount"] == 1250
    stored = ops.rejected_frame("open")
    assert list(zip(stored["record_ref"], stored["field"], strict=True)) == [("s7", "total_gross")]


async def test_validation_names_each_problem(ct, ops):
    stores = await seed_world(ct)
    unknown_store = sale("s9", "1009", [line("s9", 1, "TEE-S", 1, 1999)], [("cash", 1999)])
    unknown_store = (unknown_store[0].__class__(**{**unknown_store[0].to_row(), "location_key": "paris"}),
                     *unknown_store[1:])
    empty = sale("s10", "1010", [], [], total=0)
    zero = sale("s11", "1011", [line("s11", 1, "TEE-S", 0, 1999)], [])
    underpaid = sale("s12", "1012", [line("s12", 1, "TEE-S", 1, 1999)], [("cash", 1000), ("card", 500)])
    usd = sale("s13", "1013", [line("s13", 1, "TEE-S", 1, 1999)], [])
    usd = (usd[0], usd[1], [Payment(POS, "s13", "s13-P0", "card", 1999, "USD")])
    outcome = await push(ct, ops, stores, unknown_store, empty, zero, underpaid, usd)
    found = sorted((r.record_ref, r.field) for r in outcome.rejections)
    assert found == [("s10", "lines"), ("s11", "quantity"), ("s12", "payments"), ("s13", "currency"),
                     ("s9", "location_key")]
    assert (outcome.statistics.rejected, outcome.statistics.applied) == (5, 0)
    assert [r.reason for r in outcome.rejections if r.record_ref == "s12"] == [
        "payments add up to 1500, order total is 1999 (difference -499 minor units)"]
    assert await ct.query("orders") == []


async def test_pushing_the_same_batch_twice_creates_nothing_the_second_time(ct, ops):
    stores = await seed_world(ct)
    sales = [
        sale("s20", "2001", [line("s20", 1, "TEE-S", 1, 1999)], [("cash", 1999)]),
        sale("s21", "2002", [line("s21", 1, "MUG-1", 2, 1250)], [("card", 1500), ("gift_card", 1000)]),
    ]
    first = await push(ct, ops, stores, *sales)
    orders_before, payments_before = await ct.query("orders"), await ct.query("payments")
    second = await push(ct, ops, stores, *sales)
    assert (first.statistics.applied, second.statistics.applied, second.statistics.already_applied) == (2, 0, 2)
    assert second.statistics.api_writes == 0
    assert [(o["id"], o["version"]) for o in await ct.query("orders")] == [(o["id"], o["version"]) for o in orders_before]
    assert len(orders_before) == 2 and len(payments_before) == 3 and len(await ct.query("payments")) == 3


async def test_a_retry_after_a_lost_ledger_write_finds_order_and_payments(ct, ops, tmp_path):
    """The order and payments exist but the ledger never heard: the retry links, never duplicates."""
    stores = await seed_world(ct)
    sales = [sale("s30", "3001", [line("s30", 1, "TEE-S", 1, 1999)], [("cash", 999), ("card", 1000)])]
    await push(ct, ops, stores, *sales)
    fresh_ops = OpsStore.from_url(f"sqlite:///{tmp_path / 'other.sqlite'}")
    again = await push(ct, fresh_ops, stores, *sales)
    assert (again.statistics.already_applied, again.statistics.applied) == (1, 0)
    order = await ct.get_order_by_number("POS-BERLIN-3001")
    assert len(order["paymentInfo"]["payments"]) == 2 and len(await ct.query("payments")) == 2


async def test_a_second_sale_deriving_a_taken_order_number_is_rejected_not_merged_into_the_first(ct, ops):
    """Two registers of one store both print invoice 4001: the second sale must not be taken as the
    first one's retry (its card payment added to the first order); it is rejected, naming both."""
    stores = await seed_world(ct)
    first = await push(ct, ops, stores, sale("s40", "4001", [line("s40", 1, "TEE-S", 1, 1999)], [("cash", 1999)]))
    second = await push(ct, ops, stores, sale("s41", "4001", [line("s41", 1, "MUG-1", 2, 500)], [("card", 1000)]))
    assert (first.statistics.applied, second.statistics.applied, second.statistics.already_applied) == (1, 0, 0)
    assert second.statistics.rejected == 1
    [rejection] = second.rejections
    assert rejection.record_ref == "s41"
    assert "POS-BERLIN-4001 already belongs to POS sale s40" in rejection.reason
    order = await ct.get_order_by_number("POS-BERLIN-4001")
    assert order["totalPrice"]["centAmount"] == 1999
    assert [m for _key, m, *_ in tenders(await payments_of(ct, order))] == ["cash"]
    open_rows = ops.rejected_frame("open")
    assert open_rows[open_rows["flow"] == orders_flow(POS)]["record_ref"].tolist() == ["s41"]


async def test_an_order_imported_before_pos_sale_ids_is_found_as_the_sales_own(ct, ops):
    """An order an older omnisync imported carries the number but no posSaleId: the sale is taken
    as already imported (its payment linked), not refused as another sale's number."""
    stores = await seed_world(ct)
    old = sale("s50", "5001", [line("s50", 1, "TEE-S", 1, 1999)], [("cash", 1999)])
    await ensure_order_types(ct)
    draft = order_import_draft(old[0], old[1], stores["berlin"], None, OrderSyncOptions())
    del draft["custom"]["fields"]["posSaleId"]
    await ct.import_order(draft)
    again = await push(ct, ops, stores, old)
    assert (again.statistics.already_applied, again.statistics.rejected) == (1, 0)
    order = await ct.get_order_by_number("POS-BERLIN-5001")
    assert [m for _key, m, *_ in tenders(await payments_of(ct, order))] == ["cash"]
