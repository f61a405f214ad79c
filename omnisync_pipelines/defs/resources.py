"""All resources, wired once. Secrets only through EnvVar; paths and URLs are not secrets."""


import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import dagster as dg
import duckdb

from omnisync_pipelines.config import OmnisyncConfig, load_config
from omnisync_pipelines.connectors.lightspeed_x import credentials as lsx_env
from omnisync_pipelines.connectors.lightspeed_x.token_file import DEFAULT_TOKEN_FILE
from omnisync_pipelines.store import warehouse
from omnisync_pipelines.store.ops import DEFAULT_OPS_URL, OpsStore


class OmnisyncResource(dg.ConfigurableResource):
    """The configuration file and the two stores: DuckDB for analysts, the operational store."""

    config_path: str = "omnisync.yaml"
    ops_url: str = DEFAULT_OPS_URL
    duckdb_path: str = warehouse.DEFAULT_DUCKDB_PATH

    def load_config(self) -> OmnisyncConfig:
        return load_config(self.config_path)

    def ops_store(self) -> OpsStore:
        return OpsStore.from_url(self.ops_url)

    @contextmanager
    def warehouse(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = warehouse.connect(self.duckdb_path)
        try:
            yield con
        finally:
            con.close()


class CommercetoolsCredentials(dg.ConfigurableResource):
    """API client credentials; the hosts and project key are in the configuration file."""

    client_id: str
    client_secret: str

    def secrets(self) -> dict:
        return {"client_id": self.client_id, "client_secret": self.client_secret}


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


def lightspeed_x_credentials(env: Mapping[str, str] = os.environ) -> LightspeedXCredentials:
    """OAuth when `OMNISYNC_LSX_CLIENT_ID` is set and `OMNISYNC_LSX_TOKEN` is not; else the personal
    token (so a deployment with neither is refused naming `OMNISYNC_LSX_TOKEN`). The refresh token
    variable may be left out once the token file holds one."""
    if not lsx_env.uses_oauth(env):
        return LightspeedXCredentials(personal_token=dg.EnvVar(lsx_env.TOKEN))
    return LightspeedXCredentials(
        client_id=dg.EnvVar(lsx_env.CLIENT_ID), client_secret=dg.EnvVar(lsx_env.CLIENT_SECRET),
        refresh_token=dg.EnvVar(lsx_env.REFRESH_TOKEN) if env.get(lsx_env.REFRESH_TOKEN) else None,
        token_file=lsx_env.token_file(env),
    )


def build_resources() -> dict:
    return {
        "omnisync": OmnisyncResource(
            config_path=os.environ.get("OMNISYNC_CONFIG", "omnisync.yaml"),
            ops_url=os.environ.get("OMNISYNC_OPS_URL", DEFAULT_OPS_URL),
            duckdb_path=os.environ.get("OMNISYNC_DUCKDB_PATH", warehouse.DEFAULT_DUCKDB_PATH),
        ),
        "commercetools": CommercetoolsCredentials(
            client_id=dg.EnvVar("OMNISYNC_CT_CLIENT_ID"), client_secret=dg.EnvVar("OMNISYNC_CT_CLIENT_SECRET")
        ),
        "lightspeed_x": lightspeed_x_credentials(),
    }


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
