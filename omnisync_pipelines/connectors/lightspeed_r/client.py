"""Typed async access to the R-Series V3 API over the shared `ApiSession`: OAuth with the single-use
rotating refresh token (kept in a `TokenFile` shared by processes), the leaky bucket charged the
documented cost of each request before it is sent and kept in step with the level the server reports
(`X-LS-API-Bucket-Level`, which also counts other clients of the account), the burst limiter's 1-s
windows, retries honouring Retry-After (seconds), and the redacted call log.

Paths are relative to the account (`Item`, `Item/12`, `Sale/5/refund`); the client adds
`/API/V3/Account/{accountID}/` and `.json`. Bodies come back XML-shaped: read them with `shapes`.
"""

from __future__ import annotations

import json as json_module
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from omnisync_pipelines.connectors.lightspeed_r.request_plan import request_cost
from omnisync_pipelines.connectors.lightspeed_r.settings import (
    PAGE_LIMIT,
    SYSTEM,
    LightspeedRSettings,
    burst_per_s,
)
from omnisync_pipelines.connectors.lightspeed_r.shapes import rows_of
from omnisync_pipelines.rest.errors import NotFound
from omnisync_pipelines.rest.oauth import INVALID_TOKEN, OAuthRefreshToken
from omnisync_pipelines.rest.retry import RetryPolicy
from omnisync_pipelines.rest.session import ApiSession, CallLog
from omnisync_pipelines.rest.throttle import ConcurrencyLimit, LeakyBucket, WindowBudget
from omnisync_pipelines.rest.token_file import TokenFile

# how R-Series says an access token is expired or revoked (authentication/refresh-token.md)
TOKEN_REJECTED = (INVALID_TOKEN, "Access token could not be verified", "Access token has been revoked")
BUCKET_LEVEL_HEADER = "x-ls-api-bucket-level"


def error_codes(body: Any) -> list[str]:
    """`{"httpCode": "400", "errorClass": "Exception", "message": ...}` -> the error class."""
    if isinstance(body, dict) and body.get("errorClass"):
        return [str(body["errorClass"])]
    return []


class PricedBucket:
    """The session's throttle: charges the leaky bucket the cost of the request being sent (set by
    the client around each request, retries included), then the burst limiter one request."""

    def __init__(self, bucket: LeakyBucket, burst: WindowBudget):
        self.bucket = bucket
        self.burst = burst
        self._cost: ContextVar[float] = ContextVar("lightspeed_r_request_cost", default=1.0)

    @contextmanager
    def priced(self, cost: float) -> Iterator[None]:
        token = self._cost.set(cost)
        try:
            yield
        finally:
            self._cost.reset(token)

    async def acquire(self, cost: float = 1) -> None:
        await self.bucket.acquire(min(self._cost.get(), self.bucket.capacity))
        await self.burst.acquire()

    def observe(self, response: httpx.Response) -> None:
        """Adopt the level the server reports (`37.46/90`)."""
        level = response.headers.get(BUCKET_LEVEL_HEADER, "").split("/", 1)[0]
        with suppress(ValueError):
            self.bucket.observe(float(level))


