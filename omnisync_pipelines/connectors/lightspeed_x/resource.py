"""A standalone Dagster resource for X-Series: holds configuration only and builds the client.

The definitions do not use it: they read the base URL and the register count from the configuration
file and the secrets through `credentials.LightspeedXCredentials` (personal token or OAuth, from
`OMNISYNC_LSX_*` via `dg.EnvVar`), and build the connector through `plugin.py`. This one
is for jobs or notebooks that want a bare client without a configuration file; pass its secrets as
`dg.EnvVar(...)` too. Non-secret defaults live in `settings.py`.
"""

from __future__ import annotations

import dagster as dg

from omnisync_pipelines.connectors.lightspeed_x.client import LightspeedXClient, build_client
from omnisync_pipelines.connectors.lightspeed_x.settings import LightspeedXSettings


class LightspeedXResource(dg.ConfigurableResource):
    domain_prefix: str
    base_url: str | None = None
    personal_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    token_file: str | None = None  # where the rotating OAuth refresh token is kept between runs
    registers: int = 1
    page_size: int = 1000
    sales_page_size: int = 500
    concurrency: int = 4

    def settings(self) -> LightspeedXSettings:
        return LightspeedXSettings(
            domain_prefix=self.domain_prefix, base_url=self.base_url, personal_token=self.personal_token,
            client_id=self.client_id, client_secret=self.client_secret, refresh_token=self.refresh_token,
            token_file=self.token_file, registers=self.registers, page_size=self.page_size,
            sales_page_size=self.sales_page_size, concurrency=self.concurrency,
        )

    def build_client(self, call_log=None, transport=None) -> LightspeedXClient:
        return build_client(self.settings(), transport=transport, call_log=call_log)
