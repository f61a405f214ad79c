"""Lightspeed R-Series connection settings: non-secret defaults here, secrets filled from EnvVar.

The rate limit allowance of a connection grows with the account's register limit
(introduction/rate-limiting.md): a bucket of 90 units (+10 per register beyond the first) draining
1 unit a second (+0.5 per register beyond the first).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

SYSTEM = "lightspeed_r"
API_HOST = "https://api.lightspeedapp.com"
TOKEN_URL = "https://cloud.lightspeedapp.com/auth/oauth/token"
PAGE_LIMIT = 100  # the largest `limit` a V3 query takes


class LightspeedRSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    account_id: str
    base_url: str | None = None  # default https://api.lightspeedapp.com
    token_url: str | None = None  # default the cloud host's token endpoint, or {base_url}/auth/oauth/token
    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr | None = None  # the first one; the rotated ones live in `token_file`
    token_file: str | None = None  # where OAuth tokens are kept between runs (rest/token_file.py)
    registers: int = Field(1, ge=1)  # the subscription's register limit: sizes the bucket and the drip
    concurrency: int = Field(4, ge=1)
    timeout_s: float = 30.0

    @property
    def api_base(self) -> str:
        return (self.base_url or API_HOST).rstrip("/")

    @property
    def token_endpoint(self) -> str:
        if self.token_url:
            return self.token_url
        return TOKEN_URL if self.base_url is None else f"{self.api_base}/auth/oauth/token"

    @property
    def bucket_size(self) -> float:
        return bucket_size(self.registers)

    @property
    def drip_per_s(self) -> float:
        return drip_per_s(self.registers)


def bucket_size(registers: int) -> float:
    return 90.0 + 10.0 * max(0, registers - 1)


def drip_per_s(registers: int) -> float:
    return 1.0 + 0.5 * max(0, registers - 1)


def burst_per_s(registers: int) -> int:
    """The burst limiter's requests per 1-s window: "a fraction of the bucket size" (the docs' sample
    shows 20 for a bucket of 90, the fraction used here)."""
    return max(1, int(bucket_size(registers) * 20 // 90))
