"""All resources, wired once. Secrets only through EnvVar; paths and URLs are not secrets."""


import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from omnisync_pipelines.config import ConfigError, OmnisyncConfig, load_config
from omnisync_pipelines.store import read_copy, warehouse
from omnisync_pipelines.store.ops import DEFAULT_OPS_URL, OpsStore
from omnisync_pipelines.systems import pos_plugin


class OmnisyncResource(dg.ConfigurableResource):
    """The configuration file and the two stores: DuckDB for analysts, the operational store."""

    config_path: str = "omnisync.yaml"
    ops_url: str = DEFAULT_OPS_URL
    duckdb_path: str = warehouse.DEFAULT_DUCKDB_PATH

    def load_config(self) -> OmnisyncConfig:
        """The configuration; a problem with it fails the step at once (a retry would fail the same way)."""
        try:
            return load_config(self.config_path)
        except ConfigError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None

    def analysts_copy_path(self) -> str:
        return read_copy.analysts_path(self.duckdb_path)

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


def pos_secrets(context, pos: str) -> dict:
    """A POS's secrets from its credentials resource (key: the POS id; see `PosPlugin.credentials_resource`)."""
    return getattr(context.resources, pos).secrets()


def estate_secrets(context, config) -> dict[str, dict]:
    """commercetools' and every configured POS's secrets, by system."""
    return {"commercetools": context.resources.commercetools.secrets(),
            **{pos: pos_secrets(context, pos) for pos in config.pos_systems}}


def resource_keys(*pos: str) -> set[str]:
    """`required_resource_keys` of an asset that talks to commercetools and these POS."""
    return {"omnisync", "commercetools", *pos}


def build_resources(pos_systems: tuple[str, ...]) -> dict:
    """The resources of a code location holding assets for `pos_systems`: one credentials resource per POS."""
    return {
        "omnisync": OmnisyncResource(
            config_path=os.environ.get("OMNISYNC_CONFIG", "omnisync.yaml"),
            ops_url=os.environ.get("OMNISYNC_OPS_URL", DEFAULT_OPS_URL),
            duckdb_path=os.environ.get("OMNISYNC_DUCKDB_PATH", warehouse.DEFAULT_DUCKDB_PATH),
        ),
        "commercetools": CommercetoolsCredentials(
            client_id=dg.EnvVar("OMNISYNC_CT_CLIENT_ID"), client_secret=dg.EnvVar("OMNISYNC_CT_CLIENT_SECRET")
        ),
        **{pos: pos_plugin(pos).credentials_resource() for pos in pos_systems},
    }


@dg.definitions
def defs() -> dg.Definitions:
    from omnisync_pipelines.defs.specs import configured_pos

    return dg.Definitions(resources=build_resources(configured_pos()))
