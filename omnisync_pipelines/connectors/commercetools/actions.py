"""Update-action builders: one tiny pure function per field, returning None when nothing changes,
and a compose function per resource that gathers the non-None actions in order."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Action = dict[str, Any]


def compose(*actions: Action | None | Iterable[Action | None]) -> list[Action]:
    out: list[Action] = []
    for item in actions:
        if item is None:
            continue
        if isinstance(item, dict):
            out.append(item)
        else:
            out.extend(a for a in item if a is not None)
    return out


def _custom_fields(resource: dict) -> dict:
    return ((resource.get("custom") or {}).get("fields")) or {}


# inventory -----------------------------------------------------------------------------------


def stock_delta(delta: int) -> Action | None:
    """Relative change: addQuantity / removeQuantity (the only writes that keep concurrent changes)."""
    if delta > 0:
        return {"action": "addQuantity", "quantity": delta}
    if delta < 0:
        return {"action": "removeQuantity", "quantity": -delta}
    return None


def change_quantity(current: dict, quantity: int | None) -> Action | None:
    if quantity is None or current.get("quantityOnStock") == quantity:
        return None
    return {"action": "changeQuantity", "quantity": quantity}


def set_restockable_in_days(current: dict, days: int | None) -> Action | None:
    if current.get("restockableInDays") == days:
        return None
    return {"action": "setRestockableInDays", **({"restockableInDays": days} if days is not None else {})}


def set_expected_delivery(current: dict, when: str | None) -> Action | None:
    if current.get("expectedDelivery") == when:
        return None
    return {"action": "setExpectedDelivery", **({"expectedDelivery": when} if when is not None else {})}


def set_custom_field(current: dict, name: str, value: Any) -> Action | None:
    """setCustomField; the resource must already carry a custom type (see `set_custom_type`)."""
    if _custom_fields(current).get(name) == value:
        return None
    return {"action": "setCustomField", "name": name, **({"value": value} if value is not None else {})}


def set_custom_type(type_key: str, fields: dict[str, Any]) -> Action:
    return {"action": "setCustomType", "type": {"typeId": "type", "key": type_key}, "fields": fields}


def stamp_custom_field(current: dict, type_key: str, name: str, value: Any) -> Action | None:
    """Write one custom field whether or not the resource has a custom type yet.

    Without a custom type the field can only be written by setting our type; with one (ours, or
    another that defines the field) a plain setCustomField keeps the other fields.
    """
    if not current.get("custom"):
        return set_custom_type(type_key, {name: value})
    return set_custom_field(current, name, value)


def inventory_actions(current: dict, desired: dict) -> list[Action]:
    """Absolute alignment of an inventory entry to `desired` (keys as in InventoryEntryDraft)."""
    return compose(
        change_quantity(current, desired.get("quantityOnStock")),
        set_restockable_in_days(current, desired["restockableInDays"]) if "restockableInDays" in desired else None,
        set_expected_delivery(current, desired["expectedDelivery"]) if "expectedDelivery" in desired else None,
    )


# customers -----------------------------------------------------------------------------------


def change_email(current: dict, email: str | None) -> Action | None:
    if email is None or current.get("email") == email:
        return None
    return {"action": "changeEmail", "email": email}


def _set_optional(action: str, field: str, current: dict, value: Any) -> Action | None:
    if current.get(field) == value:
        return None
    return {"action": action, **({field: value} if value is not None else {})}


def set_first_name(current: dict, value: str | None) -> Action | None:
    return _set_optional("setFirstName", "firstName", current, value)


def set_last_name(current: dict, value: str | None) -> Action | None:
    return _set_optional("setLastName", "lastName", current, value)


def set_external_id(current: dict, value: str | None) -> Action | None:
    return _set_optional("setExternalId", "externalId", current, value)


def set_key(current: dict, value: str | None) -> Action | None:
    return _set_optional("setKey", "key", current, value)


def customer_actions(current: dict, draft: dict) -> list[Action]:
    """Only the fields present in `draft` are compared; absent fields are left alone."""
    builders = {
        "email": change_email,
        "firstName": set_first_name,
        "lastName": set_last_name,
        "externalId": set_external_id,
        "key": set_key,
    }
    return compose(build(current, draft[name]) for name, build in builders.items() if name in draft)


# orders --------------------------------------------------------------------------------------


def change_order_state(current: dict, state: str | None) -> Action | None:
    if state is None or current.get("orderState") == state:
        return None
    return {"action": "changeOrderState", "orderState": state}


def change_shipment_state(current: dict, state: str | None) -> Action | None:
    if state is None or current.get("shipmentState") == state:
        return None
    return {"action": "changeShipmentState", "shipmentState": state}


def change_payment_state(current: dict, state: str | None) -> Action | None:
    if state is None or current.get("paymentState") == state:
        return None
    return {"action": "changePaymentState", "paymentState": state}


def add_payment(current: dict, payment_id: str) -> Action | None:
    linked = {p.get("id") for p in ((current.get("paymentInfo") or {}).get("payments") or [])}
    if payment_id in linked:
        return None
    return {"action": "addPayment", "payment": {"typeId": "payment", "id": payment_id}}


def add_return_info(current: dict, items: list[dict], *, return_tracking_id: str | None = None,
                    return_date: str | None = None) -> Action | None:
    """addReturnInfo, skipped when a return with the same tracking id is already on the order."""
    if not items:
        return None
    if return_tracking_id and any(
        r.get("returnTrackingId") == return_tracking_id for r in current.get("returnInfo") or []
    ):
        return None
    action: Action = {"action": "addReturnInfo", "items": items}
    if return_tracking_id:
        action["returnTrackingId"] = return_tracking_id
    if return_date:
        action["returnDate"] = return_date
    return action


def order_state_actions(current: dict, desired: dict) -> list[Action]:
    return compose(
        change_order_state(current, desired.get("orderState")),
        change_shipment_state(current, desired.get("shipmentState")),
        change_payment_state(current, desired.get("paymentState")),
    )
