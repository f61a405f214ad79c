"""Inventory entries: one per (sku, supplyChannel); availableQuantity = quantityOnStock - reservations."""

from __future__ import annotations

from ..errors import CtError, invalid_json, required
from ..fields import channel_with_role, custom_actions, custom_fields, setter
from ..indexes import field_index, path_index
from ..store import Ctx
from .base import ResourceKind


def _quantity(value, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_json(f"{field}: Missing required value or not an integer")
    return value


def _create(ctx: Ctx, draft: dict) -> dict:
    sku = required(draft, "sku")
    on_stock = _quantity(required(draft, "quantityOnStock"), "quantityOnStock")
    result = {"sku": sku, "quantityOnStock": on_stock, "availableQuantity": on_stock}
    channel = channel_with_role(ctx, draft.get("supplyChannel"), "InventorySupply", "supplyChannel")
    if channel is not None:
        result["supplyChannel"] = channel
    for name in ("key", "restockableInDays", "expectedDelivery", "minCartQuantity", "maxCartQuantity"):
        if draft.get(name) is not None:
            result[name] = draft[name]
    if draft.get("custom") is not None:
        result["custom"] = custom_fields(ctx, draft["custom"], "inventory-entry")
    return result


def _set_on_stock(ctx: Ctx, entry: dict, new_quantity: int) -> None:
    old_on_stock, old_available = entry["quantityOnStock"], entry["availableQuantity"]
    reserved = old_on_stock - old_available
    entry["quantityOnStock"] = new_quantity
    entry["availableQuantity"] = new_quantity - reserved
    ctx.emit("inventory-entry", entry["id"], "InventoryEntryQuantitySet",
             oldQuantityOnStock=old_on_stock, newQuantityOnStock=new_quantity,
             oldAvailableQuantity=old_available, newAvailableQuantity=entry["availableQuantity"],
             **({"supplyChannel": entry["supplyChannel"]} if entry.get("supplyChannel") else {}))


def adjust_stock(ctx: Ctx, entry: dict, delta: int) -> None:
    """Relative change; stock may go negative (also used by orders with inventoryMode TrackOnly)."""
    _set_on_stock(ctx, entry, entry["quantityOnStock"] + delta)


def _add(ctx: Ctx, entry: dict, action: dict) -> None:
    adjust_stock(ctx, entry, _quantity(required(action, "quantity"), "quantity"))


def _remove(ctx: Ctx, entry: dict, action: dict) -> None:
    adjust_stock(ctx, entry, -_quantity(required(action, "quantity"), "quantity"))


def _change(ctx: Ctx, entry: dict, action: dict) -> None:
    _set_on_stock(ctx, entry, _quantity(required(action, "quantity"), "quantity"))


def _set_supply_channel(ctx: Ctx, entry: dict, action: dict) -> None:
    channel = channel_with_role(ctx, action.get("supplyChannel"), "InventorySupply", "supplyChannel")
    if channel is None:
        entry.pop("supplyChannel", None)
    else:
        entry["supplyChannel"] = channel


def _at(ctx: Ctx, sku, channel_id: str | None) -> list[dict]:
    return [e for e in ctx.candidates("inventory-entry", ("sku", sku))
            if e["sku"] == sku and (e.get("supplyChannel") or {}).get("id") == channel_id]


def find_entry(ctx: Ctx, sku: str, channel_id: str | None) -> dict | None:
    return next(iter(_at(ctx, sku, channel_id)), None)


def _validate(ctx: Ctx, entry: dict) -> None:
    channel_id = (entry.get("supplyChannel") or {}).get("id")
    clash = next((e for e in _at(ctx, entry["sku"], channel_id) if e["id"] != entry["id"]), None)
    if clash is not None:
        where = f"supply channel '{channel_id}'" if channel_id else "no supply channel"
        raise CtError(400, "DuplicateField",
                      f"An inventory entry for SKU '{entry['sku']}' and {where} already exists.",
                      field="sku", duplicateValue=entry["sku"],
                      conflictingResource={"typeId": "inventory-entry", "id": clash["id"]})


INVENTORY = ResourceKind(
    path="inventory", type_id="inventory-entry",
    view_scopes=("view_products", "manage_products"), manage_scopes=("manage_products",),
    create=_create,
    actions={
        "addQuantity": _add,
        "removeQuantity": _remove,
        "changeQuantity": _change,
        "setRestockableInDays": setter("restockableInDays"),
        "setExpectedDelivery": setter("expectedDelivery"),
        "setSupplyChannel": _set_supply_channel,
        "setKey": setter("key"),
        "setInventoryLimits": lambda ctx, e, a: e.update(
            {k: a[k] for k in ("minCartQuantity", "maxCartQuantity") if k in a}),
        **custom_actions("inventory-entry"),
    },
    validate=_validate,
    message_prefix="InventoryEntry",
    indexes=(field_index("sku"), path_index("supplyChannel.id")),
)
