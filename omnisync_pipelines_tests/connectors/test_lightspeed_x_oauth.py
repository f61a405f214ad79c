"""X-Series OAuth as the deployment wires it (defs/resources.py -> registry -> client), against the emulator.

Contract: with `OMNISYNC_LSX_CLIENT_ID` / `_CLIENT_SECRET` / `_REFRESH_TOKEN` set and no personal
token, the connector authenticates with the OAuth app; every rotated refresh token is kept in the
token file (`OMNISYNC_LSX_TOKEN_FILE`, mode 0600) and read from there in preference to the variable,
so the next run still gets in after the first one rotated the token the variable holds. Two
sessions sharing the file do not knock each other out (one refresh serves both). No token or
client secret reaches the call log.
"""

import asyncio
import os
import stat
import threading

import dagster as dg
import httpx
import pytest

from omnisync_pipelines.config import parse_config
from omnisync_pipelines.connectors.lightspeed_x.credentials import (
    credentials_resource as lightspeed_x_credentials,
)
from omnisync_pipelines.connectors.registry import open_connector
from omnisync_pipelines.defs.resources import build_resources
from omnisync_pipelines.rest.errors import ApiStatusError
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport

pytestmark = pytest.mark.anyio
BASE = "https://omnisync-sandbox.retail.lightspeed.app"


@pytest.fixture
def emu():
    emulator = LightspeedXEmulator(seed=5)
    emulator.berlin = emulator.seed_outlet("Berlin")
    emulator.seed_register(emulator.berlin["id"], "R1")
    return emulator


@pytest.fixture
async def first_refresh_token(emu):
    """What the retailer's consent gives the app once: the refresh token an operator puts in the env."""
    creds = emu.credentials(BASE)
    async with httpx.AsyncClient(transport=EmulatorTransport(emu.app), base_url=BASE) as http:
        granted = await http.post("/api/1.0/token", data={
            "code": emu.authorize(), "client_id": creds["client_id"], "client_secret": creds["client_secret"],
            "grant_type": "authorization_code", "redirect_uri": "https://omnisync.example/callback"})
    return granted.json()["refresh_token"]


