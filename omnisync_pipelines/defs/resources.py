"""All resources, wired once. Secrets only through EnvVar; paths and URLs are not secrets."""


import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from omnisync_pipelines.config import OmnisyncConfig, load_config
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
    """A personal token (or an OAuth access token) of the retailer's X-Series account."""

    personal_token: str

    def secrets(self) -> dict:
        return {"personal_token": self.personal_token}


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
        "lightspeed_x": LightspeedXCredentials(personal_token=dg.EnvVar("OMNISYNC_LSX_TOKEN")),
    }


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
