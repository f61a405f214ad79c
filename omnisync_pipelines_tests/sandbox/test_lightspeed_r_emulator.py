"""The Lightspeed Retail R-Series emulator (issue 19, first part), played over HTTP as a client would.

Contract (vendor docs in ../shared/vendor_api/lightspeed_r/docs, API_FACTS §3): V3 cursor paging walks
every record once and back; `timeStamp=>,…` returns only changes; `load_relations` embeds ItemShops;
JSON is XML-shaped (strings, one child an object, several an array, none ""); an absolute qoh write
logs the difference in InventoryLog and a completed sale takes stock; refresh tokens rotate and a used
one fails once its successor is used; the leaky bucket (90, 1/s, 2026-03-17 costs) answers 429 with
Retry-After and drains at the drip rate on an injected clock; the burst limiter; fault injection;
stock documents (purchase orders checked in, transfers sent then received in the UI, counts reconciled),
each logged against its document; PKCE and refresh-token revocation.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import secrets
from datetime import UTC, datetime

import httpx
import pytest

from omnisync_pipelines.sandbox.emulators.lightspeed_r import LightspeedREmulator, transfers
from omnisync_pipelines.sandbox.transport import EmulatorTransport

START = 1_780_000_000.0  # 2026-05-28T20:26:40Z


class Clock:
    """The emulator's clock; every request made through `client()` advances it by `tick` seconds
    (so a scenario never trips the 1-s burst limiter by accident)."""

    def __init__(self):
        self.now, self.tick = START, 0.25

    def __call__(self) -> float:
        return self.now


CLOCK = Clock()
EMU = LightspeedREmulator(seed=3, clock=CLOCK)
A = f"/API/V3/Account/{EMU.account_id}"


@pytest.fixture(autouse=True)
def drained_bucket():
    """Each scenario starts with the bucket empty (200 s of drip) and the default tick."""
    CLOCK.now += 200
    CLOCK.tick = 0.25


def run(scenario):
    return asyncio.run(scenario())


def client(token: str | None = None) -> httpx.AsyncClient:
    async def tick(request):
        CLOCK.now += CLOCK.tick

    access = token or EMU.issue_tokens()["access_token"]
    return httpx.AsyncClient(transport=EmulatorTransport(EMU.app), base_url="https://api.lightspeedapp.test",
                             headers={"Authorization": f"Bearer {access}"}, event_hooks={"request": [tick]})


async def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def as_list(block) -> list:
    return block if isinstance(block, list) else [block] if block else []


def strings_only(node) -> bool:
    if isinstance(node, dict):
        return all(strings_only(v) for v in node.values())
    if isinstance(node, list):
        return all(strings_only(v) for v in node)
    return isinstance(node, str)


def test_paging_walks_every_record_exactly_once_forward_and_back():
    ids = {str(EMU.seed_item(f"Page {i}", f"PAGE-{i:02d}")["itemID"]) for i in range(23)}

    async def scenario():
        async with client() as c:
            seen, url, params, pages = [], f"{A}/Item.json", {"customSku": "~,PAGE-%", "limit": "5"}, []
            while url:
                body = await ok(await c.get(url, params=params))
                params = None  # next URLs carry every parameter
                pages.append(body)
                seen += [i["itemID"] for i in as_list(body.get("Item"))]
                url = body["@attributes"]["next"]
            assert len(seen) == len(set(seen)) == 23 and set(seen) == ids
            assert pages[0]["@attributes"]["previous"] == "" and len(pages) == 5
            first_next = pages[0]["@attributes"]["next"]
            assert "sort=itemID" in first_next and "limit=5" in first_next  # defaults appended
            cursor = httpx.URL(first_next).params["after"]
            assert json.loads(base64.b64decode(cursor)) == [int(seen[4])]  # base64 of the last sort key
            back = await ok(await c.get(pages[-1]["@attributes"]["previous"]))
            assert [i["itemID"] for i in back["Item"]] == seen[15:20]
            down = await ok(await c.get(f"{A}/Item.json", params={"customSku": "~,PAGE-%", "sort": "-itemID", "limit": "100"}))
            assert [i["itemID"] for i in down["Item"]] == sorted(seen, key=int, reverse=True)
            assert down["@attributes"] == {"next": "", "previous": ""}
            count = await ok(await c.get(f"{A}/Item.json", params={"customSku": "~,PAGE-%", "count": "1"}))
            assert count == {"@attributes": {"count": "23"}}
    run(scenario)


def test_timestamp_delta_query_returns_only_changes():
    items = [EMU.seed_item(f"Delta {i}", f"DELTA-{i}") for i in range(4)]
    CLOCK.now += 60
    since = datetime.fromtimestamp(int(CLOCK.now), UTC).isoformat()
    CLOCK.now += 1  # timeStamps have whole seconds

    async def scenario():
        async with client() as c:
            await ok(await c.put(f"{A}/Item/{items[2]['itemID']}.json", json={"description": "Delta 2 renamed"}))
            delta = await ok(await c.get(f"{A}/Item.json", params={"timeStamp": f">,{since}", "customSku": "~,DELTA-%",
                                                                 "sort": "timeStamp"}))
            changed = as_list(delta.get("Item"))
            assert [i["itemID"] for i in changed] == [str(items[2]["itemID"])]
            assert changed[0]["description"] == "Delta 2 renamed"
            between = await ok(await c.get(f"{A}/Item.json", params={"itemID": f"><,{items[0]['itemID']},{items[1]['itemID']}"}))
            assert [i["itemID"] for i in between["Item"]] == [str(items[0]["itemID"]), str(items[1]["itemID"])]
            chosen = await ok(await c.get(f"{A}/Item.json", params={"itemID": f"IN,[{items[1]['itemID']},{items[3]['itemID']}]"}))
            assert [i["itemID"] for i in chosen["Item"]] == [str(items[1]["itemID"]), str(items[3]["itemID"])]
            either = await c.get(f"{A}/Item.json", params={"or": f"itemID={items[0]['itemID']}|description=Delta 3"})
            assert [i["itemID"] for i in (await ok(either))["Item"]] == [str(items[0]["itemID"]), str(items[3]["itemID"])]
            assert either.headers["X-LS-API-Request-Cost"] == "3"  # `or` over two fields: +1 per operand
    run(scenario)


def test_load_relations_embeds_item_shops_and_costs_drips():
    item = EMU.seed_item("Related", "REL-1", qoh={1: 7})

    async def scenario():
        async with client() as c:
            plain = await c.get(f"{A}/Item/{item['itemID']}.json")
            assert "ItemShops" not in plain.json()["Item"] and plain.headers["X-LS-API-Request-Cost"] == "1"
            loaded = await c.get(f"{A}/Item/{item['itemID']}.json", params={"load_relations": '["ItemShops"]'})
            shops = (await ok(loaded))["Item"]["ItemShops"]["ItemShop"]
            assert {s["shopID"]: s["qoh"] for s in shops} == {"0": "7", "1": "7"}  # shopID 0 = all shops
            assert loaded.headers["X-LS-API-Request-Cost"] == "1.2"  # X-to-many on one record
            listed = await c.get(f"{A}/Item.json", params={"load_relations": '["ItemShops","Category"]', "limit": "1"})
            assert listed.headers["X-LS-API-Request-Cost"] == "1.6"  # doubled on a list: 0.4 + 0.2
            bad = await c.get(f"{A}/Item.json", params={"load_relations": '["Nope"]'})
            assert bad.status_code == 400 and bad.json()["httpCode"] == "400"
    run(scenario)


def test_json_is_shaped_like_xml():
    one = EMU.seed_item("Shape one", "SHAPE-1", price=10.0, qoh={1: 10})
    two = EMU.seed_item("Shape two", "SHAPE-2", price=5.0, qoh={1: 10})
    customer = EMU.seed_customer("Ann", "Lee", "ann@example.com")

    def sale(lines):
        total = round(sum(p for _, p in lines) * 1.08, 2)
        return {"employeeID": 1, "registerID": 1, "shopID": 1, "customerID": customer["customerID"], "completed": True,
                "SaleLines": {"SaleLine": [{"itemID": i, "unitQuantity": 1} for i, _ in lines]},
                "SalePayments": {"SalePayment": [{"amount": total, "paymentTypeID": 1}]}}

    async def scenario():
        async with client() as c:
            single = (await ok(await c.post(f"{A}/Sale.json", json=sale([(one["itemID"], 10.0)]))))["Sale"]
            double = (await ok(await c.post(f"{A}/Sale.json", json=sale([(one["itemID"], 10.0), (two["itemID"], 5.0)]))))["Sale"]
            read = await ok(await c.get(f"{A}/Sale/{single['saleID']}.json",
                                        params={"load_relations": '["SaleLines","SalePayments"]'}))
            assert isinstance(read["Sale"]["SaleLines"]["SaleLine"], dict)  # one child: an object
            assert isinstance(read["Sale"]["SalePayments"]["SalePayment"], dict)
            read2 = await ok(await c.get(f"{A}/Sale/{double['saleID']}.json", params={"load_relations": '["SaleLines"]'}))
            assert isinstance(read2["Sale"]["SaleLines"]["SaleLine"], list) and len(read2["Sale"]["SaleLines"]["SaleLine"]) == 2
            assert strings_only(read) and strings_only(read2)
            assert read["Sale"]["completed"] == "true" and read["Sale"]["total"] == "10.8" and read["Sale"]["balance"] == "0"
            who = await ok(await c.get(f"{A}/Customer/{customer['customerID']}.json", params={"load_relations": '["Contact"]'}))
            contact = who["Customer"]["Contact"]
            assert contact["Phones"] == "" and contact["Emails"]["ContactEmail"]["address"] == "ann@example.com"
            single_list = await ok(await c.get(f"{A}/Sale.json", params={"saleID": single["saleID"]}))
            assert isinstance(single_list["Sale"], dict)  # a one-row list is an object too
            empty = await ok(await c.get(f"{A}/Sale.json", params={"saleID": "999999"}))
            assert empty == {"@attributes": {"next": "", "previous": ""}}
    run(scenario)


def test_absolute_qoh_write_logs_the_difference_and_sales_take_stock():
    item = EMU.seed_item("Stocked", "STOCK-1", price=20.0, qoh={1: 5})

    async def scenario():
        async with client() as c:
            before = (await ok(await c.get(f"{A}/Item/{item['itemID']}.json")))["Item"]["timeStamp"]
            CLOCK.now += 30
            put = await c.put(f"{A}/Item/{item['itemID']}.json", json={"ItemShops": {"ItemShop": {"shopID": 1, "qoh": 2}}})
            assert put.headers["X-LS-API-Request-Cost"] == "1.5"  # 1 + 0.5 per nested entity
            shops = (await ok(put))["Item"]["ItemShops"]["ItemShop"]
            assert {s["shopID"]: (s["qoh"], s["sellable"]) for s in shops} == {"0": ("2", "2"), "1": ("2", "2")}
            assert (await ok(await c.get(f"{A}/Item/{item['itemID']}.json")))["Item"]["timeStamp"] == before
            logs = as_list((await ok(await c.get(f"{A}/InventoryLog.json", params={"itemID": item["itemID"]})))["InventoryLog"])
            assert [(r["qohChange"], r["reason"]) for r in logs] == [("5", "ItemCreated"), ("-3", "manualAdjustQOH")]
            stock = await ok(await c.get(f"{A}/ItemShop.json", params={"itemID": item["itemID"], "shopID": "1"}))
            assert stock["ItemShop"]["qoh"] == "2"
            shop_url = f"{A}/ItemShop/{stock['ItemShop']['itemShopID']}.json"
            assert (await ok(await c.put(shop_url, json={"reorderPoint": 4})))["ItemShop"]["reorderPoint"] == "4"
            assert (await c.put(shop_url, json={"qoh": 50})).status_code == 400  # stock is written via Item only
            body = {"employeeID": 1, "registerID": 1, "shopID": 1, "completed": True,
                    "SaleLines": {"SaleLine": {"itemID": item["itemID"], "unitQuantity": 3}},
                    "SalePayments": {"SalePayment": {"amount": 64.8, "paymentTypeID": 2}}}
            sold = await c.post(f"{A}/Sale.json", json=body)
            assert sold.headers["X-LS-API-Request-Cost"] == "6"  # 2 + 3 (completed) + 2 x 0.5
            sale_id = (await ok(sold))["Sale"]["saleID"]
            assert EMU.qoh(item["itemID"], 1) == -1
            logs = as_list((await ok(await c.get(f"{A}/InventoryLog.json", params={"itemID": item["itemID"], "sort": "-inventoryLogID"})))["InventoryLog"])
            assert (logs[0]["qohChange"], logs[0]["saleID"], logs[0]["causedNegative"]) == ("-3", sale_id, "true")
            unbalanced = await c.post(f"{A}/Sale.json", json={**body, "SalePayments": {"SalePayment": {"amount": 1, "paymentTypeID": 1}}})
            assert unbalanced.status_code == 422 and EMU.qoh(item["itemID"], 1) == -1
            made = await ok(await c.post(f"{A}/Item.json", json={"description": "Posted", "customSku": "POST-1",
                                                                 "Prices": {"ItemPrice": {"useType": "Default", "amount": "9.5"}},
                                                                 "ItemShops": {"ItemShop": {"shopID": 1, "qoh": 4}}}))
            assert made["Item"]["Prices"]["ItemPrice"][0] == {"amount": "9.5", "useTypeID": "1", "useType": "Default"}
            assert EMU.qoh(int(made["Item"]["itemID"]), 1) == 4
            gone = await ok(await c.delete(f"{A}/Item/{made['Item']['itemID']}.json"))
            assert gone["Item"]["archived"] == "true" and EMU.qoh(int(made["Item"]["itemID"]), 1) == 0
            hidden = await ok(await c.get(f"{A}/Item.json", params={"customSku": "POST-1"}))
            assert "Item" not in hidden
            only = await ok(await c.get(f"{A}/Item.json", params={"customSku": "POST-1", "archived": "only"}))
            assert only["Item"]["itemID"] == made["Item"]["itemID"]
    run(scenario)


def test_customer_writes_with_contact():
    async def scenario():
        async with client() as c:
            made = await ok(await c.post(f"{A}/Customer.json", json={
                "firstName": "Bo", "lastName": "Chen", "Contact": {"Emails": {"ContactEmail": [
                    {"address": "bo@example.com", "useType": "Primary"}, {"address": "b@example.org", "useType": "Secondary"}]}}}))
            cid = made["Customer"]["customerID"]
            assert len(made["Customer"]["Contact"]["Emails"]["ContactEmail"]) == 2
            await ok(await c.put(f"{A}/Customer/{cid}.json", json={"lastName": "Chen-Li"}))
            found = await ok(await c.get(f"{A}/Customer.json", params={"lastName": "Chen-Li"}))
            assert found["Customer"]["customerID"] == cid
            blank = await c.post(f"{A}/Customer.json", json={})
            assert blank.status_code == 400
    run(scenario)


def test_oauth_refresh_tokens_rotate_and_are_single_use():
    async def token(c, **form):
        return await c.post("/auth/oauth/token", data={"client_id": "sandbox-client", "client_secret": "sandbox-secret", **form})

    async def scenario():
        async with client("none") as c:
            first = await ok(await token(c, grant_type="authorization_code", code=EMU.authorize()))
            assert first["token_type"] == "Bearer" and first["expires_in"] == 3600
            reused_code = await token(c, grant_type="authorization_code", code="nope")
            assert reused_code.status_code == 400 and reused_code.json()["error"] == "invalid_grant"
            second = (await c.post("/auth/oauth/token", json={"client_id": "sandbox-client", "client_secret": "sandbox-secret",
                                                              "grant_type": "refresh_token",
                                                              "refresh_token": first["refresh_token"]})).json()
            assert second["refresh_token"] != first["refresh_token"]
            old = await c.get("/API/V3/Account.json", headers={"Authorization": f"Bearer {first['access_token']}"})
            assert old.status_code == 401 and old.json()["hint"] == "Access token has been revoked"
            assert (await c.get("/API/V3/Account.json", headers={"Authorization": f"Bearer {second['access_token']}"})).status_code == 200
            again = await token(c, grant_type="refresh_token", refresh_token=first["refresh_token"])
            assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
            CLOCK.now += 3601
            expired = await c.get("/API/V3/Account.json", headers={"Authorization": f"Bearer {second['access_token']}"})
            assert expired.status_code == 401 and expired.json() == {
                "error": "access_denied", "error_description": "The resource owner or authorization server denied the request.",
                "hint": "Access token could not be verified"}
            third = await ok(await token(c, grant_type="refresh_token", refresh_token=second["refresh_token"]))
            assert (await c.get("/API/V3/Account.json", headers={"Authorization": f"Bearer {third['access_token']}"})).status_code == 200
    run(scenario)


def test_leaky_bucket_429s_a_burst_of_puts_and_drains_at_the_drip_rate():
    item = EMU.seed_item("Hot", "HOT-1")
    CLOCK.now += 1000  # whatever earlier tests left in the bucket has drained

    async def scenario():
        CLOCK.tick = 0.1  # 10 requests/s: under the burst limiter, over the 1/s drip
        try:
            async with client() as c:
                answers = []
                for n in range(200):
                    answers.append(await c.put(f"{A}/Item/{item['itemID']}.json", json={"description": f"Hot {n}"}))
                    if answers[-1].status_code == 429:
                        break
        finally:
            CLOCK.tick = 0.25
        *passed, blocked = answers
        assert all(r.status_code == 200 for r in passed) and blocked.status_code == 429
        level = float(passed[-1].headers["X-LS-API-Bucket-Level"].split("/")[0])
        assert passed[-1].headers["X-LS-API-Bucket-Level"].endswith("/90") and level > 90  # the first overflow passed
        assert float(passed[-2].headers["X-LS-API-Bucket-Level"].split("/")[0]) <= 90
        assert blocked.headers["X-LS-API-RateLimit-Type"] == "api-leaky-bucket"
        assert blocked.headers["X-LS-API-Drip-Rate"] == "1" and blocked.headers["X-LS-API-Request-Cost"] == "1"
        assert blocked.json()["httpCode"] == "429"
        wait = int(blocked.headers["Retry-After"])
        assert wait == max(1, math.ceil(level - 0.1 - 90))  # whole seconds until the level is back at 90
        assert EMU.bucket.current() == pytest.approx(level - 0.1)  # a blocked request adds nothing
        CLOCK.now += 10
        assert EMU.bucket.current() == pytest.approx(level - 10.1)  # 1 drip a second
        CLOCK.now += wait
        async with client() as c:
            again = await c.get(f"{A}/Item/{item['itemID']}.json")
        assert again.status_code == 200
    run(scenario)


def test_burst_limiter_answers_429_within_one_second():
    CLOCK.now = float(int(CLOCK.now) + 100)

    async def scenario():
        CLOCK.tick = 0.0
        try:
            async with client() as c:
                answers = [await c.get(f"{A}/Shop.json") for _ in range(21)]
        finally:
            CLOCK.tick = 0.25
        assert [r.status_code for r in answers] == [200] * 20 + [429]
        assert answers[19].headers["X-LS-API-Burst-Level"] == "20/20"
        assert answers[-1].headers["X-LS-API-RateLimit-Type"] == "api-burst-limiter"
        assert answers[-1].headers["Retry-After"] == "1"
    run(scenario)


def test_documented_errors():
    async def scenario():
        async with client() as c:
            missing = await c.get(f"{A}/Item/999999.json")
            assert missing.status_code == 404 and set(missing.json()) == {"httpCode", "httpMessage", "message", "errorClass"}
            assert (await c.get(f"{A}/InventoryLog/1.json")).status_code == 405  # documented: no single read
            assert (await c.post(f"{A}/InventoryLog.json", json={})).status_code == 405
            sort = await c.get(f"{A}/Item.json", params={"sort": "upc"})
            assert sort.status_code == 400 and "itemID, timeStamp, description" in sort.json()["message"]
            assert (await c.get(f"{A}/Item.json", params={"count": "1", "limit": "5"})).status_code == 400
            assert (await c.get(f"{A}/Item.json", params={"noSuchField": "1"})).status_code == 400
            assert (await c.get("/API/V3/Account/1/Item.json")).status_code == 404
            anonymous = await c.get(f"{A}/Item.json", headers={"Authorization": ""})
            assert anonymous.status_code == 401 and anonymous.json()["error"] == "access_denied"
    run(scenario)


def test_fault_injection():
    async def scenario():
        async with client() as c:
            EMU.faults.throttle_burst = 1
            throttled = await c.get(f"{A}/Shop.json")
            assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
            assert throttled.json()["httpCode"] == "429"
            assert (await c.get(f"{A}/Shop.json")).status_code == 200
            EMU.faults.error_rate = 1.0
            try:
                failed = await c.get(f"{A}/Shop.json")
                assert failed.status_code == 503 and failed.json()["httpCode"] == "503"
                token = await c.post("/auth/oauth/token", data={"client_id": "x"})  # the token endpoint is exempt
                assert token.status_code == 400
            finally:
                EMU.faults.error_rate = 0.0
            assert EMU.faults.injected == {"throttle": 1, "error": 1}
    run(scenario)


# omnisync's flows (issue 19): reservations, pickups, voids, refunds, offline sales, price levels, VAT,
# matrices, customer custom fields -------------------------------------------------------------------
def shop_stock(item_id: int, shop_id: int = 1) -> tuple[int, int]:
    row = EMU.store.item_shop(item_id, shop_id)
    return row["qoh"], row["onLayaway"]


def log_reasons(item_id: int) -> list[tuple[str, str]]:
    rows = [r for r in EMU.store.tables["InventoryLog"].values() if r["itemID"] == item_id]
    return [(str(r["qohChange"]), r["reason"]) for r in rows]


def till_sale(item_id: int, qty: int, amount: float, **extra) -> dict:
    return {"employeeID": 1, "registerID": 1, "shopID": 1, "completed": True,
            "SaleLines": {"SaleLine": {"itemID": item_id, "unitQuantity": qty}},
            "SalePayments": {"SalePayment": {"amount": amount, "paymentTypeID": 2}}, **extra}


def test_click_and_collect_reserves_units_and_the_pickup_takes_them():
    item = EMU.seed_item("Rain jacket", "JACKET-M", price=50.0, qoh={1: 3})
    shopper = EMU.seed_customer("Cleo", "Park", "cleo@example.com")
    hold = {"customerID": shopper["customerID"], "employeeID": 1, "shopID": 1, "itemID": item["itemID"],
            "unitQuantity": 2, "isLayaway": True, "requireFullReservation": True}

    async def scenario():
        async with client() as c:
            made = await c.post(f"{A}/SaleLine.json", json=hold, params={"load_relations": '["InventorySales"]'})
            assert made.headers["X-LS-API-Request-Cost"] == "2.2"  # 2 drips + an X-to-many on one record
            line = (await ok(made))["SaleLine"]
            assert (line["saleID"], line["isLayaway"], line["InventorySales"]["InventorySale"]["quantity"]) == ("0", "true", "2")
            assert shop_stock(item["itemID"]) == (3, 2)  # held, still on hand
            too_many = await c.post(f"{A}/SaleLine.json", json=hold)
            assert too_many.status_code == 422 and "1 available" in too_many.json()["message"]
            assert len([r for r in EMU.store.tables["SaleLine"].values() if r["itemID"] == item["itemID"]]) == 1
            with_sale = await c.post(f"{A}/SaleLine.json", json={**hold, "unitQuantity": 1, "saleID": 5})
            assert with_sale.status_code == 400  # saleline.md: saleID "cannot be set on create"
            order = await ok(await c.post(f"{A}/Sale.json", json={
                "employeeID": 1, "registerID": 1, "shopID": 1, "customerID": shopper["customerID"],
                "referenceNumber": "ct-order-77", "referenceNumberSource": "omnisync",
                "SaleLines": {"SaleLine": {"saleLineID": line["saleLineID"]}}}))
            sale = order["Sale"]
            assert (sale["completed"], sale["total"], sale["balance"]) == ("false", "108", "108")  # 100 + 8 % tax
            found = await ok(await c.get(f"{A}/Sale.json", params={"referenceNumber": "ct-order-77",
                                                                   "referenceNumberSource": "omnisync"}))
            assert found["Sale"]["saleID"] == sale["saleID"]
            other = EMU.seed_customer("Not", "Cleo")
            stranger = await c.post(f"{A}/Sale.json", json={"employeeID": 1, "registerID": 1, "shopID": 1,
                                                             "customerID": other["customerID"],
                                                             "SaleLines": {"SaleLine": {"saleLineID": line["saleLineID"]}}})
            assert stranger.status_code == 422  # reservations attach to sales of the same customer only
            short = await c.put(f"{A}/Sale/{sale['saleID']}.json", json={"completed": True, "SalePayments": {
                "SalePayment": {"amount": 100, "paymentTypeID": 2}}})
            assert short.status_code == 422 and shop_stock(item["itemID"]) == (3, 2)
            picked = await c.put(f"{A}/Sale/{sale['saleID']}.json", json={"completed": True, "SalePayments": {
                "SalePayment": {"amount": 108, "paymentTypeID": 2}}})
            assert picked.headers["X-LS-API-Request-Cost"] == "5.5"  # 2 + 3 (completed) + 0.5 (a payment)
            assert (await ok(picked))["Sale"]["completed"] == "true"
            assert shop_stock(item["itemID"]) == (1, 0)
            assert log_reasons(item["itemID"])[-1] == ("-2", "RemoveForLayaway")
            again = await c.put(f"{A}/Sale/{sale['saleID']}.json", json={"SalePayments": {
                "SalePayment": {"amount": 1, "paymentTypeID": 1}}})
            assert again.status_code == 422  # a completed sale's money is closed
    run(scenario)


def test_a_reservation_is_requantified_released_and_a_cancelled_order_voids():
    item = EMU.seed_item("Boots", "BOOT-42", price=80.0, qoh={1: 5})
    shopper = EMU.seed_customer("Dev", "Rao")

    async def scenario():
        async with client() as c:
            line = (await ok(await c.post(f"{A}/SaleLine.json", json={
                "customerID": shopper["customerID"], "employeeID": 1, "shopID": 1, "itemID": item["itemID"],
                "unitQuantity": 2, "isLayaway": True, "Note": {"note": "ship-from-store"}})))["SaleLine"]
            assert line["Note"]["note"] == "ship-from-store" and line["noteID"] != "0"
            url = f"{A}/SaleLine/{line['saleLineID']}.json"
            await ok(await c.put(url, json={"unitQuantity": 4}))
            assert shop_stock(item["itemID"]) == (5, 4)
            assert (await c.put(url, json={"unitQuantity": 9, "requireFullReservation": True})).status_code == 422
            assert shop_stock(item["itemID"]) == (5, 4)  # the refused edit kept the hold it had
            await ok(await c.put(url, json={"unitQuantity": 1}))
            assert shop_stock(item["itemID"]) == (5, 1)
            sale = (await ok(await c.post(f"{A}/Sale.json", json={
                "employeeID": 1, "registerID": 1, "shopID": 1, "customerID": shopper["customerID"],
                "ShipTo": {"firstName": "Dev", "lastName": "Rao", "Contact": {"Addresses": {"ContactAddress": {
                    "address1": "2 High St", "city": "London", "zip": "E1 6AN", "countryCode": "GB"}}}}})))["Sale"]
            assert sale["shipToID"] != "0"
            ship = await ok(await c.get(f"{A}/ShipTo/{sale['shipToID']}.json", params={"load_relations": '["Contact"]'}))
            assert ship["ShipTo"]["saleID"] == sale["saleID"]
            assert ship["ShipTo"]["Contact"]["Addresses"]["ContactAddress"]["city"] == "London"
            await ok(await c.put(url, json={"saleID": sale["saleID"]}))  # attach (reservations tutorial)
            read = await ok(await c.get(f"{A}/Sale/{sale['saleID']}.json", params={"load_relations": '["SaleLines"]'}))
            assert read["Sale"]["SaleLines"]["SaleLine"]["saleLineID"] == line["saleLineID"]
            voided = await ok(await c.put(f"{A}/Sale/{sale['saleID']}.json", json={"voided": True}))
            assert voided["Sale"]["voided"] == "true" and shop_stock(item["itemID"]) == (5, 0)
            voids = await ok(await c.get(f"{A}/SaleVoid.json", params={"saleID": sale["saleID"]}))
            assert voids["SaleVoid"]["shopID"] == "1"
            assert (await c.put(f"{A}/Sale/{sale['saleID']}.json", json={"voided": True})).status_code == 422
            spare = (await ok(await c.post(f"{A}/SaleLine.json", json={
                "customerID": shopper["customerID"], "employeeID": 1, "shopID": 1, "itemID": item["itemID"],
                "unitQuantity": 3, "isLayaway": True})))["SaleLine"]
            assert shop_stock(item["itemID"]) == (5, 3)
            gone = await c.delete(f"{A}/SaleLine/{spare['saleLineID']}.json")
            assert gone.status_code == 200 and gone.headers["X-LS-API-Request-Cost"] == "2"
            assert shop_stock(item["itemID"]) == (5, 0)
            assert (await c.get(f"{A}/SaleLine/{spare['saleLineID']}.json")).status_code == 404
    run(scenario)


def test_voiding_a_completed_sale_restocks_and_an_open_one_can_be_archived():
    item = EMU.seed_item("Scarf", "SCARF-1", price=10.0, qoh={1: 4})

    async def scenario():
        async with client() as c:
            sold = (await ok(await c.post(f"{A}/Sale.json", json=till_sale(item["itemID"], 3, 32.4))))["Sale"]
            assert shop_stock(item["itemID"])[0] == 1
            assert (await c.delete(f"{A}/Sale/{sold['saleID']}.json")).status_code == 422  # completed: no archive
            await ok(await c.put(f"{A}/Sale/{sold['saleID']}.json", json={"voided": True}))
            assert shop_stock(item["itemID"])[0] == 4
            assert log_reasons(item["itemID"])[-2:] == [("-3", "RemoveForTransaction"), ("3", "PutBackForTransaction")]
            draft = (await ok(await c.post(f"{A}/Sale.json", json={**till_sale(item["itemID"], 1, 0), "completed": False})))
            archived = await c.delete(f"{A}/Sale/{draft['Sale']['saleID']}.json")
            assert archived.headers["X-LS-API-Request-Cost"] == "2" and (await ok(archived))["Sale"]["archived"] == "true"
    run(scenario)


def test_refunds_whole_or_by_line_are_capped_by_what_was_sold():
    shirt = EMU.seed_item("Shirt", "SHIRT-1", price=20.0, qoh={1: 10})
    belt = EMU.seed_item("Belt", "BELT-1", price=10.0, qoh={1: 10})

    async def scenario():
        async with client() as c:
            sale = (await ok(await c.post(f"{A}/Sale.json", json={
                "employeeID": 1, "registerID": 1, "shopID": 1, "completed": True,
                "SaleLines": {"SaleLine": [{"itemID": shirt["itemID"], "unitQuantity": 2},
                                           {"itemID": belt["itemID"], "unitQuantity": 1}]},
                "SalePayments": {"SalePayment": {"amount": 54.0, "paymentTypeID": 2}}})))["Sale"]
            lines = {x["itemID"]: x for x in sale["SaleLines"]["SaleLine"]}
            body = {"employeeID": 1, "registerID": 1, "shopID": 1}
            one = await c.post(f"{A}/Sale/{sale['saleID']}/refund.json", json={**body, "SaleLines": {"SaleLine": {
                "parentSaleLineID": lines[str(shirt["itemID"])]["saleLineID"], "unitQuantity": -1,
                "Note": {"note": "DAMAGED"}}}, "SalePayments": {"SalePayment": {"paymentTypeID": 2}}})
            assert one.headers["X-LS-API-Request-Cost"] == "11.5"  # 10 + 3 nested entities x 0.5
            refund = (await ok(one))["Sale"]
            line = refund["SaleLines"]["SaleLine"]
            assert (line["unitQuantity"], line["parentSaleLineID"]) == ("-1", lines[str(shirt["itemID"])]["saleLineID"])
            assert refund["total"] == "-21.6" and refund["SalePayments"]["SalePayment"]["amount"] == "-21.6"
            noted = await ok(await c.get(f"{A}/SaleLine/{line['saleLineID']}.json", params={"load_relations": '["Note"]'}))
            assert noted["SaleLine"]["Note"]["note"] == "DAMAGED"
            assert shop_stock(shirt["itemID"])[0] == 9 and log_reasons(shirt["itemID"])[-1] == ("1", "RefundAddInventory")
            over = await c.post(f"{A}/Sale/{sale['saleID']}/refund.json", json={**body, "SaleLines": {"SaleLine": {
                "parentSaleLineID": lines[str(shirt["itemID"])]["saleLineID"], "unitQuantity": -2}},
                "SalePayments": {"SalePayment": {"paymentTypeID": 2}}})
            assert over.status_code == 422
            unpaid = await c.post(f"{A}/Sale/{sale['saleID']}/refund.json", json=body)
            assert unpaid.status_code == 400  # a payment type must say how the money goes back
            rest = (await ok(await c.post(f"{A}/Sale/{sale['ticketNumber']}/refund.json", json={
                **body, "SalePayments": {"SalePayment": {"paymentTypeID": 1}}})))["Sale"]  # by ticketNumber
            assert sorted(x["unitQuantity"] for x in rest["SaleLines"]["SaleLine"]) == ["-1", "-1"]
            assert rest["total"] == "-32.4" and shop_stock(shirt["itemID"])[0] == 10 and shop_stock(belt["itemID"])[0] == 10
            nothing = await c.post(f"{A}/Sale/{sale['saleID']}/refund.json", json={
                **body, "SalePayments": {"SalePayment": {"paymentTypeID": 1}}})
            assert nothing.status_code == 422
    run(scenario)


def test_an_online_order_returned_at_the_till_is_a_negative_sale():
    item = EMU.seed_item("Lamp", "LAMP-1", price=25.0, qoh={1: 0})

    async def scenario():
        async with client() as c:
            back = (await ok(await c.post(f"{A}/Sale.json", json=till_sale(
                item["itemID"], -1, -27.0, referenceNumber="WEB-1001", referenceNumberSource="commercetools"))))["Sale"]
            assert back["total"] == "-27" and back["referenceNumberSource"] == "commercetools"
            assert shop_stock(item["itemID"])[0] == 1
    run(scenario)


def test_an_offline_sale_posted_late_keeps_its_past_complete_time():
    item = EMU.seed_item("Cap", "CAP-1", price=10.0, qoh={1: 5})
    since = datetime.fromtimestamp(int(CLOCK.now), UTC).isoformat()
    CLOCK.now += 1
    earlier = datetime.fromtimestamp(int(CLOCK.now) - 2 * 86400, UTC).isoformat()

    async def scenario():
        async with client() as c:
            late = (await ok(await c.post(f"{A}/Sale.json", json=till_sale(item["itemID"], 1, 10.8,
                                                                          completeTime=earlier))))["Sale"]
            assert late["completeTime"] == late["timeStamp"] == earlier  # sale.md: timeStamp = completion time
            assert late["updatetime"] > since
            by_stamp = await ok(await c.get(f"{A}/Sale.json", params={"timeStamp": f">,{since}", "saleID": late["saleID"]}))
            assert "Sale" not in by_stamp  # a timeStamp poll misses it ...
            by_update = await ok(await c.get(f"{A}/Sale.json", params={"updatetime": f">,{since}", "sort": "updatetime",
                                                                      "saleID": late["saleID"]}))
            assert by_update["Sale"]["saleID"] == late["saleID"]  # ... an updatetime poll sees it
            future = datetime.fromtimestamp(int(CLOCK.now) + 3600, UTC).isoformat()
            assert (await c.post(f"{A}/Sale.json", json=till_sale(item["itemID"], 1, 10.8, completeTime=future))).status_code == 400
    run(scenario)


def test_store_price_levels_and_vat_inclusive_prices():
    vat = EMU.seed_tax_category("VAT", 0.19, inclusive=True)
    berlin = EMU.seed_price_level("Berlin")

    async def scenario():
        async with client() as c:
            shop = (await ok(await c.post(f"{A}/Shop.json", json={"name": "Berlin Mitte", "timeZone": "Europe/Berlin",
                                                                  "taxCategoryID": vat["taxCategoryID"],
                                                                  "priceLevelID": berlin["priceLevelID"]})))["Shop"]
            sid = int(shop["shopID"])
            register = EMU.seed_register(sid, "Kasse 1")
            assert (await c.post(f"{A}/PriceLevel.json", json={"name": "Nope"})).status_code == 405  # docs: no POST
            item = (await ok(await c.post(f"{A}/Item.json", json={
                "description": "Mug", "customSku": "MUG-B", "Prices": {"ItemPrice": [
                    {"useType": "Default", "amount": 20}, {"useTypeID": berlin["priceLevelID"], "amount": 17.85}]},
                "ItemShops": {"ItemShop": {"shopID": sid, "qoh": 3}}})))["Item"]
            assert {p["useType"]: p["amount"] for p in item["Prices"]["ItemPrice"]}["Berlin"] == "17.85"
            await ok(await c.put(f"{A}/PriceLevel/{berlin['priceLevelID']}.json", json={"name": "Berlin stores"}))
            renamed = await ok(await c.get(f"{A}/Item/{item['itemID']}.json"))
            assert "Berlin stores" in {p["useType"] for p in renamed["Item"]["Prices"]["ItemPrice"]}
            sale = (await ok(await c.post(f"{A}/Sale.json", json={
                "employeeID": 1, "registerID": register["registerID"], "shopID": sid, "completed": True,
                "SaleLines": {"SaleLine": {"itemID": item["itemID"], "unitQuantity": 2, "discountAmount": 5.7}},
                "SalePayments": {"SalePayment": {"amount": 30, "paymentTypeID": 1}}})))["Sale"]
            line = sale["SaleLines"]["SaleLine"]
            assert (line["unitPrice"], line["calcTotal"], line["calcTax1"]) == ("17.85", "30", "4.79")
            assert (sale["total"], sale["calcTax1"], sale["isTaxInclusive"]) == ("30", "4.79", "true")
            assert EMU.qoh(int(item["itemID"]), sid) == 1
    run(scenario)


def test_variants_share_an_item_matrix():
    async def scenario():
        async with client() as c:
            category = await c.post(f"{A}/Category.json", json={"name": "Knitwear"})
            assert category.headers["X-LS-API-Request-Cost"] == "10"
            cid = (await ok(category))["Category"]["categoryID"]
            assert (await c.post(f"{A}/ItemMatrix.json", json={"description": "Jumper"})).status_code == 400
            matrix = (await ok(await c.post(f"{A}/ItemMatrix.json", json={
                "description": "Jumper", "itemAttributeSetID": 2, "categoryID": cid,
                "Prices": {"ItemPrice": {"useType": "Default", "amount": 45}}})))["ItemMatrix"]
            for size in ("S", "M"):
                made = (await ok(await c.post(f"{A}/Item.json", json={
                    "customSku": f"JUMPER-NAVY-{size}", "itemMatrixID": matrix["itemMatrixID"],
                    "ItemAttributes": {"attribute1": "Navy", "attribute2": size}})))["Item"]
                assert made["description"] == f"Jumper Navy {size}" and made["Prices"]["ItemPrice"][0]["amount"] == "45"
            read = await ok(await c.get(f"{A}/ItemMatrix/{matrix['itemMatrixID']}.json", params={"load_relations": '["Items"]'}))
            assert read["ItemMatrix"]["attribute1Values"] == "Navy" and read["ItemMatrix"]["attribute2Values"] == ["M", "S"]
            assert len(read["ItemMatrix"]["Items"]["Item"]) == 2
            one = await ok(await c.get(f"{A}/Item.json", params={"customSku": "JUMPER-NAVY-S", "load_relations": '["ItemAttributes"]'}))
            assert one["Item"]["ItemAttributes"]["attribute2"] == "S"
    run(scenario)


def test_customer_keys_live_in_custom_fields_and_email_is_searchable_through_contact():
    async def scenario():
        async with client() as c:
            ids = {}
            for name in ("External ID", "Loyalty ID"):
                made = await ok(await c.post(f"{A}/Customer/CustomField.json", json={"name": name, "type": "string"}))
                ids[name] = made["CustomField"]["customFieldID"]
            body = {"firstName": "Eva", "lastName": "Stone", "Contact": {
                "Emails": {"ContactEmail": {"address": "eva@example.com", "useType": "Primary"}},
                "Phones": {"ContactPhone": {"number": "+44 20 7946 0000", "useType": "Mobile"}}},
                "CustomFieldValues": {"CustomFieldValue": [{"customFieldID": ids["External ID"], "value": "LOY-9"},
                                                           {"customFieldID": ids["Loyalty ID"], "value": "LOY-9"}]}}
            made = (await ok(await c.post(f"{A}/Customer.json", json=body)))["Customer"]
            values = made["CustomFieldValues"]["CustomFieldValue"]
            assert {v["name"]: v["value"] for v in values} == {"External ID": "LOY-9", "Loyalty ID": "LOY-9"}
            url = f"{A}/Customer/{made['customerID']}.json"
            assert "CustomFieldValues" not in (await ok(await c.get(url, params={"load_relations": "all"})))["Customer"]
            await ok(await c.put(url, json={"CustomFieldValues": {"CustomFieldValue": {
                "customFieldID": ids["Loyalty ID"], "deleted": True}}}))
            read = await ok(await c.get(url, params={"load_relations": '["CustomFieldValues"]'}))
            assert read["Customer"]["CustomFieldValues"]["CustomFieldValue"]["name"] == "External ID"
            too_long = await c.put(url, json={"CustomFieldValues": {"CustomFieldValue": {
                "customFieldID": ids["Loyalty ID"], "value": "x" * 65}}})
            assert too_long.status_code == 400  # a string field holds 64 characters
            found = await ok(await c.get(f"{A}/Customer.json", params={"load_relations": '["Contact"]',
                                                                       "Contact.email": "eva@example.com"}))
            assert found["Customer"]["customerID"] == made["customerID"]
            by_phone = await ok(await c.get(f"{A}/Customer.json", params={"load_relations": '["Contact"]',
                                                                          "Contact.mobile": "~,+44 20%"}))
            assert by_phone["Customer"]["customerID"] == made["customerID"]
            unloaded = await c.get(f"{A}/Customer.json", params={"Contact.email": "eva@example.com"})
            assert unloaded.status_code == 400  # the relation searched must be loaded
            archived = await ok(await c.delete(url))
            assert archived["Customer"]["archived"] == "true"
            hidden = await ok(await c.get(f"{A}/Customer.json", params={"customerID": made["customerID"]}))
            assert "Customer" not in hidden
    run(scenario)


def test_transfers_and_receiving_are_logged_movements():
    EMU.seed_shop("Outlet")
    item = EMU.seed_item("Socks", "SOCKS-1", qoh={1: 10})
    outlet = max(EMU.store.tables["Shop"])
    transfer = EMU.transfer_stock(item["itemID"], 1, outlet, 4)
    order = EMU.receive_stock(item["itemID"], 1, 12)
    assert (EMU.qoh(item["itemID"], 1), EMU.qoh(item["itemID"], outlet)) == (18, 4)
    assert log_reasons(item["itemID"])[1:] == [("-4", "RemoveForTransfer"), ("4", "AddForTransfer"), ("12", "GenericReason")]
    refs = [(r["transferID"], r["orderID"]) for r in EMU.store.tables["InventoryLog"].values() if r["itemID"] == item["itemID"]]
    assert refs[1:] == [(transfer["transferID"], 0), (transfer["transferID"], 0), (0, order["orderID"])]


# stock documents: purchase orders, transfers, inventory counts (order.md, inventory-transfer*.md,
# inventorycount*.md, the inventory-levels tutorial) ----------------------------------------------------
def item_shop_counters(item_id: int, shop_id: int) -> dict[str, int]:
    row = EMU.store.item_shop(item_id, shop_id)
    return {k: row[k] for k in ("qoh", "backorder", "onTransferOut", "onTransferIn")}


def logs_of(item_id: int, since: int = 0) -> list[dict]:
    return [r for r in EMU.store.tables["InventoryLog"].values() if r["itemID"] == item_id and r["inventoryLogID"] > since]


def test_a_purchase_order_of_12_received_at_hamburg_raises_its_count_by_12_and_logs_it_against_the_order():
    hamburg = EMU.seed_shop("Hamburg", time_zone="Europe/Berlin")["shopID"]
    tee = EMU.seed_item("Tee Hamburg", "TEE-HH", defaultCost=4.5, qoh={hamburg: 3})

    async def scenario():
        async with client() as c:
            missing_shop = await c.post(f"{A}/Order.json", json={"vendorID": 2})
            assert missing_shop.status_code == 400  # the tutorial: the receiving shop is required
            order = (await ok(await c.post(f"{A}/Order.json", json={
                "vendorID": 2, "shopID": hamburg, "shipCost": 7.5, "orderedDate": "2026-05-01",
                "Note": {"note": "spring restock"}})))["Order"]
            assert (order["complete"], order["shopID"], order["orderedDate"]) == ("false", str(hamburg),
                                                                               "2026-05-01T00:00:00+00:00")
            assert order["Note"]["note"] == "spring restock"
            line = (await ok(await c.post(f"{A}/OrderLine.json", json={
                "orderID": order["orderID"], "itemID": tee["itemID"], "quantity": 12, "price": 4.5})))["OrderLine"]
            assert (line["quantity"], line["total"], line["checkedIn"], line["numReceived"]) == ("12", "54", "0", "0")
            assert item_shop_counters(tee["itemID"], hamburg) == {"qoh": 3, "backorder": 12, "onTransferOut": 0,
                                                                  "onTransferIn": 0}
            # the boxes arrive: received through the API, not yet checked in, so not yet on hand
            await ok(await c.put(f"{A}/OrderLine/{line['orderLineID']}.json", json={"numReceived": 12}))
            assert EMU.qoh(tee["itemID"], hamburg) == 3
            read = (await ok(await c.get(f"{A}/Order/{order['orderID']}.json",
                                         params={"load_relations": '["OrderLines"]'})))["Order"]
            assert (read["totalQuantity"], read["subTotalCost"], read["totalCost"]) == ("12", "54", "61.5")
            assert read["OrderLines"]["OrderLine"]["numReceived"] == "12"
            since = max(EMU.store.tables["InventoryLog"])
            EMU.check_in_order(int(order["orderID"]))  # the check-in button in Retail POS
            assert item_shop_counters(tee["itemID"], hamburg) == {"qoh": 15, "backorder": 0, "onTransferOut": 0,
                                                                  "onTransferIn": 0}
            logged = logs_of(tee["itemID"], since)
            assert [(r["qohChange"], r["reason"], r["orderID"], r["shopID"]) for r in logged] == [
                (12, "GenericReason", int(order["orderID"]), hamburg)]
            after = (await ok(await c.get(f"{A}/OrderLine/{line['orderLineID']}.json")))["OrderLine"]
            assert (after["checkedIn"], after["numReceived"]) == ("12", "0")
            done = (await ok(await c.get(f"{A}/Order.json", params={"orderID": order["orderID"]})))["Order"]
            assert done["complete"] == "true" and done["receivedDate"]
            locked = await c.put(f"{A}/OrderLine/{line['orderLineID']}.json", json={"numReceived": 13})
            assert locked.status_code == 422
            archived = (await ok(await c.delete(f"{A}/Order/{order['orderID']}.json")))["Order"]
            assert archived["archived"] == "true"
            assert "Order" not in await ok(await c.get(f"{A}/Order.json", params={"orderID": order["orderID"]}))
    run(scenario)


def test_an_order_line_removed_before_arrival_is_no_longer_on_backorder():
    item = EMU.seed_item("Cap", "CAP-1")

    async def scenario():
        async with client() as c:
            order = (await ok(await c.post(f"{A}/Order.json", json={"shopID": 1})))["Order"]
            line = (await ok(await c.post(f"{A}/OrderLine.json", json={"orderID": order["orderID"],
                                                                      "itemID": item["itemID"], "quantity": 5})))
            assert EMU.store.item_shop(item["itemID"], 1)["backorder"] == 5
            assert EMU.store.item_shop(item["itemID"], 0)["backorder"] == 5  # the all-shops row follows
            await ok(await c.delete(f"{A}/OrderLine/{line['OrderLine']['orderLineID']}.json"))
            assert EMU.store.item_shop(item["itemID"], 1)["backorder"] == 0
            gone = await c.get(f"{A}/OrderLine/{line['OrderLine']['orderLineID']}.json")
            assert gone.status_code == 404
    run(scenario)


def test_a_transfer_sent_from_one_shop_holds_its_units_in_transit_until_the_other_shop_receives_them():
    munich = EMU.seed_shop("Munich")["shopID"]
    jeans, belt = EMU.seed_item("Jeans", "JEANS-1", qoh={1: 10}), EMU.seed_item("Belt", "BELT-1", qoh={1: 3})
    T = f"{A}/Inventory/Transfer"

    async def scenario():
        async with client() as c:
            same = await c.post(f"{T}.json", json={"sendingShopID": 1, "receivingShopID": 1})
            assert same.status_code == 400
            made = (await ok(await c.post(f"{T}.json", json={"sendingShopID": 1, "receivingShopID": munich,
                                                             "note": "weekend", "needBy": "2026-06-01T10:00:00+00:00"})))
            transfer = made["Transfer"]
            assert (transfer["status"], transfer["SendingShop"]["shopID"], transfer["ReceivingShop"]["shopID"]) == (
                "open", "1", str(munich))
            tid = transfer["transferID"]
            added = await ok(await c.post(f"{T}/{tid}/AddItems.json", json={"TransferItems": [
                {"itemID": jeans["itemID"], "toSend": 4}, {"itemID": belt["itemID"], "toSend": 1}]}))
            assert "@attributes" not in added and [i["toSend"] for i in added["TransferItem"]] == ["4", "1"]
            twice = await c.post(f"{T}/{tid}/AddItems.json", json={"TransferItems": [{"itemID": jeans["itemID"],
                                                                                    "toSend": 1}]})
            assert twice.status_code == 400  # an item appears once on a transfer
            changed = await ok(await c.post(f"{T}/{tid}/UpdateItems.json", json={"TransferItems": [
                {"itemID": jeans["itemID"], "toSend": 5}]}))
            assert changed["TransferItem"]["toSend"] == "5"
            await ok(await c.post(f"{T}/{tid}/DeleteItems.json", json={"TransferItems": [{"itemID": belt["itemID"]}]}))
            assert item_shop_counters(jeans["itemID"], 1)["qoh"] == 10  # adding items moves nothing
            since = max(EMU.store.tables["InventoryLog"])
            sent = (await ok(await c.post(f"{T}/{tid}/Send.json", json={})))["Transfer"]
            assert sent["status"] == "sent" and sent["sentOn"] and sent["sentByEmployeeID"] == "1"
            # in transit: counted out of Berlin and into Munich, still on Berlin's hand until received
            assert item_shop_counters(jeans["itemID"], 1) == {"qoh": 10, "backorder": 0, "onTransferOut": 5,
                                                              "onTransferIn": 0}
            assert item_shop_counters(jeans["itemID"], munich)["onTransferIn"] == 5
            assert logs_of(jeans["itemID"], since) == []
            assert (await c.put(f"{T}/{tid}.json", json={"note": "late"})).status_code == 422
            assert (await c.post(f"{T}/{tid}/AddItems.json", json={"TransferItems": [
                {"itemID": belt["itemID"], "toSend": 1}]})).status_code == 422
            assert (await c.post(f"{T}/{tid}/Receive.json", json={})).status_code == 404  # no API receipt
            one = (await ok(await c.get(f"{T}/{tid}.json", params={"load_relations": '["TransferItems"]'})))
            assert one["Transfer"]["TransferItems"]["TransferItem"]["sent"] == "5"
            listed = await c.get(f"{T}.json", params={"load_relations": '["TransferItems"]'})
            assert listed.status_code == 400  # TransferItems load only on a single transfer
            EMU.receive_transfer(int(tid))  # the receipt in Retail POS at Munich
            assert item_shop_counters(jeans["itemID"], 1) == {"qoh": 5, "backorder": 0, "onTransferOut": 0,
                                                              "onTransferIn": 0}
            assert item_shop_counters(jeans["itemID"], munich)["qoh"] == 5
            assert [(r["qohChange"], r["reason"], r["shopID"], r["transferID"]) for r in logs_of(jeans["itemID"], since)] == [
                (-5, "RemoveForTransfer", 1, int(tid)), (5, "AddForTransfer", munich, int(tid))]
            items = (await ok(await c.get(f"{T}/{tid}/TransferItems.json")))["TransferItem"]
            assert (items["received"], items["toReceive"]) == ("5", "5")
            assert (await ok(await c.get(f"{T}/{tid}.json")))["Transfer"]["status"] == "received"
    run(scenario)


def test_a_transfer_short_on_arrival_adds_only_what_arrived():
    munich = EMU.seed_shop("Munich Outlet")["shopID"]
    shirt = EMU.seed_item("Shirt", "SHIRT-1", qoh={1: 6})
    transfer = transfers.new_transfer(EMU.store, {"sendingShopID": 1, "receivingShopID": munich})
    transfers.add_items(EMU.store, transfer, {"TransferItems": [{"itemID": shirt["itemID"], "toSend": 4}]})
    transfers.send(EMU.store, transfer, {})
    EMU.receive_transfer(transfer["transferID"], received={shirt["itemID"]: 3})
    assert (EMU.qoh(shirt["itemID"], 1), EMU.qoh(shirt["itemID"], munich)) == (2, 3)


def test_a_count_reconciled_sets_the_counted_quantity_and_the_log_names_the_count():
    mug, pen = EMU.seed_item("Count Mug", "MUG-C", qoh={1: 10}, defaultCost=2.0), EMU.seed_item("Pen", "PEN-C", qoh={1: 1})

    async def scenario():
        async with client() as c:
            count = (await ok(await c.post(f"{A}/InventoryCount.json", json={"name": "June", "shopID": 1})))
            cid = count["InventoryCount"]["inventoryCountID"]
            for qty in (3, 4):  # two shelves of mugs
                await ok(await c.post(f"{A}/InventoryCountItem.json", json={
                    "inventoryCountID": cid, "itemID": mug["itemID"], "qty": qty, "employeeID": 1}))
            await ok(await c.post(f"{A}/InventoryCountItem.json", json={
                "inventoryCountID": cid, "itemID": pen["itemID"], "qty": 5, "employeeID": 1}))
            no_employee = await c.post(f"{A}/InventoryCountItem.json", json={"inventoryCountID": cid,
                                                                            "itemID": pen["itemID"], "qty": 1})
            assert no_employee.status_code == 400
            assert EMU.qoh(mug["itemID"], 1) == 10  # not adjusted until reconciled
            calc = (await ok(await c.get(f"{A}/InventoryCountCalc.json", params={"inventoryCountID": cid,
                                                                                "itemID": mug["itemID"]})))
            assert (calc["InventoryCountCalc"]["calcQoh"], calc["InventoryCountCalc"]["countedQoh"]) == ("10", "7")
            since = max(EMU.store.tables["InventoryLog"])
            one = await c.post(f"{A}/InventoryCountReconcile.json", json={"inventoryCountID": cid, "itemID": mug["itemID"]})
            assert one.headers["X-LS-API-Request-Cost"] == "10"
            reconciled = (await ok(one))["InventoryCountReconcile"]
            assert (reconciled["qohChange"], reconciled["costChange"]) == ("-3", "-6")
            assert EMU.qoh(mug["itemID"], 1) == 7
            assert [(r["qohChange"], r["reason"], r["inventoryCountID"]) for r in logs_of(mug["itemID"], since)] == [
                (-3, "RemoveForInventoryCount", int(cid))]
            again = await c.post(f"{A}/InventoryCountReconcile.json", json={"inventoryCountID": cid,
                                                                           "itemID": mug["itemID"]})
            assert again.status_code == 422  # a reconcile can not be undone nor repeated
            late = await c.post(f"{A}/InventoryCountItem.json", json={"inventoryCountID": cid, "itemID": mug["itemID"],
                                                                     "qty": 1, "employeeID": 1})
            assert late.status_code == 422
            rest = await c.post(f"{A}/InventoryCount/{cid}/Reconcile.json", json={})  # changelog 2026.03.17
            assert rest.headers["X-LS-API-Request-Cost"] == "10"
            assert (await ok(rest))["InventoryCountReconcile"]["itemID"] == str(pen["itemID"])
            assert EMU.qoh(pen["itemID"], 1) == 5
            assert [(r["qohChange"], r["reason"]) for r in logs_of(pen["itemID"], since)] == [(4, "AddInventoryForCount")]
            assert (await c.post(f"{A}/InventoryCount/{cid}/Reconcile.json", json={})).status_code == 422
    run(scenario)


# OAuth: PKCE and revocation (authentication/authorization-code-grant.md, refresh-token.md) -------------
def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def test_a_code_authorized_with_a_pkce_challenge_is_exchanged_only_with_its_verifier():
    form = {"client_id": "sandbox-client", "client_secret": "sandbox-secret", "grant_type": "authorization_code"}

    async def scenario():
        async with client("none") as c:
            verifier, challenge = pkce_pair()
            wrong = await c.post("/auth/oauth/token", data={**form, "code": EMU.authorize(challenge),
                                                            "code_verifier": pkce_pair()[0]})
            assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
            missing = await c.post("/auth/oauth/token", data={**form, "code": EMU.authorize(challenge)})
            assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
            short = await c.post("/auth/oauth/token", data={**form, "code": EMU.authorize(challenge), "code_verifier": "abc"})
            assert short.status_code == 400 and short.json()["error"] == "invalid_request"
            good = await ok(await c.post("/auth/oauth/token", json={**form, "code": EMU.authorize(challenge),
                                                                    "code_verifier": verifier}))
            assert (await c.get("/API/V3/Account.json", headers={"Authorization": f"Bearer {good['access_token']}"})).status_code == 200
            plain = await c.post("/auth/oauth/token", data={**form, "code": EMU.authorize(verifier, "plain"),
                                                            "code_verifier": verifier})
            assert plain.status_code == 200
    run(scenario)


def test_a_publicly_distributed_client_uses_pkce_without_its_secret():
    app = LightspeedREmulator(seed=4, clock=CLOCK, public_client=True)
    verifier, challenge = pkce_pair()
    with pytest.raises(ValueError):
        app.authorize()  # PKCE is mandatory for publicly distributed clients

    async def scenario():
        async with httpx.AsyncClient(transport=EmulatorTransport(app.app), base_url="https://cloud.test") as c:
            reply = await c.post("/auth/oauth/token", data={"client_id": "sandbox-client", "code_verifier": verifier,
                                                            "grant_type": "authorization_code",
                                                            "code": app.authorize(challenge)})
            assert reply.status_code == 200, reply.text
            assert "refresh_token" in app.issue_tokens()
    run(scenario)


def test_a_revoked_refresh_token_breaks_the_link_until_the_merchant_authorizes_again():
    creds = {"client_id": "sandbox-client", "client_secret": "sandbox-secret"}

    async def scenario():
        async with client("none") as c:
            pair = EMU.issue_tokens()
            refreshed = await ok(await c.post("/auth/oauth/token", data={**creds, "grant_type": "refresh_token",
                                                                        "refresh_token": pair["refresh_token"]}))
            unauthenticated = await c.post("/auth/oauth/revoke", data={"client_id": "sandbox-client",
                                                                      "client_secret": "wrong",
                                                                      "refresh_token": refreshed["refresh_token"]})
            assert unauthenticated.status_code == 400 and unauthenticated.json()["error"] == "invalid_client"
            assert (await c.post("/auth/oauth/revoke", data=creds)).status_code == 400  # no refresh_token
            revoked = await c.post("/auth/oauth/revoke", json={**creds, "refresh_token": refreshed["refresh_token"]})
            assert revoked.status_code == 200
            denied = await c.get("/API/V3/Account.json", headers={"Authorization": f"Bearer {refreshed['access_token']}"})
            assert denied.status_code == 401 and denied.json()["hint"] == "Access token has been revoked"
            for old in (refreshed["refresh_token"], pair["refresh_token"]):  # neither the token nor its parent
                again = await c.post("/auth/oauth/token", data={**creds, "grant_type": "refresh_token",
                                                               "refresh_token": old})
                assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
            assert (await c.get("/auth/oauth/revoke")).status_code == 405
    run(scenario)


def test_an_archived_item_comes_back_with_a_put_but_is_archived_only_by_delete():
    item = EMU.seed_item("Sock", "SOCK-1", qoh={1: 2})

    async def scenario():
        async with client() as c:
            url = f"{A}/Item/{item['itemID']}.json"
            assert (await c.put(url, json={"archived": True})).status_code == 400  # item.md: DELETE archives
            await ok(await c.delete(url))
            back = await ok(await c.put(url, json={"archived": False}))
            assert back["Item"]["archived"] == "false" and EMU.qoh(item["itemID"], 1) == 0  # stock stays zeroed
    run(scenario)
