"""The R-Series emulator against Lightspeed's own endpoint pages (../shared/vendor_api/lightspeed_r/docs/
endpoints/*.md, read at test time, never copied): for every resource it serves, every field it prints
is documented on the page (a "… Fields" table, or a key of the page's sample JSON: the samples show
fields the tables omit, e.g. Sale `ticketNumber`, Item `Prices`), the verbs it serves are among the
page's "Actions Allowed", its sortable fields are exactly the page's "Sortable Fields", and each of
those sorts (ascending and `-` descending) while any other field is refused."""

from __future__ import annotations

import asyncio
import json
import re
from functools import cache
from pathlib import Path

import httpx
import pytest

from omnisync_pipelines.sandbox.emulators.lightspeed_r import LightspeedREmulator
from omnisync_pipelines.sandbox.emulators.lightspeed_r.resources import RESOURCES
from omnisync_pipelines.sandbox.transport import EmulatorTransport
from omnisync_pipelines_tests.conformance.vendor_documents import vendor_dir, vendor_file

PAGES = {name: name.lower() + ".md" for name in RESOURCES} | {"CustomField": "customer-customfield.md",
                                                              "Refund": "sale-refund.md",
                                                              "Transfer": "inventory-transfer.md",
                                                              "TransferItems": "inventory-transfer-transferitems.md"}
# relation (as embedded by load_relations) -> the resource whose page documents its fields
RELATED = {"ItemShops": "ItemShop", "Category": "Category", "Items": "Item", "SaleLines": "SaleLine",
           "SalePayments": "SalePayment", "PaymentType": "PaymentType", "Customer": "Customer", "Contact": "Customer",
           "Note": "SaleLine", "InventorySales": "SaleLine", "Item": "Item", "ItemAttributes": "Item",
           "CustomFieldValues": "CustomField", "ShipTo": "ShipTo", "Registers": "Register", "PriceLevel": "PriceLevel",
           "TaxCategory": "TaxCategory", "OrderLines": "OrderLine", "Shop": "Shop", "SendingShop": "Shop",
           "ReceivingShop": "Shop", "CreatedByEmployee": "Employee", "SentByEmployee": "Employee",
           "TransferItems": "TransferItem"}
# a page's obvious copy-paste slip -> what the emulator serves instead (named, never silently)
SORTABLE_TYPOS = {"PriceLevel": {"orderLineID": "priceLevelID"}}
VERBS = {"GET/Read (single)": "GET single", "GET/Read (query)": "GET query"}
ALSO_ON = {"Transfer": ("TransferItems",)}  # a transfer's item actions have their own page
CHANGELOG_ACTIONS = {"InventoryCount": ("Reconcile",)}  # named (and priced) only by the 2026.03.17 changelog
# the Inventory Transfer pages list "Available Actions" (links) instead of an "Actions Allowed" table
AVAILABLE = {"GET Read Multiple": "GET query", "GET Read Single": "GET single", "POST Create": "POST", "PUT Update": "PUT",
             "POST Archive": "POST Archive", "POST Restore": "POST Restore", "POST Send": "POST Send",
             "POST Create (single or multiple)": "POST AddItems", "POST Update Multiple)": "POST UpdateItems",
             "POST Delete Multiple": "POST DeleteItems"}


def page(name: str) -> str:
    return vendor_file("lightspeed_r", "docs", "endpoints", PAGES[name]).read_text(encoding="utf-8")


