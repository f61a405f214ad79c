"""X-Series' blocks of the configuration file: `systems.lightspeed_x` and `locations[].lightspeed_x`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LightspeedXLocation(_Strict):
    outlet_id: str


class LightspeedXSystem(_Strict):
    base_url: str
    domain_prefix: str
    registers: int = Field(default=1, ge=1)
    # payment type name (case-insensitive) or `type:<payment_type_id>` -> canonical payment method
    # (cash, card, gift_card, store_credit, other); unmapped names fall back to keywords, else rejected
    tender_map: dict[str, Literal["cash", "card", "gift_card", "store_credit", "other"]] = {}
    # the payment type (name or `type:<payment_type_id>`) that records an online order's prepayment on
    # the register sale of a pickup or ship-from-store order; unset: the type the tender map reads as card
    online_payment_type: str | None = None
