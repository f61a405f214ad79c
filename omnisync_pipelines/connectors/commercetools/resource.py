"""Dagster resource: holds the commercetools configuration (secrets via EnvVar) and builds the client."""

from __future__ import annotations

import dagster as dg
import httpx
from pydantic import Field, SecretStr

from omnisync_pipelines.connectors.commercetools.client import CommercetoolsClient, build_client
from omnisync_pipelines.connectors.commercetools.settings import CommercetoolsSettings
from omnisync_pipelines.rest.session import CallLog


class CommercetoolsResource(dg.ConfigurableResource):
    """An API client of one commercetools project; `client_id`/`client_secret` come from EnvVar."""

    api_url: str = Field(description="API host, e.g. https://api.europe-west1.gcp.commercetools.com")
    auth_url: str = Field(description="Auth host, e.g. https://auth.europe-west1.gcp.commercetools.com")
    project_key: str
    client_id: str
    client_secret: str
    scopes: str | None = Field(default=None, description="Space-separated scopes; none = all of the client's")

    def settings(self) -> CommercetoolsSettings:
        return CommercetoolsSettings(
            api_url=self.api_url,
            auth_url=self.auth_url,
            project_key=self.project_key,
            client_id=self.client_id,
            client_secret=SecretStr(self.client_secret),
            scopes=self.scopes,
        )

    def build_client(
        self, call_log: CallLog | None = None, transport: httpx.AsyncBaseTransport | None = None
    ) -> CommercetoolsClient:
        return build_client(self.settings(), transport=transport, call_log=call_log)
