"""The Lightspeed Retail R-Series emulator (issue 19, first part), played over HTTP as a client would.

Contract (vendor docs in ../shared/vendor_api/lightspeed_r/docs, API_FACTS §3): V3 cursor paging walks
every record once and back; `timeStamp=>,…` returns only changes; `load_relations` embeds ItemShops;
JSON is XML-shaped (strings, one child an object, several an array, none ""); an absolute qoh write
logs the difference in InventoryLog and a completed sale takes stock; refresh tokens rotate and a used
one fails once its successor is used; the leaky bucket (90, 1/s, 2026-03-17 costs) answers 429 with
Retry-After and drains at the drip rate on an injected clock; the burst limiter; fault injection.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
from datetime import UTC, datetime

import httpx
import pytest

from omnisync_pipelines.sandbox.emulators.lightspeed_r import LightspeedREmulator
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
