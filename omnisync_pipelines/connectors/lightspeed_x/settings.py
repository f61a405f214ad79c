"""Lightspeed X-Series connection settings: non-secret defaults here, secrets filled from EnvVar."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

SYSTEM = "lightspeed_x"
WINDOW_S = 300.0  # the request budget's window


class LightspeedXSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    domain_prefix: str
    base_url: str | None = None  # default https://{domain_prefix}.retail.lightspeed.app
    personal_token: SecretStr | None = None
    client_id: str | None = None  # OAuth app, used with client_secret and a (rotating) refresh_token
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None  # the first one; the rotated ones live in `token_file`
    token_file: str | None = None  # where OAuth tokens are kept between runs (see rest/token_file.py)
    registers: int = Field(1, ge=1)  # the budget is 300 x registers + 50 requests per 5 minutes
    page_size: int = Field(1000, ge=1, le=10000)
    sales_page_size: int = Field(500, ge=1, le=500)
    concurrency: int = Field(4, ge=1)
    timeout_s: float = 30.0

    @property
    def api_base(self) -> str:
        return (self.base_url or f"https://{self.domain_prefix}.retail.lightspeed.app").rstrip("/")

    @property
    def budget(self) -> int:
        return 300 * self.registers + 50
