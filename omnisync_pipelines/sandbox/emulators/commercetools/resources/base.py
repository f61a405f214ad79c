"""What the generic HTTP layer needs to know about one resource type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..indexes import IndexSpec
from ..store import Ctx

Action = Callable[[Ctx, dict, dict], None]


@dataclass(frozen=True)
class ResourceKind:
    path: str  # URL segment, e.g. "inventory"
    type_id: str  # reference typeId, e.g. "inventory-entry"
    view_scopes: tuple[str, ...]  # any of these (or a manage scope) allows reads
    manage_scopes: tuple[str, ...]  # any of these allows writes
    create: Callable[[Ctx, dict], dict]  # draft -> resource fields; raises CtError
    actions: dict[str, Action] = field(default_factory=dict)
    validate: Callable[[Ctx, dict], None] | None = None  # uniqueness etc. on the final state
    message_prefix: str | None = None  # e.g. "InventoryEntry" -> InventoryEntryCreated/Deleted
    created_message: str | None = None  # when not "<prefix>Created" (orders: OrderImported)
    # the Created message's payload (member name, value) when not `<prefix in camelCase>: resource`
    # (products: `productProjection`, the staged projection)
    created_payload: Callable[[dict], tuple[str, dict]] | None = None
    wrap_created: str | None = None  # customers answer `{"customer": {...}}`
    indexes: tuple[IndexSpec, ...] = ()  # beyond `key`, which every type has
