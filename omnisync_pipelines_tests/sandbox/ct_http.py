"""Talking to the commercetools emulator over HTTP in its tests: an authorized client and a checked POST."""

from __future__ import annotations

import httpx

from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport

P = "/omnisync-sandbox"


async def authed(emu: CommercetoolsEmulator, scope: str | None = None) -> httpx.AsyncClient:
    """A client, not yet opened (callers use it with `async with`), holding a client-credentials token
    of the emulator's sandbox API client (only `scope`, when given)."""
    data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    async with httpx.AsyncClient(transport=EmulatorTransport(emu.app), base_url="http://ct.test") as token_client:
        reply = await token_client.post("/oauth/token", data=data, auth=("sandbox-client", "sandbox-secret"))
    client = httpx.AsyncClient(transport=EmulatorTransport(emu.app), base_url="http://ct.test")
    client.headers["Authorization"] = "Bearer " + reply.json()["access_token"]
    return client


async def post(client: httpx.AsyncClient, path: str, body: dict, status: int = 201) -> dict:
    response = await client.post(P + path, json=body)
    assert response.status_code == status, response.text
    return response.json()
