"""The R-Series stores' tills and back office at work through the V3 API (plain httpx, a bearer from the
emulator's OAuth, outside omnisync's request budget): completed Sales (split tenders, line discounts, an
offline sale with its past completeTime), refunds of a receipt (`POST Sale/{id}/refund`) or of an online
order (a refund Sale naming it), and counts keyed in as absolute qoh writes (read, write, verify).
The world is loaded by the plugin (plugin.py) with the same `Api`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from omnisync_pipelines.sandbox.emulators.lightspeed_r.ratelimit import LeakyBucket
from omnisync_pipelines.sandbox.pos import LoadedPos
from omnisync_pipelines.sandbox.world import Adjustment, Receiving, Sale, StoreReturn, Transfer, World

SYSTEM = "lightspeed_r"
ACCOUNT_CURRENCY = "EUR"  # the account's Default price level; a GBP store's location block says GBP
TENDERS = (("cash", "Cash", "cash"), ("card", "Credit Card", "credit card"), ("gift_card", "Gift Card", "gift card"),
           ("store_credit", "Store Credit", "credit account"))  # world tender -> PaymentType name, type
EXTERNAL_ID, LOYALTY_ID = "External ID", "Loyalty ID"  # the Customer custom fields omnisync reads
COLOR_SIZE = 1  # ItemAttributeSet "Color/Size" (itemattributeset.md): attribute1 colour, attribute2 size


def money(minor: int) -> float:
    return round(minor / 100, 2)


def item_description(product_name: str, colour: str, size: str) -> str:
    return f"{product_name} / {colour} / {size}"


@contextmanager
def tills_own_budget(emulator) -> Iterator[None]:
    """The tills and back office are Lightspeed's own front end, not omnisync's API client: what they do
    here through the API must not drip into the client's bucket (nor be slowed by it)."""
    client_bucket = emulator.bucket
    emulator.bucket = LeakyBucket(emulator.clock, registers=1_000_000, burst_limit=None)
    try:
        yield
    finally:
        emulator.bucket = client_bucket


class Api:
    """`/API/V3/Account/{accountID}/…` with a bearer of the account, failing loudly on an error answer."""

    def __init__(self, client: httpx.AsyncClient, emulator):
        self.client, self.prefix = client, f"/API/V3/Account/{emulator.account_id}"
        self.headers = {"Authorization": f"Bearer {emulator.issue_tokens()['access_token']}"}

    async def call(self, method: str, path: str, body: dict | None = None, **params) -> dict:
        response = await self.client.request(method, f"{self.prefix}/{path}.json", json=body, params=params or None,
                                             headers=self.headers)
        if response.status_code >= 400:
            raise RuntimeError(f"sandbox till failed: {method} {path} -> {response.status_code} {response.text[:300]}")
        return response.json()

    async def one(self, method: str, path: str, body: dict | None = None, **params) -> dict:
        answer = await self.call(method, path, body, **params)
        return answer[[part for part in path.split("/") if part[:1].isupper()][-1]]

    async def all(self, resource: str, **params) -> list[dict]:
        """Every row of a listing, following the V3 `next` cursor."""
        rows, answer = [], await self.call("GET", resource, limit="100", **params)
        while True:
            rows += children(answer, resource.split("/")[-1])
            next_url = answer.get("@attributes", {}).get("next")
            if not next_url:
                return rows
            response = await self.client.get(next_url, headers=self.headers)
            response.raise_for_status()
            answer = response.json()


def many(child: str, rows: list[dict]) -> dict:
    return {child: rows}


def children(block, child: str) -> list[dict]:
    """The rows of a relation or listing as the API prints them (one an object, several an array, none "")."""
    found = (block.get(child) or []) if isinstance(block, dict) else []
    return found if isinstance(found, list) else [found]


def customer_body(custom_field_ids: dict[str, int], **view) -> dict:
    """A Customer write from the fields of a customer view (only those given)."""
    body = {api: view[key] for key, api in (("first_name", "firstName"), ("last_name", "lastName")) if key in view}
    contact = {}
    if view.get("email"):
        contact["Emails"] = many("ContactEmail", [{"address": view["email"], "useType": "Primary"}])
    if view.get("phone"):
        contact["Phones"] = many("ContactPhone", [{"number": view["phone"], "useType": "Mobile"}])
    if contact:
        body["Contact"] = contact
    values = [{"customFieldID": custom_field_ids[name], "value": view[key]}
              for key, name in (("external_id", EXTERNAL_ID), ("loyalty_id", LOYALTY_ID)) if view.get(key)]
    if values:
        body["CustomFieldValues"] = many("CustomFieldValue", values)
    return body


