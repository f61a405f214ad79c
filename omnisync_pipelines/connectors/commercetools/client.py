"""Typed async access to the commercetools HTTP API over an `ApiSession`.

Generic query/update plumbing, channels, stores, types and product projections live here; inventory
(`inventory.py`), orders and payments (`orders.py`) and customers (`customers.py`) are mixed in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote as url_quote

import httpx

from omnisync_pipelines.connectors.commercetools.actions import Action
from omnisync_pipelines.connectors.commercetools.customers import CustomerApi
from omnisync_pipelines.connectors.commercetools.errors import error_codes, is_duplicate_of
from omnisync_pipelines.connectors.commercetools.inventory import InventoryApi
from omnisync_pipelines.connectors.commercetools.mapping import format_timestamp
from omnisync_pipelines.connectors.commercetools.orders import OrderApi
from omnisync_pipelines.connectors.commercetools.predicates import quote
from omnisync_pipelines.connectors.commercetools.settings import (
    INVENTORY_TYPE_KEY,
    LAST_MOVEMENT_FIELD,
    ORDER_TYPE_KEY,
    SYSTEM,
    CommercetoolsSettings,
)
from omnisync_pipelines.rest.errors import BadRequest, Conflict, NotFound
from omnisync_pipelines.rest.oauth import OAuthClientCredentials
from omnisync_pipelines.rest.paging import IdCursorPaginator, OffsetPaginator, Paginator
from omnisync_pipelines.rest.retry import RetryPolicy, Sleep
from omnisync_pipelines.rest.session import ApiSession, CallLog
from omnisync_pipelines.rest.throttle import ConcurrencyLimit

ID_SORT = "id asc"


def _string_field(name: str) -> dict:
    return {"name": name, "label": {"en": name}, "required": False, "type": {"name": "String"}, "inputHint": "SingleLine"}


CUSTOM_TYPES: dict[str, dict] = {
    INVENTORY_TYPE_KEY: {
        "key": INVENTORY_TYPE_KEY,
        "name": {"en": "omnisync inventory"},
        "resourceTypeIds": ["inventory-entry"],
        "fieldDefinitions": [_string_field(LAST_MOVEMENT_FIELD)],
    },
    ORDER_TYPE_KEY: {
        "key": ORDER_TYPE_KEY,
        "name": {"en": "omnisync order"},
        "resourceTypeIds": ["order"],
        "fieldDefinitions": [_string_field(n) for n in ("posSaleId", "storeKey", "fulfilment", "loyaltyId")],
    },
}


class CommercetoolsClient(InventoryApi, OrderApi, CustomerApi):
    system = SYSTEM

    def __init__(self, session: ApiSession, settings: CommercetoolsSettings):
        self.session = session
        self.settings = settings
        self.limit = ConcurrencyLimit(settings.concurrency)
        self._type_ids: dict[str, str] = {}
        self._types_lock = asyncio.Lock()

    # plumbing --------------------------------------------------------------------------------

    def url(self, resource: str, *parts: str) -> str:
        tail = "/".join(url_quote(p, safe="=") for p in parts)
        return f"{self.settings.project_url}/{resource}" + (f"/{tail}" if tail else "")

    async def call(self, method: str, url: str, **kwargs) -> Any:
        async with self.limit:
            response = await self.session.request(method, url, **kwargs)
        return response.json() if response.content else None

    async def get_by_id(self, resource: str, resource_id: str, *, params: dict | None = None) -> dict | None:
        try:
            return await self.call("GET", self.url(resource, resource_id), params=params)
        except NotFound:
            return None

    async def get_by_key(self, resource: str, key: str, *, params: dict | None = None) -> dict | None:
        try:
            return await self.call("GET", self.url(resource, f"key={key}"), params=params)
        except NotFound:
            return None

    async def create(self, resource: str, draft: dict, *, params: dict | None = None) -> dict:
        return await self.call("POST", self.url(resource), json=draft, params=params)

    async def update(self, resource: str, resource_id: str, version: int, actions: Sequence[Action]) -> dict:
        body = {"version": version, "actions": list(actions)}
        return await self.call("POST", self.url(resource, resource_id), json=body)

    async def update_with_retry(
        self,
        resource: str,
        resource_id: str,
        build_actions: Callable[[dict], Sequence[Action]],
        *,
        current: dict | None = None,
    ) -> dict | None:
        """Update from the current state; on a 409 re-read and rebuild the actions (bounded).

        Returns the updated resource, the unchanged one when there is nothing to do, or None when
        it does not exist.
        """
        current = current or await self.get_by_id(resource, resource_id)
        for attempt in range(self.settings.max_conflict_retries + 1):
            if current is None:
                return None
            actions = list(build_actions(current))
            if not actions:
                return current
            try:
                return await self.update(resource, resource_id, current["version"], actions)
            except Conflict:
                if attempt == self.settings.max_conflict_retries:
                    raise
                current = await self.get_by_id(resource, resource_id)
        raise AssertionError("unreachable")

    # queries ---------------------------------------------------------------------------------

    async def iter_pages(self, resource: str, paginator: Paginator, params: dict) -> AsyncIterator[list[dict]]:
        current: dict | None = paginator.first(params)
        while current is not None:
            body = await self.call("GET", self.url(resource), params=current)
            yield paginator.items(body)
            current = paginator.next(body, current)

    async def iter_query(
        self,
        resource: str,
        *,
        where: Sequence[str] = (),
        sort: str | None = None,
        page_size: int | None = None,
        params: dict | None = None,
    ) -> AsyncIterator[dict]:
        """Every match, by id-cursor deep paging; another `sort` pages by offset (≤ 10 000)."""
        limit = page_size or self.settings.page_size
        base = {**(params or {}), "where": list(where)}
        paginator: Paginator
        if sort in (None, ID_SORT):
            paginator = IdCursorPaginator(limit)
        else:
            paginator = OffsetPaginator(limit, max_offset=10_000)
            base.update(sort=[sort, ID_SORT], withTotal="false")
        async for page in self.iter_pages(resource, paginator, base):
            for item in page:
                yield item

    async def query(self, resource: str, **kwargs) -> list[dict]:
        return [item async for item in self.iter_query(resource, **kwargs)]

    async def iter_modified_since(
        self,
        resource: str,
        since: datetime,
        *,
        where: Sequence[str] = (),
        page_size: int | None = None,
        params: dict | None = None,
    ) -> AsyncIterator[dict]:
        """Records with `lastModifiedAt >= since - overlap`, oldest first, each (id, version) once.

        Keyset paging on lastModifiedAt: the next page starts at the last timestamp seen, skipping
        (by offset) the records at exactly that timestamp already read, so any run of equal
        timestamps pages correctly.
        """
        limit = page_size or self.settings.page_size
        cursor = format_timestamp(since - timedelta(seconds=self.settings.delta_overlap_s))
        skip = 0
        seen: set[tuple[str, int]] = set()
        while True:
            page_params = {
                **(params or {}),
                "where": [*where, f"lastModifiedAt >= {quote(cursor)}"],
                "sort": ["lastModifiedAt asc", ID_SORT],
                "limit": limit,
                "offset": skip,
                "withTotal": "false",
            }
            body = await self.call("GET", self.url(resource), params=page_params)
            results = body.get("results") or []
            for item in results:
                marker = (item.get("id"), item.get("version"))
                if marker not in seen:
                    seen.add(marker)
                    yield item
            if len(results) < limit:
                return
            last = results[-1].get("lastModifiedAt") or cursor
            at_last = sum(1 for item in results if item.get("lastModifiedAt") == last)
            skip = skip + at_last if last == cursor else at_last
            cursor = last

    # channels, stores, types -----------------------------------------------------------------

    async def channels(self, role: str | None = None) -> list[dict]:
        """All channels, or those with `role` (filtered here: role predicates vary by API version)."""
        found = await self.query("channels")
        return [c for c in found if role is None or role in (c.get("roles") or [])]

    async def channel_ids_by_key(self) -> dict[str, str]:
        return {c["key"]: c["id"] for c in await self.channels() if c.get("key")}

    async def stores(self) -> list[dict]:
        return await self.query("stores")

    async def get_store(self, key: str) -> dict | None:
        return await self.get_by_key("stores", key)

    async def ensure_types(self) -> dict[str, str]:
        """Create omnisync's custom types if missing; returns type key -> id (cached)."""
        async with self._types_lock:
            for key, draft in CUSTOM_TYPES.items():
                if key in self._type_ids:
                    continue
                found = await self.get_by_key("types", key)
                if found is None:
                    try:
                        found = await self.create("types", draft)
                    except BadRequest as exc:
                        if not is_duplicate_of(exc, "key"):
                            raise
                        found = await self.get_by_key("types", key)
                self._type_ids[key] = found["id"]
        return dict(self._type_ids)

    # product projections ---------------------------------------------------------------------

    async def iter_product_projections(
        self,
        *,
        staged: bool = False,
        since: datetime | None = None,
        where: Sequence[str] = (),
        price_currency: str | None = None,
        price_country: str | None = None,
        price_channel: str | None = None,
        price_customer_group: str | None = None,
    ) -> AsyncIterator[dict]:
        params: dict[str, Any] = {"staged": "true" if staged else "false"}
        if price_currency:  # the other selection parameters need a currency
            params["priceCurrency"] = price_currency
            for name, value in (
                ("priceCountry", price_country),
                ("priceChannel", price_channel),
                ("priceCustomerGroup", price_customer_group),
            ):
                if value:
                    params[name] = value
        if since is None:
            source = self.iter_query("product-projections", where=where, params=params)
        else:
            source = self.iter_modified_since("product-projections", since, where=where, params=params)
        async for item in source:
            yield item

    async def aclose(self) -> None:
        await self.session.aclose()


def build_client(
    settings: CommercetoolsSettings,
    http: httpx.AsyncClient | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    call_log: CallLog | None = None,
    *,
    retry: RetryPolicy | None = None,
    sleep: Sleep | None = None,
) -> CommercetoolsClient:
    if http is None:
        http = httpx.AsyncClient(
            transport=transport,
            timeout=settings.timeout_s,
            limits=httpx.Limits(max_connections=settings.concurrency * 2),
        )
    auth = OAuthClientCredentials(
        settings.token_url,
        settings.client_id,
        settings.client_secret.get_secret_value(),
        settings.scopes,
        system=SYSTEM,
    )
    extra = {"sleep": sleep} if sleep is not None else {}
    session = ApiSession(
        SYSTEM, http, auth=auth, retry=retry or RetryPolicy(), call_log=call_log, error_codes=error_codes, **extra
    )
    return CommercetoolsClient(session, settings)
