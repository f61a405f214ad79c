"""In-memory state of one X-Series retailer: every row carries `version`, one global counter."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

COLLECTIONS = (
    "outlets", "registers", "payment_types", "taxes", "users", "products", "inventory", "customers", "sales",
    "consignments", "price_books", "price_book_products", "webhooks",
)


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass
class Store:
    seed: int = 0
    version: int = 1_000_000
    rows: dict[str, dict[str, dict]] = field(default_factory=lambda: {c: {} for c in COLLECTIONS})
    inventory_index: dict[tuple[str, str], str] = field(default_factory=dict)  # (product, outlet) -> id
    consignment_products: dict[str, list[dict]] = field(default_factory=dict)
    invoice_counter: int = 1000
    on_change: object = None  # callable(collection, row) notified after every change (webhooks)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def bump(self, collection: str, row: dict) -> dict:
        """Store `row` as changed now: a new global version."""
        self.version += self._rng.randint(1, 7)  # gaps, as in the real feed
        row["version"] = self.version
        self.rows[collection][row["id"]] = row
        if self.on_change is not None:
            self.on_change(collection, row)
        return row

    def get(self, collection: str, row_id: str) -> dict | None:
        return self.rows[collection].get(row_id)

    def page(self, collection: str, after: int, before: int | None, page_size: int, deleted: bool) -> list[dict]:
        rows = sorted(self.rows[collection].values(), key=lambda r: r["version"])
        selected = [
            r for r in rows
            if r["version"] > after and (before is None or r["version"] < before) and (deleted or not r.get("deleted_at"))
        ]
        return selected[:page_size]

    # inventory ---------------------------------------------------------------------------------
    def inventory_row(self, product_id: str, outlet_id: str) -> dict:
        key = (product_id, outlet_id)
        if key not in self.inventory_index:
            row = {"id": self.new_id(), "product_id": product_id, "outlet_id": outlet_id, "inventory_level": 0,
                   "current_amount": 0, "reorder_point": 0, "reorder_amount": 0, "average_cost": 0.0}
            self.inventory_index[key] = row["id"]
            self.bump("inventory", row)
        return self.rows["inventory"][self.inventory_index[key]]

    def move_stock(self, product_id: str, outlet_id: str, delta: int) -> dict:
        row = dict(self.inventory_row(product_id, outlet_id))
        row["inventory_level"] += delta
        row["current_amount"] = row["inventory_level"]
        return self.bump("inventory", row)

    def set_stock(self, product_id: str, outlet_id: str, level: int) -> dict:
        row = dict(self.inventory_row(product_id, outlet_id))
        row["inventory_level"] = level
        row["current_amount"] = level
        return self.bump("inventory", row)
