"""Lightspeed X-Series connection settings: non-secret defaults here, the token from EnvVar."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr

SYSTEM = "lightspeed_x"
WINDOW_S = 300.0


class LightspeedXSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    domain_prefix: str
    base_url: str | None = None  # default https://{domain_prefix}.retail.lightspeed.app
    personal_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    registers: int = 1  # the rate budget is 300 x registers + 50 requests per 5 minutes
    page_size: int = 1000
    sales_page_size: int = 500
    concurrency: int = 4
    timeout_s: float = 30.0

    @property
    def api_base(self) -> str:
        return (self.base_url or f"https://{self.domain_prefix}.retail.lightspeed.app").rstrip("/")

    @property
    def budget(self) -> int:
        return 300 * max(1, self.registers) + 50
