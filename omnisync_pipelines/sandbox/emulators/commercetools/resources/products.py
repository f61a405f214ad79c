"""Products (masterData current/staged), their actions, and product projections with price selection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from ..errors import duplicate, invalid_input, invalid_operation, required
from ..fields import money, optional_reference, reference, setter
from ..indexes import IndexSpec
from ..store import Ctx, clone
from .base import ResourceKind


# -- drafts -----------------------------------------------------------------------------------
def price(ctx: Ctx, draft: dict, field: str = "price") -> dict:
    result = {"id": ctx.new_id(), "value": money(required(draft, "value"), f"{field}.value")}
    for name in ("key", "country", "validFrom", "validUntil", "tiers", "discounted"):
        if draft.get(name) is not None:
            result[name] = draft[name]
    for name, type_id in (("customerGroup", "customer-group"), ("channel", "channel")):
        if draft.get(name) is not None:
            ref = draft[name]
            # customer groups are not modelled: keep the id as given
            result[name] = (optional_reference(ctx, ref, type_id, f"{field}.{name}") if type_id == "channel"
                            else {"typeId": type_id, "id": ref.get("id")})
    return result


def _variant(ctx: Ctx, draft: dict, variant_id: int) -> dict:
    result = {"id": variant_id, "prices": [price(ctx, p, f"prices[{i}]") for i, p in enumerate(draft.get("prices") or [])],
              "images": draft.get("images") or [], "attributes": draft.get("attributes") or [], "assets": []}
    for name in ("sku", "key"):
        if draft.get(name) is not None:
            result[name] = draft[name]
    return result


def _create(ctx: Ctx, draft: dict) -> dict:
    product_type = reference(ctx, required(draft, "productType"), "product-type", "productType")
    variants = [_variant(ctx, v, i + 2) for i, v in enumerate(draft.get("variants") or [])]
    data = {"name": required(draft, "name"), "categories": draft.get("categories") or [],
            "categoryOrderHints": {}, "slug": required(draft, "slug"),
            "masterVariant": _variant(ctx, draft.get("masterVariant") or {}, 1), "variants": variants,
            "searchKeywords": draft.get("searchKeywords") or {},
            "attributes": draft.get("attributes") or []}  # product-level attributes: required in ProductData
    for name in ("description", "metaTitle", "metaDescription", "metaKeywords"):
        if draft.get(name) is not None:
            data[name] = draft[name]
    published = bool(draft.get("publish", False))
    result = {"productType": product_type,
              "masterData": {"current": data, "staged": clone(data), "published": published,
                             "hasStagedChanges": False}}
    if draft.get("key") is not None:
        result["key"] = draft["key"]
    if draft.get("taxCategory") is not None:
        result["taxCategory"] = {"typeId": "tax-category", "id": draft["taxCategory"].get("id")}
    return result


# -- actions ----------------------------------------------------------------------------------
def _targets(product: dict, action: dict) -> list[dict]:
    """The ProductData an action changes: staged only (default) or current and staged."""
    master = product["masterData"]
    return [master["staged"]] if action.get("staged", True) else [master["current"], master["staged"]]


def _all_variants(data: dict) -> list[dict]:
    return [data["masterVariant"], *data["variants"]]


def _find_variant(data: dict, action: dict) -> dict:
    for variant in _all_variants(data):
        if ("variantId" in action and variant["id"] == action["variantId"]) or (
                "sku" in action and variant.get("sku") == action["sku"]):
            return variant
    ident = action.get("variantId", action.get("sku"))
    raise invalid_input(f"A product variant with the identifier '{ident}' does not exist.")


def _data_action(apply):
    """Wrap `apply(ctx, data, action)` to run on each targeted ProductData, then refresh the flags."""

    def run(ctx: Ctx, product: dict, action: dict) -> None:
        for data in _targets(product, action):
            apply(ctx, data, action)
        _refresh_flags(product)

    return run


def _variant_action(apply):
    return _data_action(lambda ctx, data, action: apply(ctx, _find_variant(data, action), action))


def _refresh_flags(product: dict) -> None:
    master = product["masterData"]
    master["hasStagedChanges"] = master["current"] != master["staged"]


def _set_attribute(ctx: Ctx, variant: dict, action: dict) -> None:
    name = required(action, "name")
    kept = [a for a in variant["attributes"] if a["name"] != name]
    variant["attributes"] = kept if action.get("value") is None else kept + [{"name": name, "value": action["value"]}]


def _set_attribute_all(ctx: Ctx, data: dict, action: dict) -> None:
    for variant in _all_variants(data):
        _set_attribute(ctx, variant, action)


def _find_price(data: dict, price_id: str) -> tuple[dict, int]:
    for variant in _all_variants(data):
        for index, existing in enumerate(variant["prices"]):
            if existing["id"] == price_id:
                return variant, index
    raise invalid_input(f"The price with ID '{price_id}' does not exist.")


def _add_price(ctx: Ctx, variant: dict, action: dict) -> None:
    variant["prices"] = variant["prices"] + [price(ctx, required(action, "price"))]


def _change_price(ctx: Ctx, data: dict, action: dict) -> None:
    variant, index = _find_price(data, required(action, "priceId"))
    changed = price(ctx, required(action, "price"))
    changed["id"] = action["priceId"]
    variant["prices"][index] = changed


def _remove_price(ctx: Ctx, data: dict, action: dict) -> None:
    variant, index = _find_price(data, required(action, "priceId"))
    del variant["prices"][index]


def _set_prices(ctx: Ctx, variant: dict, action: dict) -> None:
    variant["prices"] = [price(ctx, p, f"prices[{i}]") for i, p in enumerate(action.get("prices") or [])]


def _add_variant(ctx: Ctx, product: dict, action: dict) -> None:
    master = product["masterData"]
    next_id = 1 + max(v["id"] for data in (master["current"], master["staged"]) for v in _all_variants(data))
    variant = _variant(ctx, action, next_id)
    for data in _targets(product, action):
        data["variants"] = data["variants"] + [clone(variant)]
    _refresh_flags(product)


def _remove_variant(ctx: Ctx, data: dict, action: dict) -> None:
    ident = {"variantId": action["id"]} if "id" in action else {"sku": required(action, "sku")}
    variant = _find_variant(data, ident)
    if variant["id"] == data["masterVariant"]["id"]:
        raise invalid_operation("Cannot remove the master variant.")
    data["variants"] = [v for v in data["variants"] if v["id"] != variant["id"]]


def _set_sku(ctx: Ctx, variant: dict, action: dict) -> None:
    if action.get("sku") is None:
        variant.pop("sku", None)
    else:
        variant["sku"] = action["sku"]


def _publish(ctx: Ctx, product: dict, action: dict) -> None:
    master = product["masterData"]
    master["current"] = clone(master["staged"])
    master["published"] = True
    _refresh_flags(product)
    ctx.emit("product", product["id"], "ProductPublished", scope=action.get("scope", "All"), removedImageUrls=[],
             productProjection=projection(product, False, _no_inventory, None))


def _unpublish(ctx: Ctx, product: dict, action: dict) -> None:
    product["masterData"]["published"] = False
    ctx.emit("product", product["id"], "ProductUnpublished")


def _revert(ctx: Ctx, product: dict, action: dict) -> None:
    product["masterData"]["staged"] = clone(product["masterData"]["current"])
    _refresh_flags(product)


def _set_data_field(field: str):
    return _data_action(lambda ctx, data, action: setter(field)(ctx, data, action))


def variant_skus(product: dict) -> list:
    """The SKUs of every variant, current and staged: a SKU is unique across products in both."""
    master = product["masterData"]
    return [v.get("sku") for data in (master["current"], master["staged"]) for v in _all_variants(data)]


def _validate(ctx: Ctx, product: dict) -> None:
    master = product["masterData"]
    own = {v["sku"] for data in (master["current"], master["staged"]) for v in _all_variants(data) if v.get("sku")}
    staged_skus = [v["sku"] for v in _all_variants(master["staged"]) if v.get("sku")]
    if len(staged_skus) != len(set(staged_skus)):
        raise duplicate("sku", next(s for s in staged_skus if staged_skus.count(s) > 1))
    for other in ctx.candidates("product", *(("variants.sku", sku) for sku in own)):
        if other["id"] == product["id"]:
            continue
        clash = sorted(own.intersection(variant_skus(other)))
        if clash:
            raise duplicate("sku", clash[0])


PRODUCTS = ResourceKind(
    path="products", type_id="product",
    view_scopes=("view_products", "manage_products"), manage_scopes=("manage_products",),
    create=_create,
    actions={
        "changeName": _set_data_field("name"),
        "changeSlug": _set_data_field("slug"),
        "setDescription": _set_data_field("description"),
        "setKey": setter("key"),
        "setAttribute": _variant_action(_set_attribute),
        "setAttributeInAllVariants": _data_action(_set_attribute_all),
        "addPrice": _variant_action(_add_price),
        "changePrice": _data_action(_change_price),
        "removePrice": _data_action(_remove_price),
        "setPrices": _variant_action(_set_prices),
        "addVariant": _add_variant,
        "removeVariant": _data_action(_remove_variant),
        "setSku": _variant_action(_set_sku),
        "addExternalImage": _variant_action(
            lambda ctx, v, a: v.update(images=v["images"] + [required(a, "image")])),
        "publish": _publish,
        "unpublish": _unpublish,
        "revertStagedChanges": _revert,
    },
    validate=_validate,
    message_prefix="Product",
    created_payload=lambda product: ("productProjection", projection(product, True, _no_inventory, None)),
    indexes=(IndexSpec("variants.sku", variant_skus),),
)


# -- projections ------------------------------------------------------------------------------
def _no_inventory(sku: str) -> list[dict]:
    return []  # messages carry the projection without availability


def projection(product: dict, staged: bool, inventory_of: Callable[[str], list[dict]],
               selection: dict | None) -> dict | None:
    """`inventory_of(sku)`: the inventory entries of one SKU, in store order."""
    master = product["masterData"]
    if not staged and not master["published"]:
        return None
    data = clone(master["staged"] if staged else master["current"])
    for variant in _all_variants(data):
        _fill_availability(variant, inventory_of)
        if selection is not None:
            chosen = select_price(variant["prices"], selection)
            if chosen is not None:
                variant["price"] = chosen
    head = {k: product[k] for k in ("id", "version", "key", "productType", "taxCategory", "createdAt",
                                    "lastModifiedAt") if k in product}
    return {**head, **data, "hasStagedChanges": master["hasStagedChanges"], "published": master["published"]}


def _fill_availability(variant: dict, inventory_of: Callable[[str], list[dict]]) -> None:
    entries = inventory_of(variant["sku"]) if variant.get("sku") else []
    if not entries:
        return
    availability: dict = {}
    for entry in entries:
        info = {"isOnStock": entry["availableQuantity"] > 0, "availableQuantity": entry["availableQuantity"],
                "id": entry["id"], "version": entry["version"]}
        if entry.get("restockableInDays") is not None:
            info["restockableInDays"] = entry["restockableInDays"]
        if entry.get("supplyChannel"):
            availability.setdefault("channels", {})[entry["supplyChannel"]["id"]] = info
        else:
            availability.update(info)
    variant["availability"] = availability


def price_selection(params) -> dict | None:
    names = ("priceCurrency", "priceCountry", "priceChannel", "priceCustomerGroup")
    given = {name: params.get(name) for name in names if params.get(name)}
    if not given:
        return None
    if "priceCurrency" not in given:
        raise invalid_input("The price selection parameter 'priceCurrency' is required when selecting prices.")
    return given


def select_price(prices: list[dict], selection: dict) -> dict | None:
    """The public API's fallback order: currency and validity must match; a scope the request names
    matches that value or an unscoped price, a scope it omits only unscoped prices. Of the matches,
    the most specific wins, customer group before channel before country (cg+channel+country,
    cg+channel, cg+country, cg, channel+country, channel, country, none); within a level a price
    with a validity period beats one without."""
    now = datetime.now(UTC).isoformat()
    wanted = {"customerGroup": selection.get("priceCustomerGroup"),
              "channel": selection.get("priceChannel"),
              "country": selection.get("priceCountry")}
    best, best_rank = None, None
    for candidate in prices:
        if candidate["value"]["currencyCode"] != selection["priceCurrency"]:
            continue
        if candidate.get("validFrom", "") > now or candidate.get("validUntil", "9999") < now:
            continue
        rank = []
        for field, value in wanted.items():
            actual = candidate.get(field)
            actual = actual.get("id") if isinstance(actual, dict) else actual
            if actual is not None and actual != value:
                break
            rank.append(actual is not None)
        else:
            rank.append(bool(candidate.get("validFrom") or candidate.get("validUntil")))
            if best_rank is None or tuple(rank) > best_rank:
                best, best_rank = candidate, tuple(rank)
    return best
