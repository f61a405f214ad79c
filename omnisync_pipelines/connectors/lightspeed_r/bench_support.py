"""R-Series' connector side of the benchmark rigs (`bench/pos_hooks.py`, `ConnectorBench`): the naive
full pushes of the API-economy baselines (through the connector's own client: its OAuth, its leaky
bucket charged each request's documented cost, its retries), what a full stock read costs in requests
and bucket units, the least time the drip rate puts under it, and what bounds the figures.

R-Series budgets in units, not requests (introduction/rate-limiting.md): a bucket of 90 units (+10 per
register beyond the first) draining 1 unit a second (+0.5 per register beyond the first), beside a
burst limiter of a fraction of the bucket per second. A full read is therefore priced in units
(`request_plan`, the client's own arithmetic) and its floor is what overflows the bucket, drained at
the drip rate, or the burst limiter's requests per second, whichever is longer.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from decimal import Decimal

import pandas as pd

from omnisync_pipelines.bench.pos_hooks import ReadCost
from omnisync_pipelines.canonical.money import currency_digits
from omnisync_pipelines.connectors.lightspeed_r.catalog_target import barcode_fields
from omnisync_pipelines.connectors.lightspeed_r.customer_target import RELATIONS, customer_body, to_canonical
from omnisync_pipelines.connectors.lightspeed_r.request_plan import RequestPlan, plan_reads
from omnisync_pipelines.connectors.lightspeed_r.settings import (
    PAGE_LIMIT,
    bucket_size,
    burst_per_s,
    drip_per_s,
)
from omnisync_pipelines.connectors.lightspeed_r.shapes import text

DEFAULT_LEVEL = 1  # the `Default` price level (useTypeID 1): the base gross price


def read_plan(skus: int, shops: int, registers: int) -> RequestPlan:
    """What the connector's full stock read sends: the shop list (its locations checked) and every Item
    page with its ItemShops (the counts; the same pages give the itemID -> SKU index)."""
    return plan_reads({"locations": shops, "stock": skus}, registers)


def floor_s(plan: RequestPlan, registers: int) -> float:
    """The least time the account's limits impose on `plan` sent as fast as possible from an empty
    bucket: the units beyond the bucket drained at the drip rate, or the burst limiter's requests per
    second, whichever is longer."""
    return max(plan.wait_floor_s, max(0, plan.calls - 1) / burst_per_s(registers))


_BURSTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class SlidingBurst:
    """The client's burst limiter on the rig's clock: at most `per_s` requests paced in any 1-s span,
    `per_s` the client's own burst rate less the requests it may have in flight (a request paced at the
    end of one of the server's fixed 1-s windows may land in the next)."""

    def __init__(self, per_s: int, clock):
        self.per_s, self.clock, self.sent = per_s, clock, deque()
        self._lock = asyncio.Lock()

    async def acquire(self, cost: float = 1) -> None:
        async with self._lock:
            while True:
                now = self.clock.monotonic()
                while self.sent and self.sent[0] <= now - 1.0:
                    self.sent.popleft()
                if len(self.sent) < self.per_s:
                    self.sent.append(now)
                    return
                await self.clock.sleep(self.sent[0] + 1.0 - now)


