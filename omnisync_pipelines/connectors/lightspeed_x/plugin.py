"""Lightspeed Retail X-Series (formerly Vend) through the POS contract (`connectors/pos.py`)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from omnisync_pipelines.connectors.lightspeed_x.config_blocks import LightspeedXLocation, LightspeedXSystem
from omnisync_pipelines.connectors.lightspeed_x.settings import SYSTEM
from omnisync_pipelines.connectors.pos import Capabilities, PosPlugin, WebhookSpec


def _parse(route_type, media_type, body, headers):
    from omnisync_pipelines.connectors.lightspeed_x.webhooks import inbox_event

    return inbox_event(route_type, media_type, body, headers)


def _register(base_url, types, echo, *, env=os.environ, transport=None) -> int:
    from omnisync_pipelines.connectors.lightspeed_x.subscriptions import register_from_env

    return register_from_env(base_url, types, echo, env=env, transport=transport)


class LightspeedXPlugin(PosPlugin):
    system = SYSTEM
    title = "Lightspeed Retail X-Series"
    capabilities = Capabilities(stock_writes="absolute", events="webhooks", native_fulfilment_routing=False,
                                returns_restock_at_register=True, fast_lane=True)
    settings_model = LightspeedXSystem
    location_model = LightspeedXLocation
    location_id_field = "outlet_id"
    # X-Series signs nothing and lets an app choose only the URL: our secret rides in it
    webhooks = WebhookSpec(parse=_parse, query_token=True, register=_register)

    def credentials_resource(self, env: Mapping[str, str] = os.environ):
        from omnisync_pipelines.connectors.lightspeed_x.credentials import credentials_resource

        return credentials_resource(env)

    def secrets_from_env(self, env: Mapping[str, str] = os.environ) -> dict:
        from omnisync_pipelines.connectors.lightspeed_x.credentials import secrets_from_env

        return secrets_from_env(env)

    def stock_items_of_event(self, event_type: str, payload: dict) -> set[str]:
        from omnisync_pipelines.connectors.lightspeed_x.live import STOCK_EVENT_TYPES, product_ids_of

        return product_ids_of(event_type, payload) if event_type in STOCK_EVENT_TYPES else set()

    def build_connector(self, settings: LightspeedXSystem, location_map, secrets, *, call_log=None, transport=None,
                        location_blocks=None, former_locations=None):
        from omnisync_pipelines.connectors.lightspeed_x.client import build_client
        from omnisync_pipelines.connectors.lightspeed_x.connector import LightspeedXConnector
        from omnisync_pipelines.connectors.lightspeed_x.settings import LightspeedXSettings

        connection = LightspeedXSettings(domain_prefix=settings.domain_prefix, base_url=settings.base_url,
                                         registers=settings.registers, **secrets)
        client = build_client(connection, transport=transport, call_log=call_log)
        return LightspeedXConnector(client, location_map, tender_map=dict(settings.tender_map) or None,
                                    online_payment_type=settings.online_payment_type,
                                    counted_elsewhere=set(former_locations or ()))

    def catalog_target(self, connector, location_map):
        from omnisync_pipelines.connectors.lightspeed_x.catalog_target import LightspeedXCatalog

        return LightspeedXCatalog(connector.client, {key: outlet for outlet, key in location_map.items()})

    def customer_target(self, connector):
        from omnisync_pipelines.connectors.lightspeed_x.customer_target import LightspeedXCustomers

        return LightspeedXCustomers(connector.client)

    def fulfilment(self, connector):
        from omnisync_pipelines.connectors.lightspeed_x.fulfilment import LightspeedXFulfilment

        return LightspeedXFulfilment(connector)

    def bench_support(self):
        from omnisync_pipelines.connectors.lightspeed_x.bench_support import SUPPORT

        return SUPPORT

    def live_stock(self, connector):
        from omnisync_pipelines.connectors.lightspeed_x.live import LightspeedXLiveStock

        return LightspeedXLiveStock(connector)


PLUGIN = LightspeedXPlugin()