class Till:
    """The stores' registers and back office: each world event as the R-Series API receives it."""

    def __init__(self, loaded: LoadedPos, world: World, client: httpx.AsyncClient, emulator):
        self.loaded, self.world, self.ids, self.emulator = loaded, world, loaded.ids, emulator
        self.api = Api(client, emulator)

    async def play(self, events: list) -> Counter:
        posted: Counter = Counter()
        with tills_own_budget(self.emulator):
            for event in events:
                handler = {Sale: self.sale, StoreReturn: self.store_return, Adjustment: self.adjustment,
                           Transfer: self.transfer, Receiving: self.receiving}[type(event)]
                await handler(event)
                posted[type(event).__name__] += 1
        return posted

    def _at(self, store: str) -> dict:
        return {"employeeID": self.ids["employee_id"], "registerID": self.ids["register_ids"][store][0],
                "shopID": self.ids["shop_ids"][store]}

    async def sale(self, sale: Sale) -> None:
        body = {**self._at(sale.store), "completed": True,
                "SaleLines": many("SaleLine", [
                    {"itemID": self.ids["item_ids"][line.sku], "unitQuantity": line.quantity,
                     "unitPrice": money(line.unit_gross), "discountAmount": money(line.discount * line.quantity),
                     "tax": True} for line in sale.lines]),
                "SalePayments": many("SalePayment", [
                    {"paymentTypeID": self.ids["payment_type_ids"][method], "amount": money(amount)}
                    for method, amount in sale.tenders])}
        if sale.shopper in self.ids["customer_ids"]:
            body["customerID"] = self.ids["customer_ids"][sale.shopper]
        if sale.at.timestamp() <= self.emulator.clock():
            body["completeTime"] = sale.at.isoformat()  # the time it was rung up (an offline sale's is past)
        self.loaded.sale_ids[sale.event_id] = str((await self.api.one("POST", "Sale", body))["saleID"])

    async def store_return(self, ret: StoreReturn) -> None:
        note = {"Note": {"note": ret.reason}}
        if ret.of_sale:  # the receipt is looked up and refunded line by line (sale-refund.md)
            sale_id = self.loaded.sale_ids[ret.of_sale]
            sold = await self.api.one("GET", f"Sale/{sale_id}", load_relations='["SaleLines"]')
            lines = children(sold.get("SaleLines"), "SaleLine")
            refund_lines, refund = [], 0.0
            for sku, quantity in ret.lines:
                line = next(li for li in lines if int(li["itemID"]) == self.ids["item_ids"][sku]
                            and float(li["unitQuantity"]) > 0)
                charged = float(line["unitPrice"]) - float(line["discountAmount"]) / float(line["unitQuantity"])
                refund += charged * quantity
                refund_lines.append({"parentSaleLineID": int(line["saleLineID"]), "unitQuantity": -quantity, **note})
            body = {**self._at(ret.store), "completed": True, "SaleLines": many("SaleLine", refund_lines),
                    "SalePayments": many("SalePayment", [{"paymentTypeID": self.ids["payment_type_ids"]["cash"],
                                                          "amount": -round(refund, 2)}])}
            created = await self.api.one("POST", f"Sale/{sale_id}/refund", body)
        else:  # an online order brought back to the store: a refund Sale that names the order
            store = self.world.store(ret.store)
            units = [(sku, quantity, self.world.variant(sku).price_at(store)) for sku, quantity in ret.lines]
            body = {**self._at(ret.store), "completed": True, "referenceNumber": ret.of_online_order,
                    "referenceNumberSource": "commercetools",
                    "SaleLines": many("SaleLine", [
                        {"itemID": self.ids["item_ids"][sku], "unitQuantity": -quantity, "unitPrice": money(gross),
                         "tax": True, **note} for sku, quantity, gross in units]),
                    "SalePayments": many("SalePayment", [
                        {"paymentTypeID": self.ids["payment_type_ids"]["cash"],
                         "amount": -money(sum(gross * quantity for _, quantity, gross in units))}])}
            created = await self.api.one("POST", "Sale", body)
        self.loaded.sale_ids[ret.event_id] = str(created["saleID"])

    async def count_in(self, sku: str, store: str, delta: int) -> None:
        """Staff key in a new count: read the shelf's qoh, write the absolute count, check it took."""
        item_id, shop_id = self.ids["item_ids"][sku], self.ids["shop_ids"][store]
        item = await self.api.one("GET", f"Item/{item_id}", load_relations='["ItemShops"]')
        shop = next(s for s in children(item["ItemShops"], "ItemShop") if int(s["shopID"]) == shop_id)
        level = int(shop["qoh"]) + delta
        written = await self.api.one("PUT", f"Item/{item_id}", {
            "ItemShops": many("ItemShop", [{"itemShopID": int(shop["itemShopID"]), "qoh": level}])},
            load_relations='["ItemShops"]')
        after = next(s for s in children(written["ItemShops"], "ItemShop") if int(s["shopID"]) == shop_id)
        if int(after["qoh"]) != level:
            raise RuntimeError(f"sandbox till: the count of {sku} at {store} did not take ({after['qoh']} != {level})")

    async def adjustment(self, event: Adjustment) -> None:
        await self.count_in(event.sku, event.store, event.delta)

    async def transfer(self, event: Transfer) -> None:
        for store, sign in ((event.from_store, -1), (event.to_store, 1)):
            if store in self.ids["shop_ids"]:  # a store on another POS books its own side
                for sku, quantity in event.lines:
                    await self.count_in(sku, store, sign * quantity)

    async def receiving(self, event: Receiving) -> None:
        for sku, quantity in event.lines:
            await self.count_in(sku, event.store, quantity)
