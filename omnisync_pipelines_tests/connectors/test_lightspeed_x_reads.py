"""Reads the retail day depends on, through `LightspeedXConnector` against the emulator.

Contract: outlet and customer-group price books come back as scoped, tax-inclusive prices (a
quantity break or an unmapped outlet is a rejection naming its field, and a changed entry shows in
the delta); sales are read across several pages of `sales_page_size` by version cursor without
losing or repeating one; gift card and store credit tenders (by name, keyword or `type:<id>`)
come back as their canonical payment methods with their amounts. The emulator enforces the real
request budget, 300 x registers + 50 per 5 minutes per token, answering the next request 429 with
an HTTP-date `Retry-After` at the window's end.
"""

from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime

import httpx
import pytest

from omnisync_pipelines.canonical.models import CatalogItem, Price
from omnisync_pipelines.connectors.lightspeed_x import drafts
from omnisync_pipelines.connectors.lightspeed_x.client import build_client
from omnisync_pipelines.connectors.lightspeed_x.connector import LightspeedXConnector
from omnisync_pipelines.connectors.lightspeed_x.settings import LightspeedXSettings
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport

pytestmark = pytest.mark.anyio
BASE = "https://omnisync-sandbox.retail.lightspeed.app"
T = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
TENDERS = (("Cash", "1"), ("Gift Card", "9"), ("Store Credit", "11"), ("Geschenkgutschein", "12"), ("Guthaben", "13"))


@pytest.fixture
async def shop():
    emu = LightspeedXEmulator(seed=41)
    tax = emu.seed_tax("VAT", 0.19)
    berlin, paris = emu.seed_outlet("Berlin", default_tax_id=tax["id"]), emu.seed_outlet("Paris")
    register = emu.seed_register(berlin["id"], "R1")
    user = emu.seed_user("Till 1")
    types = {name: emu.seed_payment_type(name, type_id)["id"] for name, type_id in TENDERS}
    calls: list[dict] = []
    settings = LightspeedXSettings(domain_prefix="omnisync-sandbox", base_url=BASE, sales_page_size=2,
                                   personal_token=emu.credentials(BASE)["personal_token"])
    client = build_client(settings, transport=EmulatorTransport(emu.app), call_log=calls.append)
    connector = LightspeedXConnector(client, {berlin["id"]: "berlin"}, tender_map={"type:13": "store_credit"})
    ids = {}
    for sku, gross in (("TEE", 2000), ("MUG", 1190)):
        item = CatalogItem("commercetools", sku, None, sku.title(), "x", "{}")
        details = drafts.variant_details(item, Price("commercetools", sku, "EUR", gross, "x"), tax_rate=Decimal("0.19"),
                                         inventory={berlin["id"]: 50})
        (ids[sku],) = await client.create_product({**drafts.product_common(item), "tax_id": tax["id"]}, [details])
    yield {"emu": emu, "client": client, "connector": connector, "berlin": berlin, "paris": paris, "tax": tax,
           "register": register, "user": user, "types": types, "ids": ids, "calls": calls}
    await connector.aclose()


async def till_sale(shop, sku: str, quantity: int, payments: list[tuple[str, float]]) -> dict:
    """A closed sale of `quantity` x `sku` at its list price (TEE 16.80672 + 3.19328, MUG 10.00 + 1.90)."""
    net, tax = {"TEE": (16.80672, 3.19328), "MUG": (10.0, 1.9)}[sku]
    return await shop["client"].register_sale({
        "register_id": shop["register"]["id"], "user_id": shop["user"]["id"], "status": "CLOSED",
        "sale_date": T.isoformat(),
        "register_sale_products": [{"product_id": shop["ids"][sku], "quantity": quantity, "price": net, "tax": tax,
                                    "tax_id": shop["tax"]["id"]}],
        "register_sale_payments": [{"retailer_payment_type_id": shop["types"][name], "amount": amount,
                                    "payment_date": T.isoformat()} for name, amount in payments]})


async def price_book(shop, name: str, entries: list[dict], **scope) -> dict:
    scope.setdefault("customer_group_id", shop["emu"].all_customers["id"])  # a book for everyone names that group
    book = (await shop["client"].call("POST", "/api/2.0/price_books", json={"name": name, **scope}))["data"]
    await shop["client"].call("POST", f"/api/2.0/price_books/{book['id']}/products", json={"data": entries})
    return book


# ---------------------------------------------------------------- price books


