"""X-Series side of the engine's `CustomerTarget`: canonical Customer <-> 2.0 customers.

A customer created from another system carries that system's id as its `customer_code` (which the
mapping reads as `external_id`), so `find` recognises our own earlier create, also one whose answer
was lost; a loyalty id, when the configuration lets one flow to the POS, is the code instead (X-Series
has one code per customer and treats it as the loyalty number when loyalty is enabled). The 2.0 API
has no customer search, so the account's customers are read once per target and kept current.
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


def create_body(source: Customer) -> dict:
    values = {f: getattr(source, f) for f in ("email", "first_name", "last_name", "phone", "consent_marketing", "loyalty_id")
              if getattr(source, f) is not None}
    return {"customer_code": source.customer_id, **customer_fields(values)}


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
        self._rows: dict[str, dict] | None = None
        self._lock = asyncio.Lock()

    async def _customers(self) -> dict[str, dict]:
        async with self._lock:
            if self._rows is None:
                self._rows = {r["id"]: r for r in (await self.client.customers()).rows if not r.get("deleted_at")}
        return self._rows

    async def find(self, source: Customer) -> Customer | None:
        rows = list((await self._customers()).values())
        by_code = [r for r in rows if (r.get("customer_code") or "").strip() == source.customer_id]
        email = normalise_email(source.email)
        by_email = [r for r in rows if email and normalise_email(r.get("email")) == email]
        found = by_code or by_email
        return to_canonical(found[0]) if found else None

    async def create(self, source: Customer) -> Customer:
        raw = await self.client.create_customer(create_body(source))
        (await self._customers())[raw["id"]] = raw
        return to_canonical(raw)

    async def update(self, customer_id: str, values: Mapping[str, Any]) -> Customer | None:
        try:
            raw = await self.client.update_customer(customer_id, customer_fields(values))
        except NotFound:
            return None
        (await self._customers())[raw["id"]] = raw
        return to_canonical(raw)
