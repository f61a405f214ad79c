"""Project setup resources: channels, stores, custom types, product types."""

from __future__ import annotations

from ..errors import CtError, enum_value, invalid_json, invalid_operation, required
from ..fields import address, custom_actions, custom_fields, reference, setter
from ..store import Ctx
from .base import ResourceKind

CHANNEL_ROLES = ("InventorySupply", "ProductDistribution", "OrderExport", "OrderImport", "Primary")
_PRODUCTS_COMPAT = ("view_products", "manage_products")  # older broad scopes still grant these


def _roles(values, field: str = "roles") -> list[str]:
    return [enum_value(r, CHANNEL_ROLES, field) for r in values]


# -- channels ---------------------------------------------------------------------------------
def _create_channel(ctx: Ctx, draft: dict) -> dict:
    result = {"key": required(draft, "key"), "roles": _roles(draft.get("roles") or ["InventorySupply"])}
    for name in ("name", "description", "geoLocation"):
        if draft.get(name) is not None:
            result[name] = draft[name]
    if draft.get("address") is not None:
        result["address"] = address(ctx, draft["address"])
    if draft.get("custom") is not None:
        result["custom"] = custom_fields(ctx, draft["custom"], "channel")
    return result


def _add_roles(ctx: Ctx, channel: dict, action: dict) -> None:
    channel["roles"] = channel["roles"] + [r for r in _roles(action.get("roles", [])) if r not in channel["roles"]]


def _remove_roles(ctx: Ctx, channel: dict, action: dict) -> None:
    channel["roles"] = [r for r in channel["roles"] if r not in action.get("roles", [])]


def _change_key(ctx: Ctx, resource: dict, action: dict) -> None:
    resource["key"] = required(action, "key")


CHANNELS = ResourceKind(
    path="channels", type_id="channel",
    view_scopes=("view_channels", "manage_channels", *_PRODUCTS_COMPAT),
    manage_scopes=("manage_channels", "manage_products"),
    create=_create_channel,
    actions={
        "changeKey": _change_key,
        "changeName": setter("name"),
        "changeDescription": setter("description"),
        "setRoles": lambda ctx, r, a: r.update(roles=_roles(a.get("roles", []))),
        "addRoles": _add_roles,
        "removeRoles": _remove_roles,
        "setAddress": lambda ctx, r, a: r.update(address=address(ctx, a.get("address"))),
        "setGeoLocation": setter("geoLocation"),
        **custom_actions("channel"),
    },
)


# -- stores -----------------------------------------------------------------------------------
def _channels(ctx: Ctx, identifiers, role: str, field: str) -> list[dict]:
    refs = []
    for i, identifier in enumerate(identifiers or []):
        ref = reference(ctx, identifier, "channel", f"{field}[{i}]")
        if role not in ctx.get("channel", ref["id"]).get("roles", []):
            raise CtError(400, "MissingRoleOnChannel",
                          f"Given channel with ID '{ref['id']}' does not have the required role {role}.",
                          channel=ref, missingRole=role)
        refs.append(ref)
    return refs


def _create_store(ctx: Ctx, draft: dict) -> dict:
    result = {
        "key": required(draft, "key"),
        "languages": draft.get("languages") or [],
        "countries": draft.get("countries") or [],
        "distributionChannels": _channels(ctx, draft.get("distributionChannels"), "ProductDistribution",
                                          "distributionChannels"),
        "supplyChannels": _channels(ctx, draft.get("supplyChannels"), "InventorySupply", "supplyChannels"),
        "productSelections": [],
    }
    if draft.get("name") is not None:
        result["name"] = draft["name"]
    if draft.get("custom") is not None:
        result["custom"] = custom_fields(ctx, draft["custom"], "store")
    return result


def _channel_list_action(field: str, role: str, add: bool):
    def apply(ctx: Ctx, store: dict, action: dict) -> None:
        ref = _channels(ctx, [required(action, field[:-1])], role, field[:-1])[0]
        kept = [c for c in store[field] if c["id"] != ref["id"]]
        store[field] = kept + [ref] if add else kept

    return apply


STORES = ResourceKind(
    path="stores", type_id="store",
    view_scopes=("view_stores", "manage_stores"), manage_scopes=("manage_stores",),
    create=_create_store,
    actions={
        "setName": setter("name"),
        "setLanguages": setter("languages"),
        "setCountries": setter("countries"),
        "addSupplyChannel": _channel_list_action("supplyChannels", "InventorySupply", add=True),
        "removeSupplyChannel": _channel_list_action("supplyChannels", "InventorySupply", add=False),
        "addDistributionChannel": _channel_list_action("distributionChannels", "ProductDistribution", add=True),
        "removeDistributionChannel": _channel_list_action("distributionChannels", "ProductDistribution", add=False),
        "setSupplyChannels": lambda ctx, r, a: r.update(
            supplyChannels=_channels(ctx, a.get("supplyChannels"), "InventorySupply", "supplyChannels")),
        "setDistributionChannels": lambda ctx, r, a: r.update(
            distributionChannels=_channels(ctx, a.get("distributionChannels"), "ProductDistribution",
                                           "distributionChannels")),
        **custom_actions("store"),
    },
)


