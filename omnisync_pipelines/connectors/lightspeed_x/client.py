"""Typed async access to the X-Series API over the shared `ApiSession` (auth, the 5-minute request
budget, retries honouring the 429 HTTP-date Retry-After, call log). Reads here, writes in `writes.py`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple

import httpx

from omnisync_pipelines.connectors.lightspeed_x.errors import error_codes
from omnisync_pipelines.connectors.lightspeed_x.settings import SYSTEM, WINDOW_S, LightspeedXSettings
from omnisync_pipelines.connectors.lightspeed_x.writes import LightspeedXWrites
from omnisync_pipelines.rest.oauth import INVALID_TOKEN, BearerToken, OAuthRefreshToken
from omnisync_pipelines.rest.paging import VersionCursorPaginator
from omnisync_pipelines.rest.retry import RetryPolicy
from omnisync_pipelines.rest.session import ApiSession, CallLog
from omnisync_pipelines.rest.throttle import ConcurrencyLimit, WindowBudget
from omnisync_pipelines.rest.token_file import TokenFile

API = "/api/2.0"
SEARCH_PAGE = 1000  # the search endpoint's largest page
SKUS_PER_SEARCH = 100  # SKUs per search request, keeping the URL short
# how X-Series says a token is expired or revoked (`{"error": "Access token is not valid"}`)
TOKEN_REJECTED = (INVALID_TOKEN, "Access token is not valid")


class Listing(NamedTuple):
    rows: list[dict]
    version: int | None  # version.max of the last page read; None when nothing came back


class LightspeedXClient(LightspeedXWrites):
    def __init__(self, session: ApiSession, settings: LightspeedXSettings):
        self.session = session
        self.settings = settings
        self.limit = ConcurrencyLimit(settings.concurrency)

    async def call(self, method: str, path: str, **kwargs) -> Any:
        """One request (auth, budget, retries in the session); the parsed JSON body, `{}` when empty.

        An expired OAuth token is refreshed inside the auth flow (`build_auth`); a 401 that survives
        that (a revoked personal token, a refused refresh) raises `Unauthorized`: systemic, the run fails.
        """
        async with self.limit:
            response = await self.session.request(method, path, **kwargs)
        return response.json() if response.content else {}

    # paging -----------------------------------------------------------------------------------------
    async def iter_pages(self, path: str, *, after: int = 0, params: dict | None = None,
                         page_size: int | None = None) -> AsyncIterator[tuple[list[dict], int | None]]:
        """Pages of a 2.0 collection in version order from `after` (exclusive), as (rows, version.max).

        `path` is a collection name (`products`) or a full path (`/api/2.0/products`).
        """
        path = path if path.startswith("/") else f"{API}/{path}"
        default = self.settings.sales_page_size if path.rstrip("/").endswith("/sales") else self.settings.page_size
        paginator = VersionCursorPaginator(page_size or default, start_after=after)
        current: dict | None = paginator.first(params)
        while current is not None:
            body = await self.call("GET", path, params=current)
            items = paginator.items(body)
            if items:
                yield items, (body.get("version") or {}).get("max")
            current = paginator.next(body, current)

    async def collect(self, path: str, *, after: int = 0, params: dict | None = None) -> Listing:
        rows: list[dict] = []
        last = None
        async for items, version in self.iter_pages(path, after=after, params=params):
            rows.extend(items)
            last = version if version is not None else last
        return Listing(rows, int(last) if last is not None else None)

    all = collect  # the name the sandbox tests use

    async def get(self, collection: str, row_id: str) -> dict:
        return (await self.call("GET", f"{API}/{collection}/{row_id}"))["data"]

    # lookups by attribute (change-sized reads, no full listing) ------------------------------------------
    async def search(self, kind: str, filters: list[tuple[str, str]]) -> list[dict]:
        """`GET /api/2.0/search?type=<kind>` with these filters (a key may repeat), every page by offset."""
        rows: list[dict] = []
        while True:
            params = [("type", kind), *filters, ("offset", len(rows)), ("page_size", SEARCH_PAGE)]
            page = (await self.call("GET", f"{API}/search", params=params)).get("data") or []
            rows.extend(page)
            if len(page) < SEARCH_PAGE:
                return rows

    async def products_by_sku(self, skus: list[str]) -> list[dict]:
        """The live products with these SKUs, one search per 100 SKUs (the API matches lowercased SKUs;
        the caller compares the SKUs it gets back)."""
        wanted = sorted({s.strip().lower() for s in skus if s and s.strip()})
        found: list[dict] = []
        for start in range(0, len(wanted), SKUS_PER_SEARCH):
            found += await self.search("products", [("sku", s) for s in wanted[start:start + SKUS_PER_SEARCH]])
        return found

    async def product_family(self, name: str) -> list[dict]:
        """`GET /products?name=`: the members of the family with this name (other parameters are ignored)."""
        return (await self.call("GET", f"{API}/products", params={"name": name})).get("data") or []

    async def price_book_entries_of(self, product_id: str) -> list[dict]:
        """`GET /products/{id}/price_book_products`: the product's entries in every price book."""
        return (await self.call("GET", f"{API}/products/{product_id}/price_book_products")).get("data") or []

    # collections -------------------------------------------------------------------------------------
    async def outlets(self) -> Listing:
        return await self.collect("outlets")

    async def registers(self) -> Listing:
        return await self.collect("registers")

    async def payment_types(self) -> Listing:
        return await self.collect("payment_types")

    async def taxes(self) -> Listing:
        return await self.collect("taxes")

    async def users(self) -> Listing:
        return await self.collect("users")

    async def products(self, after: int = 0, *, deleted: bool = False) -> Listing:
        return await self.collect("products", after=after, params={"deleted": "true"} if deleted else None)

    async def inventory(self, after: int = 0) -> Listing:
        return await self.collect("inventory", after=after)

    async def price_books(self, after: int = 0) -> Listing:
        return await self.collect("price_books", after=after)

    async def customer_groups(self, after: int = 0) -> Listing:
        return await self.collect("customer_groups", after=after)

    async def price_book_products(self, after: int = 0) -> Listing:
        return await self.collect("price_book_products", after=after)

    async def customers(self, after: int = 0) -> Listing:
        return await self.collect("customers", after=after)

    async def sales(self, after: int = 0) -> Listing:
        return await self.collect("sales", after=after)

    async def consignments(self, after: int = 0) -> Listing:
        return await self.collect("consignments", after=after)

    async def consignment_products(self, consignment_id: str) -> list[dict]:
        return (await self.call("GET", f"{API}/consignments/{consignment_id}/products"))["data"]

    async def consignments_with_products(self, after: int = 0) -> tuple[list[tuple[dict, list[dict]]], int | None]:
        consignments, version = await self.consignments(after)
        lines = await asyncio.gather(*(self.consignment_products(c["id"]) for c in consignments))
        return list(zip(consignments, lines, strict=True)), version

    async def product_inventory(self, product_id: str) -> list[dict]:
        return (await self.call("GET", f"{API}/products/{product_id}/inventory"))["data"]

    async def aclose(self) -> None:
        await self.session.aclose()


