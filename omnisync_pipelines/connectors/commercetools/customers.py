"""Customers: lookup by email, key or external id; create; update from a draft."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING

from omnisync_pipelines.canonical.models import normalise_email
from omnisync_pipelines.connectors.commercetools.actions import customer_actions
from omnisync_pipelines.connectors.commercetools.predicates import quote

if TYPE_CHECKING:
    from omnisync_pipelines.connectors.commercetools.client import CommercetoolsClient


class CustomerApi:
    async def iter_customers(self: CommercetoolsClient, *, since: datetime | None = None, where=()) -> AsyncIterator[dict]:
        source = (
            self.iter_query("customers", where=where)
            if since is None
            else self.iter_modified_since("customers", since, where=where)
        )
        async for customer in source:
            yield customer

    async def _first(self: CommercetoolsClient, predicate: str) -> dict | None:
        body = await self.call("GET", self.url("customers"), params={"where": predicate, "limit": 1})
        results = body.get("results") or []
        return results[0] if results else None

    async def find_customer_by_email(self: CommercetoolsClient, email: str) -> dict | None:
        normalised = normalise_email(email)
        return await self._first(f"email = {quote(normalised)}") if normalised else None

    async def find_customer_by_external_id(self: CommercetoolsClient, external_id: str) -> dict | None:
        return await self._first(f"externalId = {quote(external_id)}")

    async def get_customer_by_key(self: CommercetoolsClient, key: str) -> dict | None:
        return await self.get_by_key("customers", key)

    async def create_customer(self: CommercetoolsClient, draft: dict) -> dict:
        """POST /customers answers `{"customer": {...}}`; this returns the customer."""
        body = await self.create("customers", draft)
        return body.get("customer", body)

    async def update_customer(self: CommercetoolsClient, customer_id: str, draft: dict) -> dict | None:
        """Align the fields present in `draft` (email, names, externalId, key), re-reading on 409."""
        return await self.update_with_retry("customers", customer_id, lambda current: customer_actions(current, draft))
