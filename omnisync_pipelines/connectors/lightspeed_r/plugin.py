"""Lightspeed Retail R-Series through the POS contract (`connectors/pos.py`). No webhooks: delta runs poll."""

from __future__ import annotations

import os
from collections.abc import Mapping

from omnisync_pipelines.connectors.lightspeed_r.config_blocks import LightspeedRLocation, LightspeedRSystem
from omnisync_pipelines.connectors.lightspeed_r.settings import SYSTEM
from omnisync_pipelines.connectors.pos import Capabilities, PosPlugin


class LightspeedRPlugin(PosPlugin):
    system = SYSTEM
    title = "Lightspeed Retail R-Series"
    capabilities = Capabilities(stock_writes="absolute", events="polling", native_fulfilment_routing=False,
                                returns_restock_at_register=True, fast_lane=False)
    settings_model = LightspeedRSystem
    location_model = LightspeedRLocation
    location_id_field = "shop_id"
    webhooks = None

    def credentials_resource(self, env: Mapping[str, str] = os.environ):
        from omnisync_pipelines.connectors.lightspeed_r.credentials import credentials_resource

        return credentials_resource(env)

    def secrets_from_env(self, env: Mapping[str, str] = os.environ) -> dict:
        from omnisync_pipelines.connectors.lightspeed_r.credentials import secrets_from_env

        return secrets_from_env(env)

    def build_connector(self, settings: LightspeedRSystem, location_map, secrets, *, call_log=None, transport=None,
                        location_blocks=None, former_locations=None):
        from omnisync_pipelines.connectors.lightspeed_r.client import build_client
        from omnisync_pipelines.connectors.lightspeed_r.connector import LightspeedRConnector
        from omnisync_pipelines.connectors.lightspeed_r.settings import LightspeedRSettings

        secrets = {k: v for k, v in secrets.items() if v is not None}
        secrets.setdefault("token_file", settings.token_file)
        connection = LightspeedRSettings(account_id=settings.account_id, base_url=settings.base_url,
                                         token_url=settings.token_url, registers=settings.registers,
                                         timeout_s=settings.timeout_s, **secrets)
        client = build_client(connection, transport=transport, call_log=call_log)
        blocks = location_blocks or {}
        currencies = {shop: getattr(blocks.get(shop), "currency", None) or settings.currency for shop in location_map}
        return LightspeedRConnector(client, location_map, currency_of_location=currencies,
                                    default_currency=settings.currency, tender_map=dict(settings.tender_map) or None,
                                    online_payment_type=settings.online_payment_type, registers=settings.registers,
                                    counted_elsewhere=set(former_locations or ()))

    def catalog_target(self, connector, location_map):
        from omnisync_pipelines.connectors.lightspeed_r.catalog_target import LightspeedRCatalog

        return LightspeedRCatalog(connector.client, {key: shop for shop, key in location_map.items()})

    def customer_target(self, connector):
        from omnisync_pipelines.connectors.lightspeed_r.customer_target import LightspeedRCustomers

        return LightspeedRCustomers(connector.client)

    def fulfilment(self, connector):
        from omnisync_pipelines.connectors.lightspeed_r.fulfilment import LightspeedRFulfilment

        return LightspeedRFulfilment(connector)

    def live_stock(self, connector):
        from omnisync_pipelines.connectors.lightspeed_r.live import LightspeedRLiveStock

        return LightspeedRLiveStock(connector)

    def stock_writer(self, connector):
        from omnisync_pipelines.connectors.lightspeed_r.stock_writer import LightspeedRStockWriter

        return LightspeedRStockWriter(connector)

    def request_estimate(self, connector, records, writes=None):
        return connector.plan(dict(records), dict(writes or {})).describe()

    def bench_support(self):
        from omnisync_pipelines.connectors.lightspeed_r.bench_support import SUPPORT

        return SUPPORT


PLUGIN = LightspeedRPlugin()
