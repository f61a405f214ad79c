"""The one configuration file (omnisync.yaml), validated at load with messages that name the bad key.

Secrets never live here: credentials come from the environment (see `defs/resources.py`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from omnisync_pipelines import systems

NegativeStockPolicy = Literal["allow_negative_and_report", "clamp_to_zero_and_report", "hold_for_review"]
DEFAULT_CONFIG_PATH = "omnisync.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommercetoolsLocation(_Strict):
    supply_channel_key: str
    store_key: str | None = None


class LocationMapping(_Strict):
    """A store. Besides these fields it has one optional block per registered POS (`<pos id>:`, the
    POS's own id of the store), added by `config_model()`; `pos` names the POS it trades on now
    (default: the only POS block it has, else the top-level `pos`)."""

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")  # tax country of the store
    commercetools: CommercetoolsLocation
    pos: str | None = None

    def pos_blocks(self) -> dict[str, BaseModel]:
        return {pos: block for pos in systems.pos_ids() if (block := getattr(self, pos, None)) is not None}


class CommercetoolsSystem(_Strict):
    api_url: str
    auth_url: str
    project_key: str
    scopes: str | None = None
    # stock writes and customer updates as aliased GraphQL mutations, this many per request; false: REST only
    graphql_writes: bool = True
    graphql_batch_size: int = Field(default=100, ge=1, le=500)


class Systems(_Strict):
    """commercetools, and one optional settings block per registered POS (added by `config_model()`)."""

    commercetools: CommercetoolsSystem


class StockOptions(_Strict):
    negative_stock_policy: NegativeStockPolicy = "allow_negative_and_report"


class ReturnOptions(_Strict):
    # POS reason -> commercetools return comment/reason code; an unmapped reason is rejected, never guessed
    reason_codes: dict[str, str] = {}
    # "stock_flow": the POS count carries the restock (a POS that restocks at the register); "return": the
    # return flow adds the units itself (a POS whose returns do not move its count). Unset: what the POS
    # does (`Capabilities.returns_restock_at_register`)
    restock_via: Literal["stock_flow", "return"] | None = None


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
    # ... and this value (|difference| x unit price), in minor units of each store's own currency (no FX:
    # 5000 is 50.00 EUR at a euro store, 50.00 GBP at a pound store)
    value_minor: int | None = Field(default=None, ge=0)
    max_share_of_estate: float = Field(default=0.05, ge=0, le=1)  # the drift check fails above this share
    top_n: int = Field(default=20, ge=1)
    # per location: report_only (default); correct_to_pos (commercetools moved back to the POS count);
    # send_to_pos (what changed in commercetools alone, e.g. goods booked in there, is added to the POS count)
    correction: dict[str, Literal["report_only", "correct_to_pos", "send_to_pos"]] = {}


class OmnisyncConfig(_Strict):
    """The whole file. `config_model()` is the class that validates it, with the blocks of every
    registered POS; a parsed configuration is an instance of both."""

    pos: str | None = None  # the POS of locations that name none (a single-POS file names it here)
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
        registered = systems.pos_ids()
        if self.pos is not None and self.pos not in registered:
            raise ValueError(f"pos: unknown POS {self.pos!r}; registered: {', '.join(registered)}")
        seen: dict[str, str] = {}
        for index, location in enumerate(self.locations):
            if location.key in seen:
                raise ValueError(f"locations[{index}].key: duplicate location key {location.key!r}")
            pos = _resolve_pos(index, location, self.pos)
            seen[location.key] = pos
            if getattr(self.systems, pos, None) is None:
                raise ValueError(f"systems.{pos}: location {location.key!r} trades on {pos}, which has no system settings")
        known = set(seen)
        for store, fallbacks in {**self.fulfilment.fallback_stores, "*": self.fulfilment.default_fallback}.items():
            for name in ([store] if store != "*" else []) + list(fallbacks):
                if name not in known:
                    raise ValueError(f"fulfilment.fallback_stores: unknown location {name!r}")
            if store != "*" and (other := [f for f in fallbacks if seen[f] != seen[store]]):
                raise ValueError(f"fulfilment.fallback_stores.{store}: {', '.join(other)} trade on another POS than "
                                 f"{store} ({seen[store]}); a store falls back only to stores of its own POS")
        for store, policy in self.reconciliation.correction.items():
            if store not in known:
                raise ValueError(f"reconciliation.correction: unknown location {store!r}")
            if policy == "send_to_pos" and not systems.pos_plugin(seen[store]).writes_stock():
                raise ValueError(f"reconciliation.correction.{store}: send_to_pos needs a POS that takes stock writes; "
                                 f"{seen[store]} does not (use report_only or correct_to_pos)")
        own_channels = {loc.commercetools.supply_channel_key: loc.key for loc in self.locations}
        for channel, members in self.availability.channels.items():
            if unknown := sorted(set(members) - known):
                raise ValueError(f"availability.channels.{channel}: unknown locations {unknown}")
            if channel in own_channels:  # sellable totals written there would overwrite the store's own count
                raise ValueError(f"availability.channels.{channel}: is the supply channel of location "
                                 f"{own_channels[channel]!r}; an aggregate channel needs a channel of its own")
        return self

    @property
    def pos_systems(self) -> tuple[str, ...]:
        """The POS the locations trade on, in registry order."""
        used = {self.pos_of(loc) for loc in self.locations}
        return tuple(pos for pos in systems.pos_ids() if pos in used)

    def pos_of(self, location: LocationMapping | str) -> str:
        if isinstance(location, str):
            location = next(loc for loc in self.locations if loc.key == location)
        return _resolve_pos(None, location, self.pos)

    def locations_of(self, pos: str) -> list[LocationMapping]:
        return [loc for loc in self.locations if self.pos_of(loc) == pos]

    def location_keys_of(self, pos: str) -> list[str]:
        return [loc.key for loc in self.locations_of(pos)]

    def ct_channel_map(self) -> dict[str, str]:
        """commercetools supply channel key -> location key."""
        return {loc.commercetools.supply_channel_key: loc.key for loc in self.locations}

    def pos_location_map(self, pos: str) -> dict[str, str]:
        """`pos`'s own location id (outlet id, shop id, ...) -> location key, for the stores trading on it."""
        field = systems.pos_plugin(pos).location_id_field
        return {getattr(getattr(loc, pos), field): loc.key for loc in self.locations_of(pos)}

    def pos_location_blocks(self, pos: str) -> dict[str, BaseModel]:
        """`pos`'s own location id -> that location's `locations[].<pos>` block, for the stores trading on it."""
        field = systems.pos_plugin(pos).location_id_field
        return {getattr(getattr(loc, pos), field): getattr(loc, pos) for loc in self.locations_of(pos)}

    def pos_former_locations(self, pos: str) -> dict[str, str]:
        """`pos`'s own location id -> location key, for stores with a `locations[].<pos>` block that
        trade on another POS (a store that moved, or one whose new tills are installed before it moves)."""
        field = systems.pos_plugin(pos).location_id_field
        return {getattr(block, field): loc.key for loc in self.locations
                if (block := getattr(loc, pos, None)) is not None and self.pos_of(loc) != pos}

    def restock_via(self, pos: str) -> str:
        """How a return at `pos`'s till reaches the commercetools count (see `ReturnOptions.restock_via`)."""
        if self.returns.restock_via is not None:
            return self.returns.restock_via
        return "stock_flow" if systems.pos_plugin(pos).capabilities.returns_restock_at_register else "return"

    def pos_settings(self, pos: str) -> BaseModel:
        settings = getattr(self.systems, pos, None)
        if settings is None:
            raise ConfigError(f"systems.{pos}: not configured")
        return settings


def _resolve_pos(index: int | None, location: LocationMapping, default: str | None) -> str:
    where = f"locations[{index}]" if index is not None else f"location {location.key!r}"
    blocks = location.pos_blocks()
    pos = location.pos or (next(iter(blocks)) if len(blocks) == 1 else default)
    if pos is None:
        raise ValueError(f"{where}.pos: location {location.key!r} names no POS (set `pos` on it or at the top level)")
    if pos not in systems.pos_ids():
        raise ValueError(f"{where}.pos: unknown POS {pos!r}; registered: {', '.join(systems.pos_ids())}")
    if pos not in blocks:
        raise ValueError(f"{where}.{pos}: location {location.key!r} has no mapping for its pos {pos}")
    return pos


_models: dict[int, type[OmnisyncConfig]] = {}


def config_model() -> type[OmnisyncConfig]:
    """The configuration class with a block per registered POS (rebuilt when the registry changes)."""
    generation = systems.generation()
    if generation not in _models:
        plugins = {pos: systems.pos_plugin(pos) for pos in systems.pos_ids()}
        system_blocks = create_model("Systems", __base__=Systems, **{
            pos: (plugin.settings_model | None, None) for pos, plugin in plugins.items()})
        location = create_model("LocationMapping", __base__=LocationMapping, **{
            pos: (plugin.location_model | None, None) for pos, plugin in plugins.items()})
        _models.clear()
        _models[generation] = create_model("OmnisyncConfig", __base__=OmnisyncConfig, systems=(system_blocks, ...),
                                           locations=(list[location], Field(min_length=1)))
    return _models[generation]


class ConfigError(Exception):
    """A configuration problem, said in terms of the file and key to fix."""


def load_config(path: str | os.PathLike | None = None) -> OmnisyncConfig:
    path = Path(path or os.environ.get("OMNISYNC_CONFIG", DEFAULT_CONFIG_PATH))
    if not path.exists():
        raise ConfigError(f"{path}: configuration file not found (set OMNISYNC_CONFIG or run `omnisync demo`)")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    return parse_config(raw, source=str(path))


def parse_config(raw: dict, source: str = "config") -> OmnisyncConfig:
    try:
        return config_model().model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "(top level)"
            problems.append(f"{source}: {where}: {error['msg']}")
        raise ConfigError("\n".join(problems)) from None
