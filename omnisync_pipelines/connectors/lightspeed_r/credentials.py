"""Which environment variables hold the R-Series secrets: one place for the Dagster definitions (as
`dg.EnvVar`, defs/resources.py) and the operator commands that run outside Dagster. R-Series has
only OAuth: an app's client id and secret and the account's refresh token, which is single use and
rotates (each new one is kept in the token file, rest/token_file.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

CLIENT_ID = "OMNISYNC_LSR_CLIENT_ID"
CLIENT_SECRET = "OMNISYNC_LSR_CLIENT_SECRET"
REFRESH_TOKEN = "OMNISYNC_LSR_REFRESH_TOKEN"
TOKEN_FILE = "OMNISYNC_LSR_TOKEN_FILE"  # a path, not a secret; the file it names holds secrets
DEFAULT_TOKEN_FILE = "data/lightspeed_r.tokens"


class MissingCredential(KeyError):
    def __str__(self) -> str:
        return f"environment variable {self.args[0]} is not set"


def token_file(env: Mapping[str, str] = os.environ) -> str:
    return env.get(TOKEN_FILE) or DEFAULT_TOKEN_FILE


def secrets_from_env(env: Mapping[str, str] = os.environ) -> dict:
    """The secrets `build_connector` takes, read straight from the environment. The refresh token may
    be left out once the token file holds one."""
    for name in (CLIENT_ID, CLIENT_SECRET):
        if not env.get(name):
            raise MissingCredential(name)
    return {"client_id": env[CLIENT_ID], "client_secret": env[CLIENT_SECRET],
            "refresh_token": env.get(REFRESH_TOKEN) or None, "token_file": token_file(env)}


class LightspeedRCredentials(dg.ConfigurableResource):
    """The retailer's R-Series account through an OAuth app (client id and secret) and the refresh
    token of its authorisation; the rotated refresh tokens live in `token_file` (mode 0600)."""

    client_id: str
    client_secret: str
    refresh_token: str | None = None  # the first one, from the app's authorisation
    token_file: str = DEFAULT_TOKEN_FILE

    def secrets(self) -> dict:
        return {"client_id": self.client_id, "client_secret": self.client_secret,
                "refresh_token": self.refresh_token, "token_file": self.token_file}


def credentials_resource(env: Mapping[str, str] = os.environ) -> LightspeedRCredentials:
    return LightspeedRCredentials(
        client_id=dg.EnvVar(CLIENT_ID), client_secret=dg.EnvVar(CLIENT_SECRET),
        refresh_token=dg.EnvVar(REFRESH_TOKEN) if env.get(REFRESH_TOKEN) else None,
        token_file=token_file(env),
    )
