"""Typed async access to the X-Series API over the shared `ApiSession` (retries, budget, call log)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from omnisync_pipelines.connectors.lightspeed_x.errors import error_codes
from omnisync_pipelines.connectors.lightspeed_x.settings import SYSTEM, WINDOW_S, LightspeedXSettings
from omnisync_pipelines.rest.oauth import BearerToken, OAuthRefreshToken
from omnisync_pipelines.rest.paging import VersionCursorPaginator, iterate_pages
from omnisync_pipelines.rest.retry import RetryPolicy
from omnisync_pipelines.rest.session import ApiSession, CallLog
from omnisync_pipelines.rest.throttle import ConcurrencyLimit, WindowBudget


class LightspeedXClient:
    def __init__(self, session: ApiSession, settings: LightspeedXSettings):
        self.session = session
        self.settings = settings
        self.limit = ConcurrencyLimit(settings.concurrency)

    async def call(self, method: str, path: str, **kwargs) -> dict:
        async with self.limit:
            response = await self.session.request(method, path, **kwargs)
        return response.json() if response.content else {}

    # reads ----------------------------------------------------------------------------------------
    async def iter_pages(self, collection: str, *, after: int = 0, params: dict | None = None) -> AsyncIterator[tuple[list[dict], int | None]]:
        """Pages of a 2.0 collection in version order from `after` (exclusive); yields (rows, version.max)."""
        size = self.settings.sales_page_size if collection == "sales" else self.settings.page_size
        paginator = VersionCursorPaginator(size, start_after=after)
        async for page in iterate_pages(self.session, f"/api/2.0/{collection}", paginator, params):
            version = (page.response.json().get("version") or {}).get("max")
            yield page.items, version

    async def all(self, collection: str, *, after: int = 0) -> tuple[list[dict], int | None]:
        rows, last = [], None
        async for items, version in self.iter_pages(collection, after=after):
            rows.extend(items)
            last = version or last
        return rows, last

    async def get(self, collection: str, row_id: str) -> dict:
        return (await self.call("GET", f"/api/2.0/{collection}/{row_id}"))["data"]

    async def consignment_products(self, consignment_id: str) -> list[dict]:
        return (await self.call("GET", f"/api/2.0/consignments/{consignment_id}/products"))["data"]

    async def product_inventory(self, product_id: str) -> list[dict]:
        return (await self.call("GET", f"/api/2.0/products/{product_id}/inventory"))["data"]

    # writes ---------------------------------------------------------------------------------------
    async def create_product(self, common: dict, variants: list[dict]) -> list[str]:
        body = {"common": common, "details": {"variants": variants} if len(variants) > 1 else variants[0]}
        return (await self.call("POST", "/api/2.1/products", json=body))["data"]

    async def update_product(self, product_id: str, common: dict, details: dict) -> None:
        await self.call("PUT", f"/api/2.1/products/{product_id}", json={"common": common, "details": details})

    async def set_inventory(self, product_id: str, outlet_id: str, count: int) -> int:
        """Absolute write (2.0 has no relative one): write, then read back what the outlet holds."""
        await self.call("PUT", f"/api/2.1/products/{product_id}",
                        json={"common": {}, "details": {"inventory": [{"outlet_id": outlet_id, "current_amount": count}]}})
        rows = await self.product_inventory(product_id)
        return next(int(r["inventory_level"]) for r in rows if r["outlet_id"] == outlet_id)

    async def create_customer(self, fields: dict) -> dict:
        return (await self.call("POST", "/api/2.0/customers", json=fields))["data"]

    async def update_customer(self, customer_id: str, fields: dict) -> dict:
        return (await self.call("PUT", f"/api/2.0/customers/{customer_id}", json=fields))["data"]

    async def register_sale(self, payload: dict) -> dict:
        return (await self.call("POST", "/api/register_sales", json=payload))["register_sale"]

    async def return_sale(self, sale_id: str) -> dict:
        return (await self.call("PUT", f"/api/2.0/sales/{sale_id}/actions/return"))["data"]

    async def fulfill_sale(self, sale_id: str, fulfillment_type: str) -> dict:
        return (await self.call("POST", f"/api/2.0/sales/{sale_id}/fulfill", json={"fulfillment_type": fulfillment_type}))["data"]

    async def register_webhook(self, url: str, kind: str) -> dict:
        return (await self.call("POST", "/api/2.0/webhooks", json={"url": url, "type": kind, "active": True}))["data"]

    async def aclose(self) -> None:
        await self.session.aclose()


def build_client(
    settings: LightspeedXSettings,
    http: httpx.AsyncClient | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    call_log: CallLog | None = None,
    *,
    retry: RetryPolicy | None = None,
    sleep=None,
) -> LightspeedXClient:
    http = http or httpx.AsyncClient(base_url=settings.api_base, transport=transport, timeout=settings.timeout_s)
    if settings.personal_token is not None:
        auth: httpx.Auth = BearerToken(settings.personal_token.get_secret_value())
    elif settings.refresh_token is not None and settings.client_id and settings.client_secret:
        auth = OAuthRefreshToken(
            f"{settings.api_base}/api/1.0/token", settings.client_id, settings.client_secret.get_secret_value(),
            settings.refresh_token.get_secret_value(), system=SYSTEM,
        )
    else:
        raise ValueError("lightspeed_x: set a personal token, or client id/secret and a refresh token")
    extra = {"sleep": sleep} if sleep is not None else {}
    session = ApiSession(
        SYSTEM, http, auth=auth, throttle=WindowBudget(settings.budget, WINDOW_S), retry=retry or RetryPolicy(),
        call_log=call_log, error_codes=error_codes, **extra,
    )
    return LightspeedXClient(session, settings)
