"""X-Series side of the engine's `CustomerTarget`: canonical Customer <-> 2.0 customers.

A customer created from another system carries that system's id as its `customer_code` (which the
mapping reads as `external_id`), so `find` recognises our own earlier create, also one whose answer
was lost; a loyalty id, when the configuration lets one flow to the POS, is the code instead (X-Series
has one code per customer and treats it as the loyalty number when loyalty is enabled).

`find` (asked only before a create) uses the search endpoint: by `customer_code`, then by email, so
a run reads as much as it creates. Past `SEARCHES_BEFORE_FULL_READ` finds in one run (a first sync
creating many), the account's customers are read once instead and kept current. Updates read nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from omnisync_pipelines.canonical.models import Customer, Rejection, normalise_email
from omnisync_pipelines.connectors.lightspeed_x.client import LightspeedXClient
from omnisync_pipelines.connectors.lightspeed_x.mapping import map_customer
from omnisync_pipelines.connectors.lightspeed_x.settings import SYSTEM
from omnisync_pipelines.rest.errors import NotFound

SEARCHES_BEFORE_FULL_READ = 25  # each find costs up to two searches; a full read costs a page per 1000


def customer_fields(values: Mapping[str, Any]) -> dict:
    """Canonical field values -> X-Series customer fields (only the fields given)."""
    out: dict[str, Any] = {}
    for field, value in values.items():
        if field in ("email", "first_name", "last_name", "phone"):
            out[field] = value
        elif field == "consent_marketing" and value is not None:
            out["do_not_email"] = not bool(value)
        elif field == "loyalty_id" and value:
            out["customer_code"] = value
            out["enable_loyalty"] = True
    return out


# CustomerBase (the body of POST and PUT /customers) requires both names, null allowed
NAMES = ("first_name", "last_name")


def create_body(source: Customer) -> dict:
    values = {f: getattr(source, f) for f in ("email", "first_name", "last_name", "phone", "consent_marketing", "loyalty_id")
              if getattr(source, f) is not None}
    return {"customer_code": source.customer_id, **{n: getattr(source, n) for n in NAMES}, **customer_fields(values)}


def to_canonical(raw: dict) -> Customer:
    mapped = map_customer(raw)
    if isinstance(mapped, Rejection):
        raise ValueError(f"{SYSTEM} customer {raw.get('id')} does not map: {mapped.field}: {mapped.reason}")
    return mapped


class LightspeedXCustomers:
    """`CustomerTarget` over a `LightspeedXClient`."""

    system = SYSTEM

    def __init__(self, client: LightspeedXClient):
        self.client = client
        self._rows: dict[str, dict] | None = None  # every live customer, once read
        self._seen: dict[str, dict] = {}  # customers found or written this run, by id (their names for a PUT)
        self._finds = 0
        self._lock = asyncio.Lock()

    async def _all_customers(self) -> dict[str, dict]:
        async with self._lock:
            if self._rows is None:
                self._rows = {r["id"]: r for r in (await self.client.customers()).rows if not r.get("deleted_at")}
        return self._rows

    async def _candidates(self, source: Customer, email: str | None) -> list[dict]:
        self._finds += 1
        if self._rows is not None or self._finds > SEARCHES_BEFORE_FULL_READ:
            return list((await self._all_customers()).values())
        found = await self.client.search("customers", [("customer_code", source.customer_id)])
        if not any(_code(r) == source.customer_id for r in found) and email:
            found += await self.client.search("customers", [("email", email)])
        return [r for r in found if not r.get("deleted_at")]

    async def find(self, source: Customer) -> Customer | None:
        email = normalise_email(source.email)
        rows = await self._candidates(source, email)
        by_code = [r for r in rows if _code(r) == source.customer_id]
        by_email = [r for r in rows if email and normalise_email(r.get("email")) == email]
        found = by_code or by_email
        if found:
            self._seen[found[0]["id"]] = found[0]
        return to_canonical(found[0]) if found else None

    async def create(self, source: Customer) -> Customer:
        raw = await self.client.create_customer(create_body(source))
        self._keep(raw)
        return to_canonical(raw)

    async def update(self, customer_id: str, values: Mapping[str, Any]) -> Customer | None:
        fields = customer_fields(values)
        try:
            if any(n not in fields for n in NAMES):  # the PUT body names the customer in full
                current = self._seen.get(customer_id) or (self._rows or {}).get(customer_id) \
                    or await self.client.get("customers", customer_id)
                fields = {**{n: current.get(n) for n in NAMES}, **fields}
            raw = await self.client.update_customer(customer_id, fields)
        except NotFound:
            return None
        self._keep(raw)
        return to_canonical(raw)

    def _keep(self, raw: dict) -> None:
        self._seen[raw["id"]] = raw
        if self._rows is not None:
            self._rows[raw["id"]] = raw


def _code(raw: dict) -> str:
    return (raw.get("customer_code") or "").strip()
