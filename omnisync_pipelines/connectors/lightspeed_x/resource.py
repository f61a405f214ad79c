"""Dagster resource for X-Series: holds configuration only and builds the client."""

from __future__ import annotations

import dagster as dg

from omnisync_pipelines.connectors.lightspeed_x.client import LightspeedXClient, build_client
from omnisync_pipelines.connectors.lightspeed_x.settings import LightspeedXSettings


class LightspeedXResource(dg.ConfigurableResource):
    domain_prefix: str
    base_url: str | None = None
    personal_token: str
    registers: int = 1

    def build_client(self, call_log=None, transport=None) -> LightspeedXClient:
        settings = LightspeedXSettings(domain_prefix=self.domain_prefix, base_url=self.base_url,
                                       personal_token=self.personal_token, registers=self.registers)
        return build_client(settings, transport=transport, call_log=call_log)
