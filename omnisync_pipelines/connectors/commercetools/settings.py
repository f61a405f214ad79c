"""commercetools connection settings: non-secret defaults here, the client secret from EnvVar."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr

SYSTEM = "commercetools"
INVENTORY_TYPE_KEY = "omnisync-inventory"
ORDER_TYPE_KEY = "omnisync-order"
LAST_MOVEMENT_FIELD = "omnisyncLastMovement"


class CommercetoolsSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    api_url: str  # e.g. https://api.europe-west1.gcp.commercetools.com
    auth_url: str  # e.g. https://auth.europe-west1.gcp.commercetools.com
    project_key: str
    client_id: str
    client_secret: SecretStr
    scopes: str | None = None  # space-separated; None = every scope of the API client
    page_size: int = 500
    concurrency: int = 16
    max_conflict_retries: int = 5
    graphql_writes: bool = True  # stock writes batched through POST /{projectKey}/graphql
    graphql_batch_size: int = 100  # writes (aliased mutations) per GraphQL document
    delta_overlap_s: int = 120
    timeout_s: float = 30.0
    locale: str = "en"

    @property
    def token_url(self) -> str:
        return f"{self.auth_url.rstrip('/')}/oauth/token"

    @property
    def project_url(self) -> str:
        return f"{self.api_url.rstrip('/')}/{self.project_key}"
