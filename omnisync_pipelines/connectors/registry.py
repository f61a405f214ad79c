"""Build a system's connector from the configuration file plus its secrets: the one place that
knows every system, so the Dagster layer and the CLI stay system-agnostic."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

from omnisync_pipelines.config import OmnisyncConfig
from omnisync_pipelines.connectors.base import Connector


def build_connector(
    system: str,
    config: OmnisyncConfig,
    secrets: dict,
    *,
    call_log: Callable[[dict], None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Connector:
    if system == "commercetools":
        from omnisync_pipelines.connectors.commercetools.client import build_client
        from omnisync_pipelines.connectors.commercetools.connector import CommercetoolsConnector
        from omnisync_pipelines.connectors.commercetools.settings import CommercetoolsSettings

        ct = config.systems.commercetools
        settings = CommercetoolsSettings(
            api_url=ct.api_url, auth_url=ct.auth_url, project_key=ct.project_key, scopes=ct.scopes,
            graphql_writes=ct.graphql_writes, graphql_batch_size=ct.graphql_batch_size, **secrets
        )
        store_map = {loc.commercetools.store_key: loc.key for loc in config.locations if loc.commercetools.store_key}
        client = build_client(settings, transport=transport, call_log=call_log)
        return CommercetoolsConnector(client, config.ct_channel_map(), store_map=store_map,
                                      aggregate_channels=tuple(config.availability.channels))
    if system == "lightspeed_x":
        from omnisync_pipelines.connectors.lightspeed_x.client import build_client
        from omnisync_pipelines.connectors.lightspeed_x.connector import LightspeedXConnector
        from omnisync_pipelines.connectors.lightspeed_x.settings import LightspeedXSettings

        lsx = config.systems.lightspeed_x
        if lsx is None:
            raise ValueError("systems.lightspeed_x: not configured")
        settings = LightspeedXSettings(
            domain_prefix=lsx.domain_prefix, base_url=lsx.base_url, registers=lsx.registers, **secrets
        )
        client = build_client(settings, transport=transport, call_log=call_log)
        return LightspeedXConnector(client, config.pos_location_map(), tender_map=dict(lsx.tender_map) or None,
                                    online_payment_type=lsx.online_payment_type)
    raise ValueError(f"no connector for system {system!r} yet")


@asynccontextmanager
async def open_connector(
    system: str,
    config: OmnisyncConfig,
    secrets: dict,
    *,
    call_log: Callable[[dict], None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Connector]:
    connector = build_connector(system, config, secrets, call_log=call_log, transport=transport)
    try:
        yield connector
    finally:
        await connector.aclose()


def build_catalog_target(connector: Connector, config: OmnisyncConfig):
    """The engine's `CatalogTarget` over an open POS connector (catalog and prices flow to the POS)."""
    if connector.system == "lightspeed_x":
        from omnisync_pipelines.connectors.lightspeed_x.catalog_target import LightspeedXCatalog

        return LightspeedXCatalog(connector.client, {v: k for k, v in config.pos_location_map().items()})
    raise ValueError(f"no catalog target for system {connector.system!r} yet")


def build_customer_target(connector: Connector):
    """The engine's `CustomerTarget` over an open connector of either side."""
    if connector.system == "commercetools":
        from omnisync_pipelines.connectors.commercetools.customer_target import CommercetoolsCustomers

        return CommercetoolsCustomers(connector.client)
    if connector.system == "lightspeed_x":
        from omnisync_pipelines.connectors.lightspeed_x.customer_target import LightspeedXCustomers

        return LightspeedXCustomers(connector.client)
    raise ValueError(f"no customer target for system {connector.system!r} yet")
