"""Build a system's connector and the engine's targets from the configuration file plus its secrets,
through the POS contract (`connectors/pos.py`) and the registry (`systems.py`): the Dagster layer
and the CLI stay system-agnostic."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

from omnisync_pipelines.config import OmnisyncConfig
from omnisync_pipelines.connectors.base import Connector
from omnisync_pipelines.systems import COMMERCETOOLS, pos_plugin


def build_connector(
    system: str,
    config: OmnisyncConfig,
    secrets: dict,
    *,
    call_log: Callable[[dict], None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Connector:
    if system == COMMERCETOOLS:
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
    return pos_plugin(system).build_connector(config.pos_settings(system), config.pos_location_map(system), secrets,
                                              call_log=call_log, transport=transport,
                                              location_blocks=config.pos_location_blocks(system),
                                              former_locations=config.pos_former_locations(system))


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
    return pos_plugin(connector.system).catalog_target(connector, config.pos_location_map(connector.system))


def build_customer_target(connector: Connector):
    """The engine's `CustomerTarget` over an open connector of either side."""
    if connector.system == COMMERCETOOLS:
        from omnisync_pipelines.connectors.commercetools.customer_target import CommercetoolsCustomers

        return CommercetoolsCustomers(connector.client)
    return pos_plugin(connector.system).customer_target(connector)


def build_fulfilment(connector: Connector):
    """The engine's `StatusPos` over an open POS connector."""
    return pos_plugin(connector.system).fulfilment(connector)


def build_live_stock(connector: Connector):
    """The contract's `LiveStock` over an open POS connector."""
    return pos_plugin(connector.system).live_stock(connector)