@pytest.fixture
def oauth_env(emu, first_refresh_token, tmp_path, monkeypatch):
    creds = emu.credentials(BASE)
    env = {"OMNISYNC_LSX_CLIENT_ID": creds["client_id"], "OMNISYNC_LSX_CLIENT_SECRET": creds["client_secret"],
           "OMNISYNC_LSX_REFRESH_TOKEN": first_refresh_token,
           "OMNISYNC_LSX_TOKEN_FILE": str(tmp_path / "state" / "lightspeed_x.tokens")}
    monkeypatch.delenv("OMNISYNC_LSX_TOKEN", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def config(emu):
    return parse_config({
        "pos": "lightspeed_x",
        "systems": {
            "commercetools": {"api_url": "https://api.example", "auth_url": "https://auth.example", "project_key": "shop"},
            "lightspeed_x": {"base_url": BASE, "domain_prefix": "omnisync-sandbox"},
        },
        "locations": [{"key": "berlin", "commercetools": {"supply_channel_key": "store-berlin"},
                       "lightspeed_x": {"outlet_id": emu.berlin["id"]}}],
    })


def deployed_secrets() -> dict:
    """The secrets the definitions hand to the registry, EnvVars resolved as in a run."""
    with dg.build_resources({"lightspeed_x": build_resources(("lightspeed_x",))["lightspeed_x"]}) as resources:
        return resources.lightspeed_x.secrets()


async def read_outlets(emu, secrets: dict, calls: list) -> list[str]:
    async with open_connector("lightspeed_x", config(emu), secrets, call_log=calls.append,
                              transport=EmulatorTransport(emu.app)) as connector:
        return [loc.name for loc in (await connector.read("locations")).tables["locations"]]


async def test_the_second_run_gets_in_with_the_refresh_token_the_first_run_rotated(emu, oauth_env):
    calls: list[dict] = []
    secrets = deployed_secrets()
    assert "personal_token" not in secrets and secrets["token_file"] == oauth_env["OMNISYNC_LSX_TOKEN_FILE"]

    assert await read_outlets(emu, secrets, calls) == ["Berlin"]  # run 1: refreshes, the token rotates
    token_file = oauth_env["OMNISYNC_LSX_TOKEN_FILE"]
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert oauth_env["OMNISYNC_LSX_REFRESH_TOKEN"] not in emu.refresh_tokens  # the variable's token is spent

    emu.expire_tokens()  # a day later: the access token is gone, only the rotated refresh token gets in
    assert await read_outlets(emu, deployed_secrets(), calls) == ["Berlin"]  # run 2
    emu.expire_tokens()
    assert await read_outlets(emu, deployed_secrets(), calls) == ["Berlin"]  # run 3

    with open(token_file) as kept:
        kept_text = kept.read()
    secret_values = [oauth_env["OMNISYNC_LSX_REFRESH_TOKEN"], oauth_env["OMNISYNC_LSX_CLIENT_SECRET"],
                     *emu.refresh_tokens, *[t for t in emu.tokens if t != emu.personal_token]]
    assert next(iter(emu.refresh_tokens)) in kept_text
    assert calls and not [v for v in secret_values if v in repr(calls)]


async def test_without_the_token_file_the_second_run_is_refused(emu, oauth_env):
    """The failure the token file prevents: the variable still holds the refresh token run 1 spent."""
    secrets = {**deployed_secrets(), "token_file": None}
    assert await read_outlets(emu, secrets, []) == ["Berlin"]
    emu.expire_tokens()
    with pytest.raises(ApiStatusError) as refused:
        await read_outlets(emu, secrets, [])
    assert refused.value.status == 400  # invalid_grant at the token endpoint


async def test_after_the_app_is_authorised_again_the_new_refresh_token_wins_over_the_file(emu, oauth_env, monkeypatch):
    """The retailer re-authorised the app (say, after revoking it): the operator puts the new refresh
    token in the variable; the file's chain descends from the old one and is dropped, not used."""
    assert await read_outlets(emu, deployed_secrets(), []) == ["Berlin"]
    emu.refresh_tokens.clear()  # the old authorisation is revoked: every token of its chain is dead
    emu.expire_tokens()
    creds = emu.credentials(BASE)
    async with httpx.AsyncClient(transport=EmulatorTransport(emu.app), base_url=BASE) as http:
        granted = await http.post("/api/1.0/token", data={
            "code": emu.authorize(), "client_id": creds["client_id"], "client_secret": creds["client_secret"],
            "grant_type": "authorization_code", "redirect_uri": "https://omnisync.example/callback"})
    monkeypatch.setenv("OMNISYNC_LSX_REFRESH_TOKEN", granted.json()["refresh_token"])
    assert await read_outlets(emu, deployed_secrets(), []) == ["Berlin"]
    emu.expire_tokens()
    assert await read_outlets(emu, deployed_secrets(), []) == ["Berlin"]  # and its own chain goes on from the file
    with open(oauth_env["OMNISYNC_LSX_TOKEN_FILE"]) as kept:
        assert granted.json()["refresh_token"] not in kept.read()  # a fingerprint names it, not the token


async def test_two_sessions_sharing_the_token_file_refresh_once_for_both(emu, oauth_env):
    secrets = deployed_secrets()
    async with open_connector("lightspeed_x", config(emu), secrets, transport=EmulatorTransport(emu.app)) as a, \
            open_connector("lightspeed_x", config(emu), secrets, transport=EmulatorTransport(emu.app)) as b:
        for connector in (a, b):
            assert len((await connector.read("locations")).tables["locations"]) == 1
        emu.expire_tokens()
        for connector in (a, b, a, b):
            assert len((await connector.read("locations")).tables["locations"]) == 1
        fetched = a.client.session.auth.tokens_fetched + b.client.session.auth.tokens_fetched
    assert fetched == 2  # one at the start, one after the expiry; the other session adopted each


async def test_sessions_refreshing_at_the_same_moment_in_one_process_wait_for_each_other(emu, oauth_env):
    """The file lock blocks a thread; two sessions in one event loop must not block each other on it."""
    secrets, outcome = deployed_secrets(), {}

    async def both_at_once() -> None:
        async with open_connector("lightspeed_x", config(emu), secrets, transport=EmulatorTransport(emu.app)) as a, \
                open_connector("lightspeed_x", config(emu), secrets, transport=EmulatorTransport(emu.app)) as b:
            for _ in range(2):  # at start (no token), then both stale at once
                reads = await asyncio.gather(a.read("locations"), b.read("locations"))
                outcome.setdefault("rows", []).append([len(r.tables["locations"]) for r in reads])
                emu.expire_tokens()
            outcome["fetched"] = a.client.session.auth.tokens_fetched + b.client.session.auth.tokens_fetched

    worker = threading.Thread(target=lambda: asyncio.run(both_at_once()), daemon=True)
    worker.start()
    await asyncio.to_thread(worker.join, 30)  # a deadlock fails the test instead of hanging it
    assert not worker.is_alive(), "the two sessions deadlocked on the token file"
    assert outcome == {"rows": [[1, 1], [1, 1]], "fetched": 2}


def test_a_personal_token_wins_and_neither_secret_refuses_the_run_naming_the_token(monkeypatch):
    env = {"OMNISYNC_LSX_CLIENT_ID": "app", "OMNISYNC_LSX_CLIENT_SECRET": "s", "OMNISYNC_LSX_TOKEN": "pt"}
    assert lightspeed_x_credentials(env).personal_token == "OMNISYNC_LSX_TOKEN"  # the EnvVar's name
    oauth = lightspeed_x_credentials({k: v for k, v in env.items() if k != "OMNISYNC_LSX_TOKEN"})
    assert (oauth.personal_token, oauth.client_id, oauth.refresh_token) == (None, "OMNISYNC_LSX_CLIENT_ID", None)
    assert oauth.token_file == "data/lightspeed_x.tokens"
    monkeypatch.delenv("OMNISYNC_LSX_TOKEN", raising=False)
    with pytest.raises(dg.DagsterInvalidConfigError, match="OMNISYNC_LSX_TOKEN"), \
            dg.build_resources({"lightspeed_x": lightspeed_x_credentials({})}):
        pass
