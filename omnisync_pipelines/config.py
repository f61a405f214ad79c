"""The one configuration file (omnisync.yaml), validated at load with messages that name the bad key.

Secrets never live here: credentials come from the environment (see `defs/resources.py`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

POS_SYSTEMS = ("lightspeed_x", "lightspeed_r", "newstore", "magento")
NegativeStockPolicy = Literal["allow_negative_and_report", "clamp_to_zero_and_report", "hold_for_review"]
DEFAULT_CONFIG_PATH = "omnisync.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommercetoolsLocation(_Strict):
    supply_channel_key: str
    store_key: str | None = None


class LightspeedXLocation(_Strict):
    outlet_id: str


class LocationMapping(_Strict):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")  # tax country of the store
    commercetools: CommercetoolsLocation
    lightspeed_x: LightspeedXLocation | None = None


class CommercetoolsSystem(_Strict):
    api_url: str
    auth_url: str
    project_key: str
    scopes: str | None = None
    # stock writes and customer updates as aliased GraphQL mutations, this many per request; false: REST only
    graphql_writes: bool = True
    graphql_batch_size: int = Field(default=100, ge=1, le=500)


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


class Systems(_Strict):
    commercetools: CommercetoolsSystem
    lightspeed_x: LightspeedXSystem | None = None


class StockOptions(_Strict):
    negative_stock_policy: NegativeStockPolicy = "allow_negative_and_report"


class ReturnOptions(_Strict):
    # POS reason -> commercetools return comment/reason code; an unmapped reason is rejected, never guessed
    reason_codes: dict[str, str] = {}
    # "stock_flow": the POS count carries the restock (X-Series restocks at the register); "return": the
    # return flow adds the units itself (for a POS whose returns do not move its count)
    restock_via: Literal["stock_flow", "return"] = "stock_flow"


class OrderOptions(_Strict):
    payment_methods: dict[str, str] = {}  # canonical tender -> commercetools payment method name


class FulfilmentOptions(_Strict):
    # click-and-collect / ship-from-store: store key -> stores tried, in order, when the live POS check fails
    fallback_stores: dict[str, list[str]] = {}
    default_fallback: list[str] = []  # tried after a store's own list; an order none can serve is an exception row


class AvailabilityOptions(_Strict):
    # aggregate commercetools supply channel key -> the locations whose sellable stock counts toward it
    channels: dict[str, list[str]] = {}
    safety_stock: int = Field(default=0, ge=0)  # units held back per SKU x location
    safety_stock_by_location: dict[str, int] = {}  # overrides the default for a location
    safety_stock_by_sku: dict[str, int] = {}  # overrides location and default for a SKU


class CatalogOptions(_Strict):
    # commercetools tax category key -> the POS's tax id; a category missing here is rejected (field tax_category)
    tax_classes: dict[str, str] = {}
    # commercetools customer group id -> the POS customer group its price book is for; other groups' prices stay online
    customer_groups: dict[str, str] = {}
    # attributes that define a variant at the POS (None: every attribute except barcode/GTIN ones)
    variant_attributes: list[str] | None = None


class CustomerOptions(_Strict):
    # field -> owner ("commercetools" or "pos"); a field is only written in its owner's direction
    ownership: dict[Literal["email", "first_name", "last_name", "phone", "loyalty_id", "consent_marketing"],
                    Literal["commercetools", "pos"]] = {
        "email": "commercetools", "first_name": "commercetools", "last_name": "commercetools",
        "phone": "commercetools", "loyalty_id": "pos", "consent_marketing": "pos",
    }
    private_fields: list[str] = ["phone", "date_of_birth"]  # never copied, whoever owns them
    create_missing: dict[Literal["pos_to_commercetools", "commercetools_to_pos"], bool] = {
        "pos_to_commercetools": True, "commercetools_to_pos": False,
    }


class ReconciliationOptions(_Strict):
    drift_units_threshold: int = Field(default=0, ge=0)  # |difference| must exceed this many units
    velocity_days: float | None = Field(default=None, gt=0)  # ... and this many days of the SKU's sales there
    value_minor: int | None = Field(default=None, ge=0)  # ... and this value (difference x unit price)
    max_share_of_estate: float = Field(default=0.05, ge=0, le=1)  # the drift check fails above this share
    top_n: int = Field(default=20, ge=1)
    # per location: report_only (default) or correct_to_pos (commercetools set to the POS count, idempotently)
    correction: dict[str, Literal["report_only", "correct_to_pos"]] = {}


class OmnisyncConfig(_Strict):
    pos: Literal["lightspeed_x", "lightspeed_r", "newstore", "magento"]
    systems: Systems
    locations: list[LocationMapping] = Field(min_length=1)
    stock: StockOptions = StockOptions()
    orders: OrderOptions = OrderOptions()
    returns: ReturnOptions = ReturnOptions()
    catalog: CatalogOptions = CatalogOptions()
    customers: CustomerOptions = CustomerOptions()
    reconciliation: ReconciliationOptions = ReconciliationOptions()
    fulfilment: FulfilmentOptions = FulfilmentOptions()
    availability: AvailabilityOptions = AvailabilityOptions()

    @model_validator(mode="after")
    def _locations_consistent(self) -> OmnisyncConfig:
        seen: dict[str, str] = {}
        for index, location in enumerate(self.locations):
            if location.key in seen:
                raise ValueError(f"locations[{index}].key: duplicate location key {location.key!r}")
            seen[location.key] = location.key
            if getattr(location, self.pos, None) is None:
                raise ValueError(f"locations[{index}].{self.pos}: location {location.key!r} has no mapping for the configured pos")
        known = set(seen)
        for store, fallbacks in {**self.fulfilment.fallback_stores, "*": self.fulfilment.default_fallback}.items():
            for name in ([store] if store != "*" else []) + list(fallbacks):
                if name not in known:
                    raise ValueError(f"fulfilment.fallback_stores: unknown location {name!r}")
        own_channels = {loc.commercetools.supply_channel_key: loc.key for loc in self.locations}
        for channel, members in self.availability.channels.items():
            if unknown := sorted(set(members) - known):
                raise ValueError(f"availability.channels.{channel}: unknown locations {unknown}")
            if channel in own_channels:  # sellable totals written there would overwrite the store's own count
                raise ValueError(f"availability.channels.{channel}: is the supply channel of location "
                                 f"{own_channels[channel]!r}; an aggregate channel needs a channel of its own")
        if getattr(self.systems, self.pos, None) is None:
            raise ValueError(f"systems.{self.pos}: the configured pos has no system settings")
        return self

    def ct_channel_map(self) -> dict[str, str]:
        """commercetools supply channel key -> location key."""
        return {loc.commercetools.supply_channel_key: loc.key for loc in self.locations}

    def pos_location_map(self) -> dict[str, str]:
        """POS location id (outlet id, shop id, ...) -> location key."""
        if self.pos == "lightspeed_x":
            return {loc.lightspeed_x.outlet_id: loc.key for loc in self.locations if loc.lightspeed_x}
        raise NotImplementedError(f"pos {self.pos!r} has no connector yet")


class ConfigError(Exception):
    """A configuration problem, said in terms of the file and key to fix."""


def load_config(path: str | os.PathLike | None = None) -> OmnisyncConfig:
    path = Path(path or os.environ.get("OMNISYNC_CONFIG", DEFAULT_CONFIG_PATH))
    if not path.exists():
        raise ConfigError(f"{path}: configuration file not found (set OMNISYNC_CONFIG or run `omnisync demo`)")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_config(raw, source=str(path))


def parse_config(raw: dict, source: str = "config") -> OmnisyncConfig:
    try:
        return OmnisyncConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "(top level)"
            problems.append(f"{source}: {where}: {error['msg']}")
        raise ConfigError("\n".join(problems)) from None