def _section(text: str, title: str) -> list[str]:
    """Lines of a `#### title` section, up to the next heading or rule."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("#"):
            inside = line.strip() == f"#### {title}"
            continue
        if line.startswith("---") and not line.startswith("| ---"):
            inside = False
        if inside:
            lines.append(line)
    return lines


def _keys(node, into: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            into.add(key)
            _keys(value, into)
    elif isinstance(node, list):
        for value in node:
            _keys(value, into)


@cache
def documented_fields(name: str) -> frozenset[str]:
    """The "… Fields" tables, the keys of the sample JSON, and the "Additional Relations" (a loaded
    relation prints under its name)."""
    text = page(name)
    fields = set(re.findall(r"^\| ([A-Za-z@][\w]*) \| \(", text, flags=re.M))  # `| field | (type) …` rows
    fields |= {part.strip().rstrip("*") for line in _section(text, "Additional Relations") if line.startswith("- ")
               for part in line[2:].split(".")}
    for block in re.findall(r"```json\n(.*?)```", text, flags=re.S):
        try:
            _keys(json.loads(block), fields)
        except json.JSONDecodeError:  # samples with `{...}` placeholders: take their quoted keys
            fields |= set(re.findall(r'"([A-Za-z@]\w*)"\s*:', block))
    return frozenset(fields)


def documented_verbs(name: str) -> set[str]:
    verbs = {v for other in ALSO_ON.get(name, ()) for v in documented_verbs(other) if v.startswith("POST ")}
    if name in CHANGELOG_ACTIONS:
        changelog = vendor_file("lightspeed_r", "docs", "introduction", "changelog.md").read_text(encoding="utf-8")
        verbs |= {f"POST {a}" for a in CHANGELOG_ACTIONS[name] if f"POST /API/V3/Account/#/{name}/#/{a}" in changelog}
    for line in _section(page(name), "Actions Allowed"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or cells[1] != "True":
            continue
        action = cells[0].replace("[", "").replace("]", "")
        verbs.add(VERBS.get(action, action.split("/")[0]))
    for line in _section(page(name), "Available Actions"):
        found = re.match(r"- \[(.+)\]\(", line.strip())
        if found:
            verbs.add(AVAILABLE[found.group(1)])
    return verbs


def documented_sortable(name: str) -> set[str]:
    fields = {line[2:].strip() for line in _section(page(name), "Sortable Fields") if line.startswith("- ")}
    return {SORTABLE_TYPOS.get(name, {}).get(f, f) for f in fields}


def documented_costs(name: str) -> dict[str, float]:
    """verb -> drips of the page's "Request Cost" table (rows that name a number)."""
    costs = {}
    for line in _section(page(name), "Request Cost"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        found = re.match(r"(\d+(?:\.\d+)?) drips?", cells[1]) if len(cells) == 2 else None
        if found:
            costs[cells[0].split("/")[0]] = float(found.group(1))
    return costs


def served_verbs(name: str) -> set[str]:
    resource = RESOURCES[name]
    actions = [] if name == "Sale" else [f"POST {a}" for a in resource.actions]  # refund: its own page and test
    return {"GET query", *(["GET single"] if resource.single else []), *resource.writes, *actions}


# one account with a row of every served resource ------------------------------------------------
EMU = LightspeedREmulator(seed=9, burst_limit=None, registers=40)  # a big bucket: this module reads a lot
A = f"/API/V3/Account/{EMU.account_id}"


@pytest.fixture(scope="module")
def seeded():
    vendor_dir()  # nothing to seed for a skipped module
    category = EMU.seed_category("Tops")
    EMU.seed_category("Tees", category["categoryID"])
    matrix = EMU.seed_matrix("Tee matrix")
    berlin = EMU.seed_price_level("Berlin")
    EMU.seed_shop("Second Store", price_level_id=berlin["priceLevelID"])
    items = [EMU.seed_item(f"Tee {size}", f"TEE-{size}", 19.99 + i, qoh={1: 5, 2: 3}, itemMatrixID=matrix["itemMatrixID"],
                           categoryID=category["categoryID"], store_prices={berlin["priceLevelID"]: 18.0},
                           ItemAttributes={"attribute1": "Black", "attribute2": size})
             for i, size in enumerate(("S", "M", "L"))]
    EMU.seed_item("Mug", "MUG", 7.5, qoh={1: 1})
    EMU.seed_custom_field("External ID")
    EMU.seed_custom_field("Loyalty ID")
    customers = [EMU.seed_customer("Ann", "Lee", "ann@example.com", custom={"External ID": "ANN", "Loyalty ID": "L-1"}),
                 EMU.seed_customer("Zed", "Adams")]
    EMU.seed_employee("Kim", "Park")
    tokens = EMU.issue_tokens()

    async def sales():
        async with httpx.AsyncClient(transport=EmulatorTransport(EMU.app), base_url="https://api.test",
                                     headers={"Authorization": f"Bearer {tokens['access_token']}"}) as c:
            for n, lines in enumerate(([items[0]], [items[1], items[2]])):
                total = round(sum(19.99 + items.index(i) for i in lines) * 1.08, 2)
                reply = await c.post(f"{A}/Sale.json", json={
                    "employeeID": 1, "registerID": 1, "shopID": 1, "customerID": customers[n]["customerID"],
                    "completed": True, "SaleLines": {"SaleLine": [{"itemID": i["itemID"], "unitQuantity": 1} for i in lines]},
                    "SalePayments": {"SalePayment": {"amount": total, "paymentTypeID": 1 + n}}})
                assert reply.status_code == 200, reply.text
            sale_id = reply.json()["Sale"]["saleID"]
            refund = await c.post(f"{A}/Sale/{sale_id}/refund.json", json={
                "employeeID": 1, "registerID": 1, "shopID": 1, "SalePayments": {"SalePayment": {"paymentTypeID": 2}}})
            assert refund.status_code == 200, refund.text
            hold = await c.post(f"{A}/SaleLine.json", json={
                "customerID": customers[0]["customerID"], "employeeID": 1, "shopID": 1, "itemID": items[0]["itemID"],
                "unitQuantity": 1, "isLayaway": True, "Note": {"note": "for pickup"}})
            assert hold.status_code == 200, hold.text
            order = await c.post(f"{A}/Sale.json", json={
                "employeeID": 1, "registerID": 1, "shopID": 1, "customerID": customers[0]["customerID"],
                "referenceNumber": "ORDER-1", "referenceNumberSource": "omnisync",
                "ShipTo": {"firstName": "Ann", "lastName": "Lee", "Contact": {"Addresses": {"ContactAddress": {
                    "address1": "1 Main St", "city": "Berlin", "zip": "10115", "countryCode": "DE"}}}},
                "SaleLines": {"SaleLine": {"saleLineID": hold.json()["SaleLine"]["saleLineID"]}}})
            assert order.status_code == 200, order.text
            voided = await c.put(f"{A}/Sale/{order.json()['Sale']['saleID']}.json", json={"voided": True})
            assert voided.status_code == 200, voided.text
            for body_path, body in stock_writes(items):
                reply = await c.post(f"{A}/{body_path}.json", json=body)
                assert reply.status_code == 200, reply.text
    asyncio.run(sales())
    EMU.check_in_order(1)
    EMU.receive_transfer(1)
    return tokens["access_token"]


def stock_writes(items: list[dict]) -> list[tuple[str, dict]]:
    """A purchase order with two lines, two transfers (one sent, one open) and a reconciled count."""
    ids = [i["itemID"] for i in items]
    return [("Order", {"shopID": 1, "vendorID": 1, "orderedDate": "2026-05-01", "Note": {"note": "spring"}}),
            ("OrderLine", {"orderID": 1, "itemID": ids[0], "quantity": 6, "price": 7, "numReceived": 6}),
            ("OrderLine", {"orderID": 1, "itemID": ids[1], "quantity": 2, "price": 7}),
            ("Inventory/Transfer", {"sendingShopID": 1, "receivingShopID": 2, "note": "restock"}),
            ("Inventory/Transfer/1/AddItems", {"TransferItems": [{"itemID": ids[0], "toSend": 2},
                                                                 {"itemID": ids[1], "toSend": 1}]}),
            ("Inventory/Transfer/1/Send", {}),
            ("Inventory/Transfer", {"sendingShopID": 2, "receivingShopID": 1}),
            ("Inventory/Transfer/2/AddItems", {"TransferItems": [{"itemID": ids[2], "toSend": 1}]}),
            ("InventoryCount", {"name": "May count", "shopID": 1}),
            ("InventoryCountItem", {"inventoryCountID": 1, "itemID": ids[0], "qty": 3, "employeeID": 1}),
            ("InventoryCountItem", {"inventoryCountID": 1, "itemID": ids[1], "qty": 9, "employeeID": 1}),
            ("InventoryCountReconcile", {"inventoryCountID": 1})]


def get(token: str, path: str, **params) -> httpx.Response:
    async def one():
        async with httpx.AsyncClient(transport=EmulatorTransport(EMU.app), base_url="https://api.test",
                                     headers={"Authorization": f"Bearer {token}"}) as c:
            return await c.get(path, params=params)
    return asyncio.run(one())


def _unknown(name: str, row: dict, path: str = "") -> list[str]:
    allowed = documented_fields(name)
    bad = []
    for key, value in row.items():
        if key not in allowed:
            bad.append(f"{path}{key}")
        related = RELATED.get(key)
        if related and isinstance(value, dict):
            children = [c for k, v in value.items() for c in (v if isinstance(v, list) else [v])] \
                if all(k[:1].isupper() for k in value) else [value]
            for child in children:
                if isinstance(child, dict):
                    bad += [b for b in _unknown(related, child, f"{path}{key}.") if b.rsplit(".", 1)[-1] not in allowed]
    return bad


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_every_field_the_emulator_prints_is_documented(seeded, name):
    resource = RESOURCES[name]
    asked = "all" if name != "Customer" else json.dumps(list(resource.relations))  # `all` skips CustomFieldValues
    reply = get(seeded, f"{A}/{resource.url_path}.json", load_relations=asked, archived="true")
    assert reply.status_code == 200, reply.text
    rows = reply.json().get(name)
    rows = rows if isinstance(rows, list) else [rows]
    assert rows and rows[0], f"the module seeds at least one {name}"
    unknown = sorted({b for row in rows for b in _unknown(name, row)})
    assert not unknown, f"{name}: fields not on {PAGES[name]}: {unknown}"
    assert all(resource.pk in row for row in rows)


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_served_verbs_are_documented_and_others_refused(seeded, name):
    documented = documented_verbs(name)
    assert documented, f"no Actions Allowed table read from {PAGES[name]}"
    assert served_verbs(name) <= documented, f"{name} serves {served_verbs(name) - documented}, not documented"

    async def refused():
        async with httpx.AsyncClient(transport=EmulatorTransport(EMU.app), base_url="https://api.test",
                                     headers={"Authorization": f"Bearer {seeded}"}) as c:
            codes = {}
            where = RESOURCES[name].url_path
            for verb in {"POST", "PUT", "DELETE"} - set(RESOURCES[name].writes):
                path = f"{A}/{where}.json" if verb == "POST" else f"{A}/{where}/1.json"
                codes[verb] = (await c.request(verb, path, json={} if verb != "DELETE" else None)).status_code
            return codes
    assert set(asyncio.run(refused()).values()) <= {405}


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_documented_sortable_fields_sort(seeded, name):
    documented = documented_sortable(name)
    assert set(RESOURCES[name].sortable) == documented
    for field in sorted(documented):
        for sign in ("", "-"):
            reply = get(seeded, f"{A}/{RESOURCES[name].url_path}.json", sort=sign + field, archived="true")
            assert reply.status_code == 200, reply.text
            rows = reply.json().get(name)
            rows = rows if isinstance(rows, list) else [rows]
            values = [_sort_value(r[field]) for r in rows if field in r]
            assert values == sorted(values, reverse=bool(sign)), f"{name} sort={sign}{field}: {values}"
    refused = get(seeded, f"{A}/{RESOURCES[name].url_path}.json", sort="notAField")
    assert refused.status_code == 400 and refused.json()["httpCode"] == "400"


def test_refund_route_is_documented_and_priced(seeded):
    assert documented_verbs("Refund") == {"POST"}
    assert documented_costs("Refund") == {"POST": 10.0}

    async def probe():
        async with httpx.AsyncClient(transport=EmulatorTransport(EMU.app), base_url="https://api.test",
                                     headers={"Authorization": f"Bearer {seeded}"}) as c:
            refused = await c.get(f"{A}/Sale/1/refund.json")
            missing = await c.post(f"{A}/Sale/999999/refund.json", json={})
            return refused.status_code, missing
    refused, missing = asyncio.run(probe())
    assert refused == 405 and missing.status_code == 404
    assert missing.headers["X-LS-API-Request-Cost"] == "10"


@pytest.mark.parametrize("name", sorted(n for n in RESOURCES if RESOURCES[n].writes))
def test_write_costs_are_the_pages_request_costs(seeded, name):
    """A bodiless write costs the page's drips (or the 1-drip default); a miss answers before any row is
    read, so the cost is taken whatever the outcome (rate-limiting.md: costs come from the request alone)."""
    costs = documented_costs(name)

    async def probe(verb):
        async with httpx.AsyncClient(transport=EmulatorTransport(EMU.app), base_url="https://api.test",
                                     headers={"Authorization": f"Bearer {seeded}"}) as c:
            where = RESOURCES[name].url_path
            path = f"{A}/{where}.json" if verb == "POST" else f"{A}/{where}/999999.json"
            return await c.request(verb, path, json={} if verb != "DELETE" else None)
    for verb in RESOURCES[name].writes:
        reply = asyncio.run(probe(verb))
        assert float(reply.headers["X-LS-API-Request-Cost"]) == costs.get(verb, 1.0), f"{name} {verb}"


def test_relations_of_one_transfer_are_documented(seeded):
    """TransferItems (and TransferItems.Item) load "only when getting a single Transfer by ID"."""
    reply = get(seeded, f"{A}/Inventory/Transfer/1.json", load_relations="all")
    assert reply.status_code == 200, reply.text
    row = reply.json()["Transfer"]
    assert row["TransferItems"] and not _unknown("Transfer", row)
    assert get(seeded, f"{A}/Inventory/Transfer.json", load_relations='["TransferItems"]').status_code == 400


def test_every_definition_on_the_stock_pages_is_routed(seeded):
    """Each `> Definition` of the Order, Inventory Transfer and InventoryCount pages answers with its
    documented verb (ids of the seeded rows filled in): never "unknown resource" nor 405."""
    ids = {"accountID": str(EMU.account_id), "orderID": "1", "orderLineID": "1", "transferID": "2",
           "transferItemID": "3", "inventoryCountID": "1", "inventoryCountItemID": "1", "inventoryCountCalcID": "1",
           "inventoryCountReconcileID": "1"}
    pages = ("order.md", "orderline.md", "inventory-transfer.md", "inventory-transfer-transferitems.md",
             "inventorycount.md", "inventorycountitem.md", "inventorycountcalc.md", "inventorycountreconcile.md",
             "transferitem.md")
    read = [(verb, path) for name in pages
            for verb, path in re.findall(r"> Definition\s*```\s*(GET|POST|PUT|DELETE) (/API/V3/\S+)\s*```",
                                         vendor_file("lightspeed_r", "docs", "endpoints", name).read_text("utf-8"))]
    assert len(read) > 30
    writes_last = sorted(read, key=lambda d: (d[0] == "DELETE", "Send" in d[1] or "Delete" in d[1]))

    async def probe():
        async with httpx.AsyncClient(transport=EmulatorTransport(EMU.app), base_url="https://api.test",
                                     headers={"Authorization": f"Bearer {seeded}"}) as c:
            answers = []
            for verb, path in writes_last:
                url = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
                reply = await c.request(verb, url, json=None if verb in ("GET", "DELETE") else {})
                answers.append((verb, path, reply.status_code, reply.text[:120]))
            return answers
    for verb, path, status, text in asyncio.run(probe()):
        assert status not in (404, 405) or "not found" in text and "Unknown" not in text, (verb, path, status, text)


def _sort_value(text: str):
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)


def test_pages_are_read_from_shared_not_the_repository():
    path = vendor_file("lightspeed_r", "docs", "endpoints", "item.md")
    assert Path(__file__).resolve().parents[2] not in path.resolve().parents
