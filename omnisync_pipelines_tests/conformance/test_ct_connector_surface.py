"""The connector's surface from issue 7 that the conformance tests do not reach: configured scopes,
token refresh before expiry, bounded parallel requests and one request per resource change.

Against our emulator in process (no socket needed): scopes from the configuration file are requested
and enforced (built the way production builds the connector: omnisync.yaml + the credentials
resource + the registry); a token is replaced before it expires, so no call meets a 401; at most
`concurrency` requests are in flight; a stock write (relative change plus movement stamp) is one request.
"""

import asyncio

import httpx
import pytest
import yaml
from pydantic import SecretStr

from omnisync_pipelines.config import load_config
from omnisync_pipelines.connectors.commercetools.client import build_client
from omnisync_pipelines.connectors.commercetools.settings import CommercetoolsSettings
from omnisync_pipelines.connectors.registry import open_connector
from omnisync_pipelines.defs.resources import CommercetoolsCredentials
from omnisync_pipelines.rest.errors import Forbidden
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport

pytestmark = pytest.mark.anyio
BASE = "http://ct.test"


class InFlight:
    """ASGI wrapper counting concurrent requests (the highest count is `peak`)."""

    def __init__(self, app):
        self.app, self.now, self.peak = app, 0, 0

    async def __call__(self, scope, receive, send):
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await self.app(scope, receive, send)
        finally:
            self.now -= 1


def client_of(emulator, app=None, calls=None, **overrides):
    creds = emulator.credentials(BASE)
    settings = CommercetoolsSettings(
        api_url=BASE, auth_url=BASE, project_key=creds["project_key"], client_id=creds["client_id"],
        client_secret=SecretStr(creds["client_secret"]), **overrides,
    )
    http = httpx.AsyncClient(transport=EmulatorTransport(app or emulator.app), base_url=BASE)
    return build_client(settings, http=http, call_log=calls.append if calls is not None else None)


async def test_configured_scopes_are_requested_and_limit_what_the_client_may_do(tmp_path):
    emulator = CommercetoolsEmulator(project_key="p")
    config_file = tmp_path / "omnisync.yaml"
    config_file.write_text(yaml.safe_dump({
        "pos": "lightspeed_x",
        "systems": {"commercetools": {"api_url": BASE, "auth_url": BASE, "project_key": "p",
                                      "scopes": "view_products:p view_orders:p"},
                    "lightspeed_x": {"base_url": "http://lsx.test", "domain_prefix": "shop"}},
        "locations": [{"key": "berlin", "commercetools": {"supply_channel_key": "store-berlin"},
                       "lightspeed_x": {"outlet_id": "outlet-1"}}],
    }))
    secrets = CommercetoolsCredentials(client_id="sandbox-client", client_secret="sandbox-secret").secrets()
    async with open_connector("commercetools", load_config(config_file), secrets,
                              transport=EmulatorTransport(emulator.app)) as connector:
        client = connector.client
        assert await client.channels() == []  # view_products grants channel reads
        with pytest.raises(Forbidden) as caught:
            await client.create("channels", {"key": "store-1", "roles": ["InventorySupply"]})
        assert caught.value.status == 403 and "insufficient_scope" in caught.value.codes
        granted = next(iter(emulator.auth.tokens.values())).scopes
        assert granted == {"view_products:p", "view_orders:p"}


async def test_token_is_refreshed_before_it_expires():
    emulator = CommercetoolsEmulator(project_key="p")
    emulator.auth.token_lifetime_s = 1000  # refresh margin: min(300 s, half the lifetime)
    calls: list[dict] = []
    client = client_of(emulator, calls=calls)
    auth = client.session.auth
    now = [0.0]
    auth._clock = lambda: now[0]
    try:
        await client.channels()
        now[0] = 650.0  # 350 s before expiry: still fresh
        await client.channels()
        assert auth.tokens_fetched == 1
        now[0] = 720.0  # inside the 300 s margin: replaced before any call fails
        await client.channels()
        assert auth.tokens_fetched == 2
        assert all(c["status"] == 200 for c in calls)
    finally:
        await client.aclose()


async def test_parallel_requests_are_bounded_by_concurrency():
    emulator = CommercetoolsEmulator(project_key="p")
    emulator.faults.latency_s = 0.1
    counted = InFlight(emulator.app)
    client = client_of(emulator, app=counted, concurrency=3)
    try:
        await client.channels()  # token first
        await asyncio.gather(*(client.get_by_id("channels", f"missing-{i}") for i in range(12)))
        assert 1 < counted.peak <= 3  # parallel, and never more than the limit
    finally:
        await client.aclose()


async def test_a_stock_write_is_one_request():
    emulator = CommercetoolsEmulator(project_key="p")
    calls: list[dict] = []
    client = client_of(emulator, calls=calls)
    try:
        channel = await client.create("channels", {"key": "s", "roles": ["InventorySupply"]})
        await client.apply_stock_delta("SKU-1", channel["id"], 5, "m-1")
        before = len([c for c in calls if c["method"] == "POST" and "/inventory/" in c["path"]])
        result = await client.apply_stock_delta("SKU-1", channel["id"], 2, "m-2")  # addQuantity + setCustomField
        writes = [c for c in calls if c["method"] == "POST" and "/inventory/" in c["path"]]
        assert len(writes) == before + 1 and result.quantity_on_stock == 7
        assert '"addQuantity"' in writes[-1]["request_body"] and '"setCustomField"' in writes[-1]["request_body"]
    finally:
        await client.aclose()
