"""Draft building blocks shared by resources: money, references, custom fields, addresses."""

from __future__ import annotations

from typing import Any

from .errors import CtError, invalid_json, referenced_not_found, required
from .store import Ctx

_ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "CLP", "ISK", "VND", "HUF"}


def money(draft: Any, field: str) -> dict:
    """Money draft -> TypedMoney (`centPrecision`)."""
    if not isinstance(draft, dict):
        raise invalid_json(f"{field}: Missing required value")
    currency = draft.get("currencyCode")
    cents = draft.get("centAmount")
    if not isinstance(currency, str) or len(currency) != 3:
        raise invalid_json(f"{field}.currencyCode: Missing or invalid currency code")
    if not isinstance(cents, int) or isinstance(cents, bool):
        raise invalid_json(f"{field}.centAmount: Missing required value or not an integer")
    digits = draft.get("fractionDigits", 0 if currency in _ZERO_DECIMAL_CURRENCIES else 2)
    return {"type": "centPrecision", "currencyCode": currency, "centAmount": cents, "fractionDigits": digits}


def resolve(ctx: Ctx, identifier: Any, type_id: str, field: str) -> dict:
    """ResourceIdentifier `{typeId, id|key}` -> the referenced resource (400 when missing)."""
    if not isinstance(identifier, dict) or not (identifier.get("id") or identifier.get("key")):
        raise invalid_json(f"{field}: Either 'id' or 'key' must be set")
    if identifier.get("typeId", type_id) != type_id:
        raise invalid_json(f"{field}.typeId: expected '{type_id}'")
    if identifier.get("id"):
        found = ctx.get(type_id, identifier["id"])
        if found is None:
            raise referenced_not_found(type_id, identifier["id"])
    else:
        found = ctx.find(type_id, "key", identifier["key"])
        if found is None:
            raise referenced_not_found(type_id, identifier["key"], by="key")
    return found


def reference(ctx: Ctx, identifier: Any, type_id: str, field: str) -> dict:
    return {"typeId": type_id, "id": resolve(ctx, identifier, type_id, field)["id"]}


def optional_reference(ctx: Ctx, identifier: Any, type_id: str, field: str) -> dict | None:
    return None if identifier is None else reference(ctx, identifier, type_id, field)


def channel_with_role(ctx: Ctx, identifier: Any, role: str, field: str) -> dict | None:
    if identifier is None:
        return None
    channel = resolve(ctx, identifier, "channel", field)
    if role not in channel.get("roles", []):
        ref = {"typeId": "channel", "id": channel["id"]}
        raise CtError(400, "MissingRoleOnChannel",
                      f"Given channel with ID '{channel['id']}' does not have the required role {role}.",
                      channel=ref, missingRole=role)
    return {"typeId": "channel", "id": channel["id"]}


# -- custom fields ---------------------------------------------------------------------------
_FIELD_CHECKS = {
    "String": lambda v, t: isinstance(v, str),
    "Number": lambda v, t: isinstance(v, (int, float)) and not isinstance(v, bool),
    "Boolean": lambda v, t: isinstance(v, bool),
    "LocalizedString": lambda v, t: isinstance(v, dict),
    "Enum": lambda v, t: v in [e["key"] for e in t.get("values", [])],
    "Set": lambda v, t: isinstance(v, list),
    "Money": lambda v, t: isinstance(v, dict) and "centAmount" in v,
    "Date": lambda v, t: isinstance(v, str),
    "DateTime": lambda v, t: isinstance(v, str),
    "Time": lambda v, t: isinstance(v, str),
}


def _check_field(custom_type: dict, name: str, value: Any) -> None:
    definition = next((d for d in custom_type.get("fieldDefinitions", []) if d["name"] == name), None)
    if definition is None:
        raise CtError(400, "InvalidField",
                      f"The field '{name}' is not defined in the type '{custom_type['key']}'.",
                      field=name, invalidValue=value)
    field_type = definition["type"]
    check = _FIELD_CHECKS.get(field_type.get("name"))
    if check is not None and not check(value, field_type):
        raise CtError(400, "InvalidField",
                      f"The value '{value}' is not valid for field '{name}'.",
                      field=name, invalidValue=value)


def _custom_type(ctx: Ctx, identifier: Any, resource_type_id: str, field: str) -> dict:
    custom_type = resolve(ctx, identifier, "type", field)
    if resource_type_id not in custom_type.get("resourceTypeIds", []):
        raise CtError(400, "InvalidOperation",
                      f"The type '{custom_type['key']}' cannot be used for resources of type '{resource_type_id}'.")
    return custom_type


def custom_fields(ctx: Ctx, draft: Any, resource_type_id: str, field: str = "custom") -> dict | None:
    """CustomFieldsDraft -> CustomFields, validating every field against the type."""
    if draft is None:
        return None
    custom_type = _custom_type(ctx, draft.get("type"), resource_type_id, f"{field}.type")
    fields = {k: v for k, v in (draft.get("fields") or {}).items() if v is not None}
    for name, value in fields.items():
        _check_field(custom_type, name, value)
    for definition in custom_type.get("fieldDefinitions", []):
        if definition.get("required") and definition["name"] not in fields:
            raise CtError(400, "RequiredField", f"A value is required for field '{definition['name']}'.",
                          field=definition["name"])
    return {"type": {"typeId": "type", "id": custom_type["id"]}, "fields": fields}


def set_custom_type(ctx: Ctx, resource: dict, action: dict, resource_type_id: str) -> None:
    if action.get("type") is None:
        resource.pop("custom", None)
        return
    resource["custom"] = custom_fields(ctx, {"type": action["type"], "fields": action.get("fields")},
                                       resource_type_id, "type")


def set_custom_field(ctx: Ctx, resource: dict, action: dict) -> None:
    name = required(action, "name")
    custom = resource.get("custom")
    if custom is None:
        raise CtError(400, "InvalidOperation", "This resource has no custom type set; use setCustomType first.")
    value = action.get("value")
    if value is None:
        custom["fields"].pop(name, None)
        return
    _check_field(ctx.get("type", custom["type"]["id"]), name, value)
    custom["fields"][name] = value


def custom_actions(resource_type_id: str) -> dict:
    return {
        "setCustomType": lambda ctx, r, a: set_custom_type(ctx, r, a, resource_type_id),
        "setCustomField": lambda ctx, r, a: set_custom_field(ctx, r, a),
    }


def setter(field: str, source: str | None = None):
    """An action that sets `field` from `action[source or field]` (absent/null unsets)."""

    def apply(ctx: Ctx, resource: dict, action: dict) -> None:
        value = action.get(source or field)
        if value is None:
            resource.pop(field, None)
        else:
            resource[field] = value

    return apply


def address(ctx: Ctx, draft: Any, with_id: bool = True) -> dict | None:
    if draft is None:
        return None
    result = dict(draft)
    if with_id:
        result.setdefault("id", ctx.store.short_id())
    if not result.get("country"):
        raise invalid_json("address.country: Missing required value")
    return result
