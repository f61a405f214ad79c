"""`LightspeedXEmulator`: one retailer's X-Series account, served as an ASGI app."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from email.utils import formatdate

import httpx

from omnisync_pipelines.sandbox.emulators.lightspeed_x import hooks, sales, writes
from omnisync_pipelines.sandbox.emulators.lightspeed_x.app import build_app
from omnisync_pipelines.sandbox.emulators.lightspeed_x.ratelimit import WindowLimiter
from omnisync_pipelines.sandbox.emulators.lightspeed_x.store import ALL_CUSTOMERS_GROUP_ID, Store, now_iso
from omnisync_pipelines.sandbox.faults import FaultMiddleware, FaultPlan

TOKEN_TTL_S = 86_400


class LightspeedXEmulator:
    def __init__(self, domain_prefix: str = "omnisync-sandbox", personal_token: str = "sandbox-token",
                 client_id: str = "sandbox-client", client_secret: str = "sandbox-secret", seed: int = 0,
                 faults: FaultPlan | None = None, rate_limit: tuple[int, float] | None = None, clock=time.time):
        self.domain_prefix = domain_prefix
        self.personal_token = personal_token
        self.client_id, self.client_secret = client_id, client_secret
        self.store = Store(seed=seed)
        self.all_customers = self._all_customers_group()
        self.store.on_change = self._queue_webhooks
        self.faults = faults or FaultPlan(seed=seed)
        self.clock = clock
        self.lock = asyncio.Lock()
        self.tokens: dict[str, float] = {personal_token: float("inf")}  # token -> expiry
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> access token it may replace
        self.codes: set[str] = set()
        self.retailer_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{domain_prefix}.retail.lightspeed.app"))
        self.pending_webhooks: list[dict] = []
        self.webhook_drop_rate = 0.0
        # deliveries carry a `type` form field beside `payload`; the docs promise only `payload`, so a
        # receiver must also work with this off (type taken from the registered URL)
        self.webhook_type_field = True
        max_requests = (lambda: rate_limit[0]) if rate_limit else self._budget
        self.limiter = WindowLimiter(max_requests, rate_limit[1] if rate_limit else 300.0, clock)
        self.app = FaultMiddleware(build_app(self), self.faults, self._fault_shape, exempt_paths=("/api/1.0/token",))

    # what a client needs --------------------------------------------------------------------------
    def credentials(self, base_url: str) -> dict:
        return {"base_url": base_url, "domain_prefix": self.domain_prefix, "personal_token": self.personal_token,
                "client_id": self.client_id, "client_secret": self.client_secret}

    def _budget(self) -> int:
        return 300 * max(1, len(self.store.rows["registers"])) + 50

    # auth -----------------------------------------------------------------------------------------
    def token_valid(self, token: str) -> bool:
        return bool(token) and self.tokens.get(token, 0) > self.clock()

    def issue_user_token(self, name: str = "till") -> str:
        """A token of one of the retailer's users (a till): its rate budget is its own."""
        token = f"user-{name}-{secrets.token_hex(8)}"
        self.tokens[token] = float("inf")
        return token

    def authorize(self) -> str:
        """The code the retailer's consent screen would hand the app (valid once)."""
        code = secrets.token_hex(8)
        self.codes.add(code)
        return code

    def expire_tokens(self) -> None:
        self.tokens = {t: (exp if t == self.personal_token or t.startswith("user-") else 0) for t, exp in self.tokens.items()}

    def exchange_token(self, form: dict) -> dict | None:
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return None
        grant = form.get("grant_type")
        if grant == "authorization_code" and form.get("code") in self.codes:
            self.codes.discard(form["code"])
        elif grant == "refresh_token" and form.get("refresh_token") in self.refresh_tokens:
            old_access = self.refresh_tokens.pop(form["refresh_token"])  # refresh tokens rotate
            self.tokens.pop(old_access, None)
        else:
            return None
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        expires = self.clock() + TOKEN_TTL_S
        self.tokens[access] = expires
        self.refresh_tokens[refresh] = access
        return {"access_token": access, "token_type": "Bearer", "expires": int(expires), "expires_in": TOKEN_TTL_S,
                "refresh_token": refresh, "domain_prefix": self.domain_prefix}

    # admin seeding (the 2.0 API cannot create these) ------------------------------------------------
    def seed_outlet(self, name: str, currency: str = "EUR", time_zone: str = "Europe/Berlin", **physical) -> dict:
        row = {"id": self.store.new_id(), "name": name, "currency": currency, "currency_symbol": "",
               "time_zone": time_zone, "default_tax_id": physical.pop("default_tax_id", None), "deleted_at": None,
               **{f"physical_{k}": v for k, v in physical.items()}}
        return self.store.bump("outlets", row)

    def seed_register(self, outlet_id: str, name: str) -> dict:
        row = {"id": self.store.new_id(), "name": name, "outlet_id": outlet_id, "invoice_sequence": 1, "is_open": True,
               "deleted_at": None}
        return self.store.bump("registers", row)

    def seed_payment_type(self, name: str, type_id: str | int) -> dict:
        """`type_id` is the global payment type, an integer in the 2.0 document (a sale's payments
        repeat it as the text `payment_type_id`)."""
        return self.store.bump("payment_types", {"id": self.store.new_id(), "name": name, "type_id": int(type_id) if str(type_id).isdigit() else type_id,
                                                 "deleted_at": None})

    def seed_tax(self, name: str, rate: float) -> dict:
        """A tax as the 2.0 document gives it: its rate(s) under `rates[]` (no top-level `rate`); the
        first tax seeded is the retailer's default."""
        first = not self.store.rows["taxes"]
        return self.store.bump("taxes", {"id": self.store.new_id(), "name": name, "display_name": name,
                                         "is_default": first, "deleted_at": None,
                                         "rates": [{"id": self.store.new_id(), "name": name, "rate": rate,
                                                    "display_name": name}]})

    def _all_customers_group(self) -> dict:
        """Every retailer has the "All Customers" group (`group_id` 1111111111 in the vendor's examples);
        its id comes from the domain prefix, not the seeded sequence, so ids of everything else stay as they were."""
        row = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.domain_prefix}/customer_groups/all")),
               "name": "All Customers", "group_id": ALL_CUSTOMERS_GROUP_ID, "created_at": now_iso(),
               "updated_at": now_iso(), "deleted_at": None, "version": self.store.version}
        self.store.rows["customer_groups"][row["id"]] = row
        self.store._feeds["customer_groups"].append((row["version"], row["id"]))
        return row

    def seed_customer_group(self, name: str) -> dict:
        row = {"id": self.store.new_id(), "name": name, "group_id": f"{name}-{len(self.store.rows['customer_groups'])}",
               "created_at": now_iso(), "updated_at": now_iso(), "deleted_at": None}
        return self.store.bump("customer_groups", row)

    def seed_user(self, display_name: str, account_type: str = "cashier") -> dict:
        """A user with the fields the 2.0 document requires (`username`, `account_type`, ...)."""
        row = {"id": self.store.new_id(), "username": display_name.lower().replace(" ", "."), "display_name": display_name,
               "account_type": account_type, "is_primary_user": False, "enabled": True, "created_at": now_iso(),
               "updated_at": now_iso(), "deleted_at": None}
        return self.store.bump("users", row)

    def adjust_inventory(self, product_id: str, outlet_id: str, delta: int, reason: str = "CUSTOM") -> dict:
        """Sandbox hook, not API: a count or damage write-off made by staff in the back office."""
        return self.store.move_stock(product_id, outlet_id, delta)

    # presentation ---------------------------------------------------------------------------------
    def present(self, collection: str, row: dict) -> dict:
        if collection == "sales":
            return sales.public(row)
        if collection == "price_books":
            return writes.public_price_book(self.store, row)
        return writes.public(row)

    # webhooks -------------------------------------------------------------------------------------
    def _queue_webhooks(self, collection: str, row: dict) -> None:
        queued = hooks.deliveries(self.store, collection, row, domain_prefix=self.domain_prefix,
                                  retailer_id=self.retailer_id)
        for delivery in queued:
            if not self.webhook_type_field:
                delivery["data"].pop("type")
        self.pending_webhooks.extend(queued)

    async def deliver_webhooks(self, client: httpx.AsyncClient) -> int:
        """POST the queued deliveries (form-encoded); failed ones stay queued. Returns how many landed."""
        delivered, kept = 0, []
        queue, self.pending_webhooks = self.pending_webhooks, []
        for delivery in queue:
            if self.webhook_drop_rate and self.store._rng.random() < self.webhook_drop_rate:
                continue  # webhooks are not guaranteed: this one is lost for good
            try:
                response = await client.post(delivery["url"], data=delivery["data"])
                if response.status_code < 300:
                    delivered += 1
                    continue
            except httpx.HTTPError:
                pass
            kept.append(delivery)
        self.pending_webhooks = kept + self.pending_webhooks
        return delivered

    # faults ---------------------------------------------------------------------------------------
    def _fault_shape(self, kind: str, retry_after_s: float):
        if kind == "throttle":
            when = formatdate(time.time() + max(1.0, retry_after_s), usegmt=True)
            body = json.dumps({"error": "Too Many Requests", "message": "Rate limiting enforced"}).encode()
            return 429, [(b"retry-after", when.encode()), (b"content-type", b"application/json")], body
        return 503, [(b"content-type", b"application/json")], json.dumps({"error": "Service Unavailable"}).encode()


__all__ = ["LightspeedXEmulator", "now_iso"]
