"""R-Series refresh tokens are single use and rotate: the client refreshes, keeps the new token in
the token file, and a second process starting from the file carries on where the first left off."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from omnisync_pipelines.connectors.lightspeed_r.client import build_client
from omnisync_pipelines.connectors.lightspeed_r.settings import LightspeedRSettings
from omnisync_pipelines.rest.errors import ApiStatusError
from omnisync_pipelines.sandbox.emulators.lightspeed_r import LightspeedREmulator


def settings_for(emu, token_file, refresh_token=None) -> LightspeedRSettings:
    return LightspeedRSettings(account_id=str(emu.account_id), base_url="http://r.test", client_id="sandbox-client",
                               client_secret="sandbox-secret", refresh_token=refresh_token, token_file=str(token_file))


def test_the_rotated_refresh_token_is_kept_and_used_by_the_next_process(tmp_path):
    emu = LightspeedREmulator(seed=4, burst_limit=None)
    first_token = emu.issue_tokens()["refresh_token"]
    token_file = tmp_path / "lightspeed_r.tokens"

    async def scenario():
        first = build_client(settings_for(emu, token_file, first_token), transport=httpx.ASGITransport(app=emu.app))
        assert (await first.rows("Shop"))[0]["name"] == "Main Store"
        await first.aclose()
        stored = json.loads(token_file.read_text())
        assert stored["refresh_token"] != first_token  # rotated, and kept
        emu.oauth.access.clear()  # every access token expires: the next process must refresh again
        second = build_client(settings_for(emu, token_file), transport=httpx.ASGITransport(app=emu.app))
        shops = await second.rows("Shop")
        await second.aclose()
        return stored, shops, json.loads(token_file.read_text())

    stored, shops, later = asyncio.run(scenario())
    assert shops and later["refresh_token"] != stored["refresh_token"]
    assert token_file.stat().st_mode & 0o777 == 0o600


def test_a_used_refresh_token_is_refused_loudly(tmp_path):
    emu = LightspeedREmulator(seed=5, burst_limit=None)
    token = emu.issue_tokens()["refresh_token"]

    async def scenario():
        first = build_client(settings_for(emu, tmp_path / "a.tokens", token), transport=httpx.ASGITransport(app=emu.app))
        await first.rows("Shop")  # refreshes and uses the new access token: the old refresh token is revoked
        await first.aclose()
        stale = build_client(settings_for(emu, tmp_path / "b.tokens", token), transport=httpx.ASGITransport(app=emu.app))
        try:
            await stale.rows("Shop")
        finally:
            await stale.aclose()

    with pytest.raises(ApiStatusError) as refused:
        asyncio.run(scenario())
    assert refused.value.status == 400 and "invalid_grant" in str(refused.value.body)