def build_auth(settings: LightspeedXSettings, on_refresh_token: Callable[[str], None] | None = None) -> httpx.Auth:
    """A personal token as a bearer; else OAuth refresh at `/api/1.0/token`. The refresh token rotates:
    with `settings.token_file` each new one is kept there (and read back first next time);
    `on_refresh_token` also receives each new one."""
    if settings.personal_token is not None:
        return BearerToken(settings.personal_token.get_secret_value())
    store = TokenFile(settings.token_file) if settings.token_file else None
    refresh_token = settings.refresh_token.get_secret_value() if settings.refresh_token is not None else None
    if settings.client_id and settings.client_secret is not None and (refresh_token or (store and store.refresh_token())):
        return OAuthRefreshToken(
            f"{settings.api_base}/api/1.0/token", settings.client_id, settings.client_secret.get_secret_value(),
            refresh_token, system=SYSTEM, on_refresh_token=on_refresh_token, token_store=store,
            invalid_token_markers=TOKEN_REJECTED,
        )
    raise ValueError("lightspeed_x: set a personal token, or a client id, client secret and refresh token "
                     "(the refresh token may instead be in the token file)")


def build_client(
    settings: LightspeedXSettings,
    transport: httpx.AsyncBaseTransport | None = None,
    call_log: CallLog | None = None,
    *,
    http: httpx.AsyncClient | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable | None = None,
    on_refresh_token: Callable[[str], None] | None = None,
) -> LightspeedXClient:
    # a 429's Retry-After names the end of the 5-minute budget window: wait up to a whole window for it
    http = http or httpx.AsyncClient(base_url=settings.api_base, transport=transport, timeout=settings.timeout_s)
    extra = {"sleep": sleep} if sleep is not None else {}
    session = ApiSession(
        SYSTEM, http, auth=build_auth(settings, on_refresh_token), throttle=WindowBudget(settings.budget, WINDOW_S),
        retry=retry or RetryPolicy(retry_after_cap=WINDOW_S), call_log=call_log, error_codes=error_codes, **extra,
    )
    return LightspeedXClient(session, settings)