async def test_outlet_and_customer_group_price_books_read_as_scoped_gross_prices(shop):
    ids, tax_id = shop["ids"], shop["tax"]["id"]
    berlin_book = await price_book(shop, "Berlin sale", [
        {"product_id": ids["TEE"], "price": 12.60504, "tax_id": tax_id},  # 15.00 gross
        {"product_id": ids["MUG"], "price": 8.0, "tax_id": tax_id, "min_units": 6},  # a quantity break
    ], outlet_id=shop["berlin"]["id"])
    await price_book(shop, "Staff", [{"product_id": ids["MUG"], "price": 5.0, "tax_id": tax_id}],
                     customer_group_id="group-staff", valid_from="2024-05-01T00:00:00Z", valid_to="2024-06-01T00:00:00Z")
    await price_book(shop, "Paris", [{"product_id": ids["TEE"], "price": 14.0, "tax_id": tax_id}],
                     outlet_id=shop["paris"]["id"])

    result = await shop["connector"].read("prices")

    books = sorted((p.sku, p.amount, p.location_key, p.customer_group, p.valid_until)
                   for p in result.tables["prices"] if p.system_id.startswith("price_book:"))
    assert books == [("MUG", 595, None, "group-staff", datetime(2024, 6, 1, tzinfo=UTC)),
                     ("TEE", 1500, "berlin", None, None)]
    base = sorted((p.sku, p.amount) for p in result.tables["prices"] if not p.system_id.startswith("price_book:"))
    assert base == [("MUG", 1190), ("TEE", 2000)]
    assert sorted(r.field for r in result.rejected) == ["min_units", "outlet_id"]

    await shop["client"].call("POST", f"/api/2.0/price_books/{berlin_book['id']}/products",
                              json={"data": [{"product_id": ids["TEE"], "price": 10.92437, "tax_id": tax_id}]})
    delta = await shop["connector"].read("prices", since=result.cursor)
    changed = {(p.sku, p.location_key): p.amount for p in delta.tables["prices"] if p.system_id.startswith("price_book:")}
    assert changed[("TEE", "berlin")] == 1300


# ---------------------------------------------------------------- sales paging and tenders


async def test_sales_are_read_across_several_small_pages_without_losing_or_repeating_one(shop):
    sold = [await till_sale(shop, "MUG", 1, [("Cash", 11.9)]) for _ in range(5)]
    shop["calls"].clear()

    result = await shop["connector"].read("orders")

    assert sorted(o.order_id for o in result.tables["orders"]) == sorted(s["id"] for s in sold)
    pages = [c["path"] for c in shop["calls"] if c["path"].startswith("/api/2.0/sales?")]
    assert len(pages) == 4 and all("page_size=2" in p for p in pages)  # 2 + 2 + 1, then the empty page
    assert result.cursor == str(max(s["version"] for s in sold))
    later = await till_sale(shop, "TEE", 1, [("Cash", 20.0)])
    assert [o.order_id for o in (await shop["connector"].read("orders", since=result.cursor)).tables["orders"]] == [
        later["id"]]


async def test_gift_card_and_store_credit_tenders_come_back_as_their_methods(shop):
    split = await till_sale(shop, "TEE", 3, [("Cash", 10.0), ("Gift Card", 25.0), ("Store Credit", 25.0)])
    voucher = await till_sale(shop, "MUG", 1, [("Geschenkgutschein", 11.9)])  # neither in the map nor a keyword
    credit = await till_sale(shop, "MUG", 2, [("Guthaben", 23.8)])  # `type:13` in the tender map

    result = await shop["connector"].read("orders")

    payments = {}
    for p in result.tables["order_payments"]:
        payments.setdefault(p.order_id, []).append((p.method, p.amount))
    assert sorted(payments[split["id"]]) == [("cash", 1000), ("gift_card", 2500), ("store_credit", 2500)]
    assert payments[credit["id"]] == [("store_credit", 2380)]
    totals = {o.order_id: o.total_gross for o in result.tables["orders"]}
    assert totals[split["id"]] == sum(amount for _, amount in payments[split["id"]]) == 6000
    # a tender the map and the keywords do not know is a rejection naming the payments, never a guess
    assert [(r.record_ref, r.field) for r in result.rejected] == [(voucher["id"], "payments")]


# ---------------------------------------------------------------- the emulator's default budget


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("registers", [1, 3])
async def test_the_default_budget_is_300_per_register_plus_50_per_5_minutes(registers):
    clock = Clock(1_714_557_600.0)  # 2024-05-01 10:00:00 UTC
    emu = LightspeedXEmulator(seed=2, clock=clock)
    outlet = emu.seed_outlet("Berlin")
    for i in range(registers):
        emu.seed_register(outlet["id"], f"R{i + 1}")
    budget = 300 * registers + 50
    async with httpx.AsyncClient(transport=EmulatorTransport(emu.app), base_url=BASE,
                                 headers={"authorization": f"Bearer {emu.personal_token}"}) as http:
        answered = [(await http.get("/api/2.0/outlets")).status_code for _ in range(budget)]
        clock.now += 299
        refused = await http.get("/api/2.0/outlets")
        till = await http.get("/api/2.0/outlets", headers={"authorization": f"Bearer {emu.issue_user_token()}"})
        clock.now += 1  # the window ends where Retry-After said
        again = await http.get("/api/2.0/outlets")

    assert answered == [200] * budget
    assert refused.status_code == 429 and refused.json()["error"] == "Too Many Requests"
    assert parsedate_to_datetime(refused.headers["retry-after"]).timestamp() == clock.now
    assert refused.headers["x-ratelimit-limit"] == str(budget)
    assert till.status_code == 200  # a till's own token has its own budget
    assert again.status_code == 200