class LightspeedRClient:
    def __init__(self, session: ApiSession, settings: LightspeedRSettings, throttle: PricedBucket):
        self.session = session
        self.settings = settings
        self.throttle = throttle
        self.account_id = settings.account_id
        self.limit = ConcurrencyLimit(settings.concurrency)

    def url(self, path: str) -> str:
        return f"/API/V3/Account/{self.account_id}/{path.strip('/')}.json"

    async def call(self, method: str, path: str, *, params: dict | None = None, json: dict | None = None) -> dict:
        """One request; the parsed body (`{}` when empty). A relative `path` is the account's; an
        absolute URL (a `next` link) is followed verbatim."""
        absolute = path.startswith(("http://", "https://"))
        relative = urlsplit(path).path.split(f"/Account/{self.account_id}/", 1)[-1] if absolute else path
        query = dict(parse_qsl(urlsplit(path).query)) if absolute else (params or {})
        relations = _relations(query.get("load_relations"))
        cost = request_cost(method, relative.removesuffix(".json"), query, json, relations)
        with self.throttle.priced(cost):
            async with self.limit:
                response = await self.session.request(
                    method, path if absolute else self.url(path), params=None if absolute else params, json=json,
                    retry_transport=method != "POST")  # a lost POST answer may have been applied
        return response.json() if response.content else {}

    # reads ------------------------------------------------------------------------------------------
    async def iter_pages(self, resource: str, *, params: dict | None = None, relations: list[str] | None = None,
                         ) -> AsyncIterator[list[dict]]:
        """V3 cursor paging: the first page with `limit=100`, then `@attributes.next` verbatim until it
        is empty; each page's rows as a list."""
        query = {"limit": PAGE_LIMIT, **(params or {})}
        if relations:
            query["load_relations"] = json_module.dumps(relations, separators=(",", ":"))
        body = await self.call("GET", resource, params=query)
        while True:
            rows = rows_of(body, resource)
            if rows:
                yield rows
            following = (body.get("@attributes") or {}).get("next") or ""
            if not following or not rows:
                return
            body = await self.call("GET", following)

    async def rows(self, resource: str, *, params: dict | None = None, relations: list[str] | None = None) -> list[dict]:
        found: list[dict] = []
        async for page in self.iter_pages(resource, params=params, relations=relations):
            found += page
        return found

    async def one(self, resource: str, ident, *, relations: list[str] | None = None) -> dict | None:
        try:
            body = await self.call("GET", f"{resource}/{ident}", params=_load(relations))
        except NotFound:
            return None
        found = rows_of(body, resource)
        return found[0] if found else None

    # writes -----------------------------------------------------------------------------------------
    async def create(self, resource: str, body: dict, *, relations: list[str] | None = None) -> dict:
        return _row(await self.call("POST", resource, params=_load(relations), json=body), resource)

    async def update(self, resource: str, ident, body: dict, *, relations: list[str] | None = None) -> dict:
        return _row(await self.call("PUT", f"{resource}/{ident}", params=_load(relations), json=body), resource)

    async def archive(self, resource: str, ident) -> dict:
        return _row(await self.call("DELETE", f"{resource}/{ident}"), resource)

    async def aclose(self) -> None:
        await self.session.aclose()


def _relations(raw: str | None) -> list[str]:
    if not raw:
        return []
    try:
        names = json_module.loads(raw)
    except ValueError:
        return []
    return [str(n) for n in names] if isinstance(names, list) else []


def _load(relations: list[str] | None) -> dict | None:
    return {"load_relations": json_module.dumps(relations, separators=(",", ":"))} if relations else None


def _row(body: dict, resource: str) -> dict:
    found = rows_of(body, resource)
    return found[0] if found else {}


def build_auth(settings: LightspeedRSettings, on_refresh_token: Callable[[str], None] | None = None) -> httpx.Auth:
    """OAuth refresh at the token endpoint. The refresh token is single use and rotates: with
    `settings.token_file` each new one is kept there (and read back first next time)."""
    store = TokenFile(settings.token_file) if settings.token_file else None
    refresh_token = settings.refresh_token.get_secret_value() if settings.refresh_token is not None else None
    if not (refresh_token or (store and store.refresh_token())):
        raise ValueError("lightspeed_r: set a refresh token (OMNISYNC_LSR_REFRESH_TOKEN) or seed the token file")
    return OAuthRefreshToken(
        settings.token_endpoint, settings.client_id, settings.client_secret.get_secret_value(), refresh_token,
        system=SYSTEM, on_refresh_token=on_refresh_token, token_store=store, invalid_token_markers=TOKEN_REJECTED,
    )


def build_client(
    settings: LightspeedRSettings,
    transport: httpx.AsyncBaseTransport | None = None,
    call_log: CallLog | None = None,
    *,
    http: httpx.AsyncClient | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable | None = None,
    on_refresh_token: Callable[[str], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> LightspeedRClient:
    http = http or httpx.AsyncClient(base_url=settings.api_base, transport=transport, timeout=settings.timeout_s)
    # the bucket waits on its own clock: a test's fake `sleep` drives it only together with a fake `clock`
    timing = {"clock": clock, **({"sleep": sleep} if sleep is not None else {})} if clock is not None else {}
    bucket = LeakyBucket(settings.bucket_size, settings.drip_per_s, **timing)
    # aiolimiter drains continuously: in one of the server's fixed 1-s windows it may pass up to twice its
    # rate, so half the burst limit keeps every window under it
    throttle = PricedBucket(bucket, WindowBudget(max(1, burst_per_s(settings.registers) // 2), 1.0))
    http.event_hooks.setdefault("response", []).append(_observer(throttle))
    extra = {"sleep": sleep} if sleep is not None else {}
    session = ApiSession(SYSTEM, http, auth=build_auth(settings, on_refresh_token), throttle=throttle,
                         retry=retry or RetryPolicy(), call_log=call_log, error_codes=error_codes, **extra)
    return LightspeedRClient(session, settings, throttle)


def _observer(throttle: PricedBucket):
    async def observe(response: httpx.Response) -> None:
        throttle.observe(response)

    return observe
