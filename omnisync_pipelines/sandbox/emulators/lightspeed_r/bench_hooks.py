"""R-Series' side of the benchmark rigs (`bench/pos_hooks.py`, `EmulatorBench`): the plugin's `bench()`.

Seeding at scale goes straight into the emulator's store (the retailer's existing account); the
retailer's edits go through the V3 API as its back office would, outside the API client's bucket. The
budget is the leaky bucket: its size, drained in `size / drip` seconds, and the units it was charged.
R-Series sends no webhooks.

`use_clock` puts the account on the rig's clock (bench/pacing.py) with a bucket that counts what it
charged and what it refused, sized for the registers installed; its burst limiter allows the same
fraction of the bucket per second as the base account's 20 of 90 ("a fraction of the allowed bucket
size", introduction/rate-limiting.md), where the emulator keeps 20 however large the bucket grows.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from omnisync_pipelines.bench.pos_hooks import Budget
from omnisync_pipelines.bench.runner import Gap
from omnisync_pipelines.sandbox.emulators.lightspeed_r import writes
from omnisync_pipelines.sandbox.emulators.lightspeed_r.plugin import subscribe_installed_registers
from omnisync_pipelines.sandbox.emulators.lightspeed_r.ratelimit import LeakyBucket
from omnisync_pipelines.sandbox.emulators.lightspeed_r.tills import LOYALTY_ID, Api, tills_own_budget

BASE_BUCKET, BASE_BURST = 90, 20  # the docs' sample headers: `Bucket-Level: 1/90`, `Burst-Level: 1/20`


class MeteredBucket(LeakyBucket):
    """The account's bucket, counting the units it charged and the requests it refused."""

    def __init__(self, clock, registers: int, burst_limit: int | None):
        super().__init__(clock, registers, burst_limit)
        if burst_limit is not None:
            self.burst_limit = max(1, self.size * burst_limit // BASE_BUCKET)
        self.charged = 0.0
        self.refused = 0

    def take(self, cost: float) -> tuple[bool, dict[str, str]]:
        allowed, headers = super().take(cost)
        if allowed:
            self.charged += cost
        else:
            self.refused += 1
        return allowed, headers


class LightspeedRBenchHooks:
    resource_at = 4  # /API/V3/Account/{accountID}/<Resource>.json

    def seed_stock(self, emulator, skus: list[str], locations: list[str], level: Callable[[int, int], int]) -> dict[str, str]:
        emulator.shop["name"] = locations[0]  # the account's own shop (with its register) is the first location
        shop_ids = [emulator.shop["shopID"]] + [emulator.seed_shop(key, "Europe/Berlin")["shopID"] for key in locations[1:]]
        for index, shop_id in enumerate(shop_ids[1:], start=2):
            emulator.seed_register(shop_id, f"till {index}")
        subscribe_installed_registers(emulator)  # one till per shop: the subscription covers them
        for s, sku in enumerate(skus):
            shops = [{"shopID": shop_id, "qoh": level(s, n)} for n, shop_id in enumerate(shop_ids)]
            writes.new_item(emulator.store, {"description": f"Product {s // 6} {sku}", "customSku": sku,
                                             "Prices": {"ItemPrice": [{"useTypeID": 1, "amount": 10.0}]},
                                             "ItemShops": {"ItemShop": shops}})
        return {str(shop_id): key for shop_id, key in zip(shop_ids, locations, strict=True)}

    def move_counts(self, emulator, moves: list[tuple[str, str, int]]) -> None:
        store = emulator.store
        item_of = {row["customSku"]: item_id for item_id, row in store.tables["Item"].items()}
        shop_of = {row["name"]: shop_id for shop_id, row in store.tables["Shop"].items()}
        for sku, location, units in moves:
            item, shop = item_of[sku], shop_of[location]
            store.set_qoh(item, shop, store.item_shop(item, shop)["qoh"] + units, "manualAdjustQOH")

    def use_clock(self, emulator, clock) -> None:
        registers = (emulator.bucket.size - BASE_BUCKET) // 10 + 1
        burst = BASE_BURST if emulator.bucket.burst_limit is not None else None
        emulator.clock = emulator.store.clock = emulator.oauth.clock = clock.wall
        emulator.bucket = MeteredBucket(clock.wall, registers, burst)

    def budget(self, emulator) -> Budget:
        bucket = emulator.bucket  # per API client; a rig's connector is the only one sending requests
        metered = isinstance(bucket, MeteredBucket)
        return Budget(limit=bucket.size, window_s=bucket.size / bucket.drip, unit="units",
                      used=round(bucket.charged if metered else bucket.current(), 2),
                      throttled=bucket.refused if metered else None)

    async def change_loyalty(self, http: httpx.AsyncClient, emulator, email: str, code: str) -> None:
        store = emulator.store
        [customer_id] = [owner for (table, owner), contact in store.contacts.items() if table == "Customer"
                         and any(e.get("address") == email for e in contact.get("Emails") or [])]
        [field_id] = [i for i, f in store.tables["CustomField"].items() if f["name"] == LOYALTY_ID]
        with tills_own_budget(emulator):  # keyed in at the till, not by omnisync's API client
            await Api(http, emulator).call("PUT", f"Customer/{customer_id}", {
                "CustomFieldValues": {"CustomFieldValue": [{"customFieldID": field_id, "value": code}]}})

    async def subscribe(self, http: httpx.AsyncClient, emulator, url: str, secret: str) -> None:
        raise Gap("R-Series sends no webhooks: its changes are polled by delta runs")

    async def deliver_webhooks(self, emulator, http: httpx.AsyncClient) -> int:
        return 0
