"""Which environment variables hold the X-Series secrets, and the choice between a personal token and
OAuth: one place for the Dagster definitions (as `dg.EnvVar`, defs/resources.py) and the
operator commands that run outside Dagster (`omnisync webhooks register`)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

TOKEN = "OMNISYNC_LSX_TOKEN"
CLIENT_ID = "OMNISYNC_LSX_CLIENT_ID"
CLIENT_SECRET = "OMNISYNC_LSX_CLIENT_SECRET"
REFRESH_TOKEN = "OMNISYNC_LSX_REFRESH_TOKEN"
TOKEN_FILE = "OMNISYNC_LSX_TOKEN_FILE"  # a path, not a secret; the file it names holds secrets
DEFAULT_TOKEN_FILE = "data/lightspeed_x.tokens"  # see rest/token_file.py


def uses_oauth(env: Mapping[str, str] = os.environ) -> bool:
    """OAuth when an app client id is set and no personal token is; else the personal token (so a
    deployment with neither is told to set `OMNISYNC_LSX_TOKEN`)."""
    return not env.get(TOKEN) and bool(env.get(CLIENT_ID))


def token_file(env: Mapping[str, str] = os.environ) -> str:
    return env.get(TOKEN_FILE) or DEFAULT_TOKEN_FILE


class MissingCredential(KeyError):
    def __str__(self) -> str:
        return f"environment variable {self.args[0]} is not set"


def secrets_from_env(env: Mapping[str, str] = os.environ) -> dict:
    """The secrets `connectors.registry.open_connector` takes, read straight from the environment."""
    def required(name: str) -> str:
        if not env.get(name):
            raise MissingCredential(name)
        return env[name]

    if not uses_oauth(env):
        return {"personal_token": required(TOKEN)}
    return {"client_id": required(CLIENT_ID), "client_secret": required(CLIENT_SECRET),
            "refresh_token": env.get(REFRESH_TOKEN) or None, "token_file": token_file(env)}


class LightspeedXCredentials(dg.ConfigurableResource):
    """The retailer's X-Series account: a personal token, or an OAuth app (client id and secret) with a
    refresh token. The refresh token rotates; each new one is kept in `token_file` (mode 0600, never
    a table or a log) and read from there in preference to `refresh_token` on the next run."""

    personal_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None  # the first one, from the app's authorisation
    token_file: str = DEFAULT_TOKEN_FILE

    def secrets(self) -> dict:
        if self.personal_token:
            return {"personal_token": self.personal_token}
        return {"client_id": self.client_id, "client_secret": self.client_secret,
                "refresh_token": self.refresh_token, "token_file": self.token_file}


def credentials_resource(env: Mapping[str, str] = os.environ) -> LightspeedXCredentials:
    """OAuth when `OMNISYNC_LSX_CLIENT_ID` is set and `OMNISYNC_LSX_TOKEN` is not; else the personal
    token (so a deployment with neither is refused naming `OMNISYNC_LSX_TOKEN`). The refresh token
    variable may be left out once the token file holds one."""
    if not uses_oauth(env):
        return LightspeedXCredentials(personal_token=dg.EnvVar(TOKEN))
    return LightspeedXCredentials(
        client_id=dg.EnvVar(CLIENT_ID), client_secret=dg.EnvVar(CLIENT_SECRET),
        refresh_token=dg.EnvVar(REFRESH_TOKEN) if env.get(REFRESH_TOKEN) else None,
        token_file=token_file(env),
    )