# -- custom types -----------------------------------------------------------------------------
def _field_definition(definition: dict, index: int) -> dict:
    for name in ("name", "type"):
        if definition.get(name) is None:
            raise invalid_json(f"fieldDefinitions[{index}].{name}: Missing required value")
    return {"name": definition["name"], "label": definition.get("label") or {"en": definition["name"]},
            "required": bool(definition.get("required", False)), "type": definition["type"],
            "inputHint": definition.get("inputHint", "SingleLine")}


def _create_type(ctx: Ctx, draft: dict) -> dict:
    definitions = [_field_definition(d, i) for i, d in enumerate(draft.get("fieldDefinitions") or [])]
    names = [d["name"] for d in definitions]
    if len(set(names)) != len(names):
        raise invalid_operation("Field definition names must be unique.")
    return {"key": required(draft, "key"), "name": required(draft, "name"),
            "description": draft.get("description"), "resourceTypeIds": required(draft, "resourceTypeIds"),
            "fieldDefinitions": definitions}


def _add_field_definition(ctx: Ctx, custom_type: dict, action: dict) -> None:
    definition = _field_definition(required(action, "fieldDefinition"), 0)
    if any(d["name"] == definition["name"] for d in custom_type["fieldDefinitions"]):
        raise CtError(400, "DuplicateFieldDefinition",
                      f"A field definition with name '{definition['name']}' already exists.",
                      fieldName=definition["name"])
    custom_type["fieldDefinitions"] = custom_type["fieldDefinitions"] + [definition]


def _remove_field_definition(ctx: Ctx, custom_type: dict, action: dict) -> None:
    name = required(action, "fieldName")
    custom_type["fieldDefinitions"] = [d for d in custom_type["fieldDefinitions"] if d["name"] != name]


TYPES = ResourceKind(
    path="types", type_id="type",
    view_scopes=("view_types", "manage_types"), manage_scopes=("manage_types",),
    create=_create_type,
    actions={
        "changeKey": _change_key,
        "changeName": setter("name"),
        "setDescription": setter("description"),
        "addFieldDefinition": _add_field_definition,
        "removeFieldDefinition": _remove_field_definition,
    },
)


# -- product types ----------------------------------------------------------------------------
def _attribute_definition(draft: dict) -> dict:
    """AttributeDefinition from its draft, with the draft's documented defaults (the vendor document
    requires every one of these in the answer)."""
    return {"attributeConstraint": "None", "isSearchable": True, "inputHint": "SingleLine", "level": "Variant",
            **draft, "isRequired": bool(draft.get("isRequired", False)), "label": draft.get("label") or {"en": draft.get("name")}}


def _create_product_type(ctx: Ctx, draft: dict) -> dict:
    return {"key": draft.get("key"), "name": required(draft, "name"), "description": draft.get("description", ""),
            "attributes": [_attribute_definition(a) for a in draft.get("attributes") or []]}


def _add_attribute_definition(ctx: Ctx, product_type: dict, action: dict) -> None:
    product_type["attributes"] = product_type["attributes"] + [_attribute_definition(required(action, "attribute"))]


PRODUCT_TYPES = ResourceKind(
    path="product-types", type_id="product-type",
    view_scopes=("view_product_types", "manage_product_types", *_PRODUCTS_COMPAT),
    manage_scopes=("manage_product_types", "manage_products"),
    create=_create_product_type,
    actions={
        "changeName": setter("name"),
        "changeDescription": setter("description"),
        "setKey": setter("key"),
        "addAttributeDefinition": _add_attribute_definition,
    },
)


# -- customer groups (price scopes) -----------------------------------------------------------
def _create_customer_group(ctx: Ctx, draft: dict) -> dict:
    result = {"key": draft.get("key"), "name": required(draft, "groupName")}
    if draft.get("custom") is not None:
        result["custom"] = custom_fields(ctx, draft["custom"], "customer-group")
    return result


CUSTOMER_GROUPS = ResourceKind(
    path="customer-groups", type_id="customer-group",
    view_scopes=("view_customer_groups", "manage_customer_groups", "view_customers", "manage_customers"),
    manage_scopes=("manage_customer_groups", "manage_customers"),
    create=_create_customer_group,
    actions={
        "changeName": lambda ctx, r, a: r.update(name=required(a, "name")),
        "setKey": setter("key"),
        **custom_actions("customer-group"),
    },
)
