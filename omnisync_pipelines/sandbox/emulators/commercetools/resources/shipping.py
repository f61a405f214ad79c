"""Tax categories, zones and shipping methods, and the `shippingInfo` of an imported order."""

from __future__ import annotations

from ..errors import duplicate, invalid_json, required
from ..fields import money, reference, setter
from ..store import Ctx
from .base import ResourceKind
from .taxes import item_taxes

# Before their own scopes existed (March 2020), tax categories and shipping methods came with the order scopes.
_ORDERS_COMPAT = ("view_orders", "manage_orders")


# -- tax categories ---------------------------------------------------------------------------
def _tax_rate(ctx: Ctx, draft: dict, field: str) -> dict:
    amount = required(draft, "amount")
    if not isinstance(amount, int | float) or isinstance(amount, bool) or not 0 <= amount <= 1:
        raise invalid_json(f"{field}.amount: a number between 0 and 1 is required")
    rate = {"id": ctx.store.short_id(), "name": required(draft, "name"), "amount": amount,
            "includedInPrice": required(draft, "includedInPrice"), "country": required(draft, "country")}
    for name in ("key", "state", "subRates"):
        if draft.get(name) is not None:
            rate[name] = draft[name]
    return rate


def _create_tax_category(ctx: Ctx, draft: dict) -> dict:
    rates = [_tax_rate(ctx, r, f"rates[{i}]") for i, r in enumerate(draft.get("rates") or [])]
    return {"key": draft.get("key"), "name": required(draft, "name"), "description": draft.get("description"),
            "rates": rates}


def _add_tax_rate(ctx: Ctx, category: dict, action: dict) -> None:
    category["rates"] = category["rates"] + [_tax_rate(ctx, required(action, "taxRate"), "taxRate")]


TAX_CATEGORIES = ResourceKind(
    path="tax-categories", type_id="tax-category",
    view_scopes=("view_tax_categories", "manage_tax_categories", *_ORDERS_COMPAT),
    manage_scopes=("manage_tax_categories", "manage_orders"),
    create=_create_tax_category,
    actions={"changeName": setter("name"), "setKey": setter("key"), "addTaxRate": _add_tax_rate},
)


# -- zones --------------------------------------------------------------------------------------
def _create_zone(ctx: Ctx, draft: dict) -> dict:
    locations = draft.get("locations") or []
    for i, location in enumerate(locations):
        if not isinstance(location, dict) or not location.get("country"):
            raise invalid_json(f"locations[{i}].country: Missing required value")
    return {"key": draft.get("key"), "name": required(draft, "name"), "description": draft.get("description"),
            "locations": locations}


ZONES = ResourceKind(
    path="zones", type_id="zone",
    view_scopes=("view_project_settings", "manage_project_settings", *_ORDERS_COMPAT),
    manage_scopes=("manage_project_settings", "manage_orders"),
    create=_create_zone,
    actions={"changeName": setter("name"), "setKey": setter("key")},
)


# -- shipping methods ---------------------------------------------------------------------------
def _zone_rate(ctx: Ctx, draft: dict, field: str) -> dict:
    rates = []
    for i, rate in enumerate(draft.get("shippingRates") or []):
        shipping_rate = {"price": money(required(rate, "price"), f"{field}.shippingRates[{i}].price"),
                         "tiers": rate.get("tiers") or []}
        if rate.get("freeAbove") is not None:
            shipping_rate["freeAbove"] = money(rate["freeAbove"], f"{field}.shippingRates[{i}].freeAbove")
        rates.append(shipping_rate)
    return {"zone": reference(ctx, required(draft, "zone"), "zone", f"{field}.zone"), "shippingRates": rates}


def _create_shipping_method(ctx: Ctx, draft: dict) -> dict:
    method = {
        "key": draft.get("key"),
        "name": required(draft, "name"),
        "localizedName": draft.get("localizedName"),
        "localizedDescription": draft.get("localizedDescription"),
        "taxCategory": reference(ctx, required(draft, "taxCategory"), "tax-category", "taxCategory"),
        "zoneRates": [_zone_rate(ctx, z, f"zoneRates[{i}]") for i, z in enumerate(draft.get("zoneRates") or [])],
        "active": draft.get("active", True),
        "isDefault": required(draft, "isDefault"),
        "predicate": draft.get("predicate"),
        "stores": draft.get("stores") or [],  # required in ShippingMethod (empty: every store)
    }
    return {name: value for name, value in method.items() if value is not None}  # absent, not null


def _unique_name(ctx: Ctx, method: dict) -> None:
    if any(m["id"] != method["id"] and m["name"] == method["name"] for m in ctx.all("shipping-method")):
        raise duplicate("name", method["name"])


SHIPPING_METHODS = ResourceKind(
    path="shipping-methods", type_id="shipping-method",
    view_scopes=("view_shipping_methods", "manage_shipping_methods", *_ORDERS_COMPAT),
    manage_scopes=("manage_shipping_methods", "manage_orders"),
    create=_create_shipping_method,
    actions={"changeName": setter("name"), "setKey": setter("key"), "changeIsDefault": setter("isDefault")},
    validate=_unique_name,
)


# -- an imported order's shippingInfo (ShippingInfoImportDraft) -------------------------------
def shipping_info(ctx: Ctx, draft: dict) -> dict:
    field = "shippingInfo"
    rate_draft = required(draft, "shippingRate")
    info = {
        "shippingMethodName": required(draft, "shippingMethodName"),
        "price": money(required(draft, "price"), f"{field}.price"),
        "shippingRate": {**rate_draft, "price": money(required(rate_draft, "price"), f"{field}.shippingRate.price"),
                         "tiers": rate_draft.get("tiers") or []},
        "shippingMethodState": draft.get("shippingMethodState", "MatchesCart"),
        "deliveries": draft.get("deliveries") or [],
    }
    for name, type_id in (("shippingMethod", "shipping-method"), ("taxCategory", "tax-category")):
        if draft.get(name) is not None:
            info[name] = reference(ctx, draft[name], type_id, f"{field}.{name}")
    charged = info["price"]
    if draft.get("discountedPrice") is not None:
        discounted = draft["discountedPrice"]
        info["discountedPrice"] = {"value": money(required(discounted, "value"), f"{field}.discountedPrice.value"),
                                   "includedDiscounts": discounted.get("includedDiscounts") or []}
        charged = info["discountedPrice"]["value"]
    item_taxes(info, draft, charged, field, line=False)
    return info
