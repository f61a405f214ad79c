"""X-Series' side of the benchmark rigs (`bench/pos_hooks.py`, `EmulatorBench`): the plugin's `bench()`.

Seeding at scale goes straight into the emulator's store (the retailer's existing account; the
product API's one-SKU-at-a-time uniqueness scan would make seeding, not the sync, the slow part);
the retailer's edits and webhook subscriptions go through the public API, with the account's
personal token.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from omnisync_pipelines.bench.pos_hooks import Budget
from omnisync_pipelines.sandbox.emulators.lightspeed_x import writes
from omnisync_pipelines.sandbox.emulators.lightspeed_x.store import now_iso

STOCK_EVENTS = ("sale.update", "inventory.update")


class LightspeedXBenchHooks:
    resource_at = 2  # /api/2.0/<resource>/...

    def seed_stock(self, emulator, skus: list[str], locations: list[str], level: Callable[[int, int], int]) -> dict[str, str]:
        tax_id = emulator.seed_tax("VAT", 0.19)["id"]
        outlet_ids = [emulator.seed_outlet(key, "EUR", "Europe/Berlin", default_tax_id=tax_id)["id"] for key in locations]
        for index, outlet_id in enumerate(outlet_ids):
            emulator.seed_register(outlet_id, f"till {index + 1}")
        for s, sku in enumerate(skus):
            row = {"id": emulator.store.new_id(), "created_at": now_iso(), "variant_parent_id": None,
                   "has_variants": False, "deleted_at": None}
            inventory = [{"outlet_id": outlet, "current_amount": level(s, l)} for l, outlet in enumerate(outlet_ids)]  # noqa: E741
            writes._apply_product(emulator.store, row, {"name": f"Product {s // 6}", "tax_id": tax_id},
                                  {"sku": sku, "price_excluding_tax": 10.0, "inventory": inventory})
        return dict(zip(outlet_ids, locations, strict=True))

    def move_counts(self, emulator, moves: list[tuple[str, str, int]]) -> None:
        product_of = {row.get("sku"): product_id for product_id, row in emulator.store.rows["products"].items()}
        outlet_of = {row["name"]: outlet_id for outlet_id, row in emulator.store.rows["outlets"].items()}
        for sku, location, units in moves:
            emulator.adjust_inventory(product_of[sku], outlet_of[location], units, "STOCK_COUNT")

    def budget(self, emulator) -> Budget:
        limiter = emulator.limiter  # per token; a rig's connector is the only client sending requests
        used = next(iter(limiter.windows.values()), (0.0, 0))[1]
        return Budget(limit=limiter.max_requests(), window_s=limiter.window_s, used=used)

    async def change_loyalty(self, http: httpx.AsyncClient, emulator, email: str, code: str) -> None:
        [customer_id] = [c["id"] for c in emulator.store.rows["customers"].values() if c.get("email") == email]
        response = await http.put(f"/api/2.0/customers/{customer_id}", headers=_auth(emulator),
                                  json={"customer_code": code, "enable_loyalty": True})
        response.raise_for_status()

    async def subscribe(self, http: httpx.AsyncClient, emulator, url: str, secret: str) -> None:
        # X-Series signs nothing and lets an app choose only the URL: the secret rides in it
        for kind in STOCK_EVENTS:
            response = await http.post("/api/2.0/webhooks", headers=_auth(emulator),
                                       json={"url": f"{url}?token={secret}", "type": kind})
            if response.status_code not in (201, 409):
                raise RuntimeError(f"webhook subscription refused: {response.status_code} {response.text[:200]}")

    async def deliver_webhooks(self, emulator, http: httpx.AsyncClient) -> int:
        return await emulator.deliver_webhooks(http)


def _auth(emulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {emulator.personal_token}"}
