"""What R-Series requests cost and what a run will spend: the request scheduler's arithmetic.

Costs as the vendor documents them since 2026-03-17 (introduction/rate-limiting.md, changelog.md,
each endpoint's "Request Cost"): 1 unit a request; Sale and SaleLine writes 2 (a Sale write carrying
`completed: true` 3 more); Category writes, a Sale refund and an InventoryCount reconcile 10; an email
receipt 5; `count=1` 10; +0.5 per nested entity in a write body; `load_relations` +0.1 per X-to-one
and +0.2 per X-to-many relation, doubled on query endpoints and under an X-to-many relation.
The client charges its bucket this cost before each request, so a run never draws a 429 it could
have foreseen; `plan_run` prices a whole run before it starts.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omnisync_pipelines.connectors.lightspeed_r.settings import PAGE_LIMIT, bucket_size, drip_per_s

log = logging.getLogger(__name__)

# X-to-one relations the connector loads (the endpoint pages' "Additional Relations"); any other
# relation is priced as X-to-many, the dearer of the two
TO_ONE = frozenset({"Category", "TaxClass", "Manufacturer", "Note", "Contact", "CustomerType", "Discount",
                    "TaxCategory", "CreditAccount", "PaymentType", "ShipTo", "Customer", "Item", "PriceLevel",
                    "ItemECommerce", "ReceiptSetup", "CCGateway", "ItemMatrix", "Employee", "Shop", "Register",
                    "CCCharge", "ItemAttributes", "ItemAttributeSet", "value"})
WRITE_BASE = {"Sale": 2.0, "SaleLine": 2.0, "Category": 10.0}
ACTION_COST = {"refund": 10.0, "reconcile": 10.0, "emailreceipt": 5.0}  # POST {Resource}/{id}/{action}


def to_many(relation: str) -> bool:
    return relation.rsplit(".", 1)[-1] not in TO_ONE


def relation_cost(relations: list[str], listing: bool) -> float:
    cost = 0.0
    for name in relations:
        parent = name.rsplit(".", 1)[0] if "." in name else None
        doubled = listing or (parent is not None and to_many(parent))
        cost += (0.2 if to_many(name) else 0.1) * (2 if doubled else 1)
    return cost


def nested_entities(body: Any, parent: str = "") -> int:
    """Related entities in a write body: `{"SaleLines": {"SaleLine": [a, b]}}` is 2, a `Contact` with
    one `ContactEmail` is 2. A plural block holding only its element name is a wrapper, not an entity."""
    if isinstance(body, list):
        return sum(nested_entities(b, parent) for b in body)
    if not isinstance(body, dict):
        return 0
    count = 0
    for key, value in body.items():
        if not key[:1].isupper():
            continue
        if isinstance(value, dict) and key.endswith("s") and value and all(k[:1].isupper() for k in value):
            count += sum(_entities(v) for v in value.values())  # `Emails: {ContactEmail: ...}`
        else:
            count += _entities(value)
    return count


def _entities(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + nested_entities(value)
    if isinstance(value, list):
        return sum(1 + nested_entities(v) for v in value if isinstance(v, dict))
    return 0


def request_cost(method: str, path: str, params: Mapping[str, Any] | None = None, body: Any = None,
                 relations: list[str] | None = None) -> float:
    """The drip cost of one request. `path` is relative to the account (`Item`, `Sale/5/refund`)."""
    params = params or {}
    if str(params.get("count", "")) == "1":
        return 10.0
    parts = [p for p in path.split("/") if p]
    resource = parts[0] if parts else "Account"
    listing = method == "GET" and len(parts) <= 1
    cost = 1.0
    if method != "GET":
        if len(parts) >= 3 and method == "POST":
            cost = ACTION_COST.get(parts[2].lower(), WRITE_BASE.get(parts[2], 1.0))
        elif resource in WRITE_BASE:  # category.md prices a DELETE at 10 too
            cost = WRITE_BASE[resource]
        if resource == "Sale" and len(parts) <= 2 and isinstance(body, dict) \
                and str(body.get("completed", "")).lower() == "true":
            cost += 3.0
        cost += 0.5 * nested_entities(body)
    return cost + relation_cost(relations or [], listing)


# planning a run -----------------------------------------------------------------------------------
# what reading each entity asks for: (resource, relations) per page of PAGE_LIMIT records
ENTITY_READS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "locations": (("Shop", ()),),
    "catalog": (("Item", ()),),
    "prices": (("Item", ()),),  # (+ the Shop list once per connector)
    "stock": (("Item", ("ItemShops",)),),  # a full read: each Item page brings its ItemShops
    "stock_movements": (("InventoryLog", ()),),
    "orders": (("Sale", ("SaleLines", "SalePayments", "SalePayments.PaymentType")),),
    "returns": (("Sale", ("SaleLines", "SaleLines.Note", "SalePayments", "SalePayments.PaymentType")),),
    "customers": (("Customer", ("Contact", "CustomFieldValues")),),
}


@dataclass(frozen=True)
class RequestPlan:
    calls: int
    units: float
    bucket: float
    drip_per_s: float

    @property
    def seconds(self) -> float:
        """Time the units take at the drip rate (a steady run)."""
        return self.units / self.drip_per_s

    @property
    def wait_floor_s(self) -> float:
        """The least time the bucket imposes starting empty: what overflows it drains at the drip rate."""
        return max(0.0, self.units - self.bucket) / self.drip_per_s

    def __add__(self, other: RequestPlan) -> RequestPlan:
        return RequestPlan(self.calls + other.calls, self.units + other.units, self.bucket, self.drip_per_s)

    def describe(self) -> str:
        return (f"{self.calls} calls, {self.units:g} units, ~{self.seconds:.0f} s at the drip rate "
                f"({self.drip_per_s:g}/s; at least {self.wait_floor_s:.0f} s of waiting past a bucket of {self.bucket:g})")


def pages(records: int) -> int:
    """Pages of a query: at least one (an empty answer is a page too)."""
    return max(1, math.ceil(records / PAGE_LIMIT))


def plan_reads(counts: Mapping[str, int], registers: int = 1) -> RequestPlan:
    """A run's reads: `counts` = entity -> records it will read (ENTITY_READS names what each asks for)."""
    calls, units = 0, 0.0
    for entity, records in counts.items():
        for resource, relations in ENTITY_READS.get(entity, ()):
            n = pages(records)
            calls += n
            units += n * request_cost("GET", resource, relations=list(relations))
    return RequestPlan(calls, round(units, 2), bucket_size(registers), drip_per_s(registers))


def plan_writes(writes: Mapping[tuple[str, str], tuple[int, int]], registers: int = 1,
                completed_sales: int = 0) -> RequestPlan:
    """Writes: (method, path) -> (requests, nested entities in each body); `completed_sales` of the
    Sale POSTs carry `completed: true`."""
    calls, units = 0, 0.0
    for (method, path), (count, nested) in writes.items():
        calls += count
        units += count * (request_cost(method, path) + 0.5 * nested)
    units += 3.0 * completed_sales
    return RequestPlan(calls, round(units, 2), bucket_size(registers), drip_per_s(registers))


def log_plan(plan: RequestPlan, what: str = "run") -> RequestPlan:
    log.info("lightspeed_r %s: %s", what, plan.describe())
    return plan
