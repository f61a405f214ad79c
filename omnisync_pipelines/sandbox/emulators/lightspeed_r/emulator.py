"""`LightspeedREmulator`: one R-Series account (one API client), served as an ASGI app."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from omnisync_pipelines.sandbox.emulators.lightspeed_r import (
    catalog,
    customers,
    purchase_orders,
    transfers,
    writes,
)
from omnisync_pipelines.sandbox.emulators.lightspeed_r.app import MESSAGES, build_app
from omnisync_pipelines.sandbox.emulators.lightspeed_r.auth import OAuth
from omnisync_pipelines.sandbox.emulators.lightspeed_r.ratelimit import LeakyBucket, fmt
from omnisync_pipelines.sandbox.emulators.lightspeed_r.store import Store
from omnisync_pipelines.sandbox.faults import FaultMiddleware, FaultPlan


class LightspeedREmulator:
    """`clock` (epoch seconds) drives token expiry, the bucket's drip and every `timeStamp`;
    `registers` is the subscription's register limit (it sizes the bucket); `burst_limit=None` turns
    the 1-s burst limiter off; `public_client`: a publicly distributed client (no secret, PKCE). Seeds
    one shop, register, employee, tax category and payment types."""

    def __init__(self, seed: int = 0, *, client_id: str = "sandbox-client", client_secret: str = "sandbox-secret",
                 faults: FaultPlan | None = None, clock: Callable[[], float] = time.time, registers: int = 1,
                 burst_limit: int | None = 20, account_name: str = "Omnisync Sandbox", public_client: bool = False):
        self.seed = seed
        self.clock = clock
        self.account_id = 80000 + seed  # the account id is numeric in every docs sample
        self.account_name = account_name
        self.oauth_client_number = str(50000 + seed)
        self.store = Store(clock, seed)
        self.oauth = OAuth(clock, client_id, client_secret, public=public_client)
        self.bucket = LeakyBucket(clock, registers, burst_limit)
        self.faults = faults or FaultPlan(seed=seed)
        self.lock = asyncio.Lock()
        self.app = FaultMiddleware(build_app(self), self.faults, self._fault_shape, exempt_paths=("/auth/oauth/",))
        self.tax_category = self.seed_tax_category("Sales Tax", 0.08)
        self.shop = self.seed_shop("Main Store", tax_category_id=self.tax_category["taxCategoryID"])
        self.register = self.seed_register(self.shop["shopID"], "Register 1")
        self.employee = self.seed_employee("Sam", "Sandbox")
        self.cash = self.seed_payment_type("Cash", "cash")
        self.card = self.seed_payment_type("Credit Card", "credit card")

    # what a client needs --------------------------------------------------------------------------
    def credentials(self, base_url: str) -> dict:
        """What an app needs to reach the account: its client, and a refresh token of a fresh
        authorisation (single use: the first refresh rotates it)."""
        return {"base_url": base_url, "account_id": str(self.account_id), "client_id": self.oauth.client_id,
                "client_secret": self.oauth.client_secret, "refresh_token": self.issue_tokens()["refresh_token"]}

    def authorize(self, code_challenge: str = "", code_challenge_method: str = "S256") -> str:
        """The code the merchant's consent screen hands the app's redirect URI (single use, 60 s); with a
        PKCE `code_challenge` only its `code_verifier` exchanges it."""
        return self.oauth.authorize(code_challenge, code_challenge_method)

    def issue_tokens(self) -> dict:
        """Token response for a fresh authorization (skips the consent screen)."""
        return self.oauth.bearer()

    def account_row(self) -> dict:
        return {"accountID": str(self.account_id), "name": self.account_name,
                "link": {"@attributes": {"href": f"/API/V3/Account/{self.account_id}"}}}

    # seeding (back-office actions, not API) -------------------------------------------------------
    def seed_tax_category(self, name: str, rate: float, inclusive: bool = False) -> dict:
        """`inclusive=True`: VAT-style, prices are gross and tax is carved out of them."""
        return catalog.new_tax_category(self.store, {"isTaxInclusive": inclusive, "tax1Name": name, "tax1Rate": rate})

    def seed_price_level(self, name: str) -> dict:
        """A PriceLevel (the API has no PriceLevel POST: levels are made in the back office)."""
        return self.store.insert("PriceLevel", {"name": name, "archived": False, "canBeArchived": True,
                                                "type": "fixed", "Calculation": ""})

    def seed_shop(self, name: str, time_zone: str = "America/New_York", tax_category_id: int = 0,
                  price_level_id: int = 1) -> dict:
        return catalog.new_shop(self.store, {"name": name, "timeZone": time_zone, "taxCategoryID": tax_category_id,
                                             "priceLevelID": price_level_id})

    def seed_custom_field(self, name: str, kind: str = "string") -> dict:
        """A Customer custom field definition (`Customer/CustomField`)."""
        return customers.new_field(self.store, {"name": name, "type": kind})

    def seed_register(self, shop_id: int, name: str) -> dict:
        return self.store.insert("Register", {"name": name, "open": False, "openTime": "", "tipEnabled": False,
                                              "openEmployeeID": 0, "shopID": shop_id})

    def seed_employee(self, first: str, last: str) -> dict:
        return self.store.insert("Employee", {"firstName": first, "lastName": last, "lockOut": False, "archived": False,
                                              "contactID": 0, "clockInEmployeeHoursID": 0, "employeeRoleID": 1,
                                              "limitToShopID": 0, "lastShopID": 0, "lastSaleID": 0, "lastRegisterID": 0})

    def seed_payment_type(self, name: str, kind: str) -> dict:
        return self.store.insert("PaymentType", {"name": name, "requireCustomer": False, "archived": False,
                                                 "internalReserved": False, "type": kind, "refundAsPaymentTypeID": 0})

    def seed_category(self, name: str, parent_id: int = 0) -> dict:
        return catalog.new_category(self.store, {"name": name, "parentID": parent_id})

    def seed_matrix(self, description: str, price: float = 0.0, category_id: int = 0, attribute_set_id: int = 2) -> dict:
        """A matrix (attribute set 2 = Color/Size in the item-matrices tutorial) whose Default price its
        new items take."""
        return catalog.new_matrix(self.store, {"description": description, "categoryID": category_id,
                                               "itemAttributeSetID": attribute_set_id,
                                               "Prices": {"ItemPrice": [{"useTypeID": 1, "amount": price}]}})

    def seed_item(self, description: str, custom_sku: str = "", price: float = 10.0, qoh: dict[int, int] | None = None,
                  store_prices: dict[int, float] | None = None, **fields) -> dict:
        """An item with its Default price, prices per price level id (`store_prices`) and, per shop id,
        the stock on hand (logged as ItemCreated)."""
        levels = [{"useTypeID": level, "amount": amount} for level, amount in (store_prices or {}).items()]
        body = {"description": description, "customSku": custom_sku, **fields,
                "Prices": {"ItemPrice": [{"useTypeID": 1, "amount": price}, *levels]}}
        row = writes.new_item(self.store, body)
        for shop_id, amount in (qoh or {}).items():
            self.store.set_qoh(row["itemID"], shop_id, amount, "ItemCreated")
        return row

    def seed_customer(self, first: str, last: str, email: str = "", phone: str = "",
                      custom: dict[str, str] | None = None) -> dict:
        """`custom`: custom field name -> value (the fields must be seeded first)."""
        body: dict = {"firstName": first, "lastName": last, "Contact": {}}
        if email:
            body["Contact"]["Emails"] = {"ContactEmail": {"address": email, "useType": "Primary"}}
        if phone:
            body["Contact"]["Phones"] = {"ContactPhone": {"number": phone, "useType": "Mobile"}}
        fields = {f["name"]: f["customFieldID"] for f in self.store.tables["CustomField"].values()}
        body["CustomFieldValues"] = {"CustomFieldValue": [{"customFieldID": fields[name], "value": value}
                                                          for name, value in (custom or {}).items()]}
        return writes.new_customer(self.store, body)

    # what only Retail POS's screens do ------------------------------------------------------------
    def check_in_order(self, order_id: int, employee_id: int = 0) -> dict:
        """The purchase order's check-in in Retail POS (the API only records `numReceived`): received
        units go to the shop's qoh, logged with the orderID; the order is complete."""
        return purchase_orders.check_in(self.store, self.store.tables["Order"][order_id], employee_id)

    def receive_transfer(self, transfer_id: int, received: dict[int, int] | None = None, employee_id: int = 0) -> dict:
        """A sent transfer received in Retail POS (the API can not receive): `received` is itemID -> units
        that arrived (default: all that were sent)."""
        return transfers.receive(self.store, self.store.tables["Transfer"][transfer_id], received, employee_id)

    def transfer_stock(self, item_id: int, from_shop: int, to_shop: int, units: int) -> dict:
        """A transfer of one item created, sent (as the API does) and received (as the UI does)."""
        transfer = transfers.new_transfer(self.store, {"sendingShopID": from_shop, "receivingShopID": to_shop})
        transfers.add_items(self.store, transfer, {"TransferItems": [{"itemID": item_id, "toSend": units}]})
        transfers.send(self.store, transfer, {})
        return self.receive_transfer(transfer["transferID"])

    def receive_stock(self, item_id: int, shop_id: int, units: int, order_id: int = 0) -> dict:
        """Units of a purchase order received at a shop: a line on the open Order `order_id` (0: a new
        order), `numReceived` as the API sets it, then checked in as the UI does."""
        order = (self.store.tables["Order"][order_id] if order_id
                 else purchase_orders.new_order(self.store, {"shopID": shop_id}))
        if order["shopID"] != shop_id:
            raise ValueError(f"Order {order_id} is for shop {order['shopID']}, not {shop_id}")
        purchase_orders.new_line(self.store, {"orderID": order["orderID"], "itemID": item_id, "quantity": units,
                                              "numReceived": units})
        return self.check_in_order(order["orderID"])

    def qoh(self, item_id: int, shop_id: int) -> int:
        return self.store.item_shop(item_id, shop_id)["qoh"]

    # faults ---------------------------------------------------------------------------------------
    def _fault_shape(self, kind: str, retry_after_s: float):
        status = 429 if kind == "throttle" else 503
        body = json.dumps({"httpCode": str(status), "httpMessage": MESSAGES[status],
                           "message": "Rate limit exceeded" if status == 429 else "Service Unavailable",
                           "errorClass": "RateLimitException" if status == 429 else "Exception"}).encode()
        headers = [(b"content-type", b"application/json")]
        if status == 429:
            headers += [(b"retry-after", str(max(1, round(retry_after_s))).encode()),
                        (b"x-ls-api-ratelimit-type", b"api-leaky-bucket"),
                        (b"x-ls-api-bucket-level", f"{fmt(self.bucket.current())}/{self.bucket.size}".encode())]
        return status, headers, body


__all__ = ["LightspeedREmulator"]
