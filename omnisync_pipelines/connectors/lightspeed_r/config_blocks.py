"""R-Series' blocks of the configuration file: `systems.lightspeed_r` and `locations[].lightspeed_r`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LightspeedRLocation(_Strict):
    shop_id: str  # the R-Series Shop (shopID)
    currency: str | None = None  # the shop's currency; default the system block's


class LightspeedRSystem(_Strict):
    base_url: str | None = None  # default https://api.lightspeedapp.com
    # default https://cloud.lightspeedapp.com/auth/oauth/token; {base_url}/auth/oauth/token when base_url is set
    token_url: str | None = None
    account_id: str
    currency: str = "USD"  # the account's; R-Series keeps no currency per shop (a location block may name its own)
    registers: int = Field(default=1, ge=1)  # the subscription's register limit: sizes the rate limit
    # payment type name (case-insensitive) or `type:<paymentTypeID>` -> canonical payment method;
    # unmapped names fall back to keywords of the name and type, else the sale is rejected
    tender_map: dict[str, Literal["cash", "card", "gift_card", "store_credit", "other"]] = {}
    # the payment type (name or `type:<paymentTypeID>`) that records an online order's prepayment on
    # the store sale of a pickup or ship-from-store order; unset: the type the tender map reads as card
    online_payment_type: str | None = None
    token_file: str | None = None  # default OMNISYNC_LSR_TOKEN_FILE, else data/lightspeed_r.tokens
    timeout_s: float = 30.0