class LightspeedRBenchSupport:
    notes = {
        "stock_read": "R-Series: a leaky bucket of 90 units (+10 per register beyond the first) draining 1 unit/s "
                      "(+0.5/s per register), an Item page with its ItemShops costing 1.4 units; the client charges "
                      "each request's documented cost before sending it, so the drip rate is the floor",
        "live_read": "one R-Series ItemShop query per SKU",
        "catalog_naive": "read every R-Series Item (pages of 100, the largest V3 `limit`), then one PUT Item/{id} per SKU "
                         "(customSku, description, ean, the Default price level's gross amount)",
        "catalog_bounds": "one PUT Item/{id} per changed SKU carrying its changed fields and prices together (a new SKU "
                          "one POST Item, its matrix looked up or created once per product): V3 has no bulk item write. "
                          "Fixed reads per run: the delta snapshots (Item since the cursor, once for the catalog and "
                          "once for the prices, the shops), the plan's SKUs looked up with `customSku=IN,[...]` per 100, "
                          "and the shops' price levels once",
        "customers_naive": "read R-Series customers with Contact and CustomFieldValues (pages of 100), then one "
                           "PUT Customer/{id} each (names and Primary email)",
        "customers_bounds": "one PUT Customer/{id} per changed customer (a create first searches by email, "
                            "`Contact.email`); reads: the Customer delta query since the cursor (a page per 100 "
                            "changed customers, also the source of the other direction) and the two custom fields "
                            "once per target. V3 has no bulk customer write",
    }

    def use_clock(self, connector, clock) -> None:
        """The client's leaky bucket (its size, drip and the costs it charges unchanged), its burst
        limiter and its retry sleeps wait on the rig's clock."""
        throttle = connector.client.throttle
        bucket = throttle.bucket
        bucket._clock, bucket._sleep = clock.monotonic, clock.sleep
        bucket._last = clock.monotonic()
        # one per account (the rig's clock): the server counts the account's requests per second, and the rig
        # opens a connector per snapshot, often several in one second
        if clock not in _BURSTS:
            _BURSTS[clock] = SlidingBurst(max(1, int(throttle.burst.limiter.max_rate) - connector.client.limit.n), clock)
        throttle.burst = _BURSTS[clock]
        connector.client.session._retrier.sleep = clock.sleep

    def read_cost(self, skus: int, locations: int) -> ReadCost:
        registers = {"one_register": 1, "one_register_per_store": locations}
        plans = {kind: read_plan(skus, locations, n) for kind, n in registers.items()}
        plan = plans["one_register"]
        item_page = plan_reads({"stock": 1}).units
        return ReadCost(
            requests=plan.calls,
            floors_s={kind: round(floor_s(p, registers[kind])) for kind, p in plans.items()},
            figures={
                "pos_page_size": PAGE_LIMIT, "pos_units": plan.units, "pos_units_per_item_page_with_itemshops": item_page,
                "pos_bucket": {kind: bucket_size(n) for kind, n in registers.items()},
                "pos_drip_per_s": {kind: drip_per_s(n) for kind, n in registers.items()},
                "pos_burst_per_s": {kind: burst_per_s(n) for kind, n in registers.items()},
                "pos_steady_s_at_drip": {kind: round(p.seconds) for kind, p in plans.items()},
            },
            model="R-Series floor: max((units − bucket) / drip, (requests − 1) / burst per s), units = the shop page "
                  f"(1) + Item pages with ItemShops ({item_page:g} each) at "
                  f"{PAGE_LIMIT} per page; bucket 90 + 10 and drip 1 + 0.5 per register beyond the first",
        )

    async def naive_catalog_push(self, connector, desired: pd.DataFrame, base_prices: dict[str, int], currency: str) -> None:
        client = connector.client
        by_sku = {text(item.get("customSku")).strip(): text(item.get("itemID")) for item in await client.rows("Item")}
        await asyncio.gather(*(
            client.update("Item", by_sku[item.sku], {
                "customSku": item.sku, "description": item.name, **barcode_fields(item.barcode),
                "Prices": {"ItemPrice": [{"useTypeID": DEFAULT_LEVEL,
                                          "amount": str(_major(base_prices.get(item.sku, 0), currency))}]}})
            for item in desired.itertuples() if item.sku in by_sku))

    async def naive_read_customers(self, connector) -> list[dict]:
        found = [to_canonical(row) for row in await connector.client.rows("Customer", relations=RELATIONS)]
        return [{"id": c.customer_id, "email": c.email, "loyalty_id": c.loyalty_id} for c in found]

    async def naive_write_customers(self, connector, updates: list[tuple[str, dict]]) -> None:
        await asyncio.gather(*(connector.client.update("Customer", pos_id, customer_body(fields, {}))
                               for pos_id, fields in updates))


def _major(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-currency_digits(currency))


SUPPORT = LightspeedRBenchSupport()
