"""In-memory state of one X-Series retailer: every row carries `version`, one global counter.

Each collection keeps a change feed, (version, id) in version order, appended on every change, so a
page `after=` a version is a binary search plus a short walk instead of a sort of every row. A changed
row leaves its older feed entry behind; the walk skips it, and the feed is compacted when such
entries outnumber the rows.
"""

from __future__ import annotations

import bisect
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

COLLECTIONS = (
    "outlets", "registers", "payment_types", "taxes", "users", "products", "inventory", "customers", "sales",
    "consignments", "price_books", "price_book_products", "webhooks", "customer_groups",
)
ALL_CUSTOMERS_GROUP_ID = "1111111111"  # `group_id` of the retailer's "All Customers" group in the vendor's examples


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
    _feeds: dict[str, list[tuple[int, str]]] = field(init=False, repr=False)  # (version, id), version order
    _superseded: dict[str, int] = field(init=False, repr=False)  # feed entries of rows changed since

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._feeds = {c: sorted((r["version"], i) for i, r in rows.items()) for c, rows in self.rows.items()}
        self._superseded = dict.fromkeys(self.rows, 0)

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def bump(self, collection: str, row: dict) -> dict:
        """Store `row` as changed now: a new global version."""
        self.version += self._rng.randint(1, 7)  # gaps, as in the real feed
        row["version"] = self.version
        if row["id"] in self.rows[collection]:
            self._superseded[collection] += 1
        self.rows[collection][row["id"]] = row
        self._feeds[collection].append((self.version, row["id"]))
        if self._superseded[collection] > max(1024, len(self.rows[collection])):
            self._compact(collection)
        if self.on_change is not None:
            self.on_change(collection, row)
        return row

    def get(self, collection: str, row_id: str) -> dict | None:
        return self.rows[collection].get(row_id)

    def page(self, collection: str, after: int, before: int | None, page_size: int, deleted: bool) -> list[dict]:
        """Up to `page_size` rows with `after` < version < `before`, in version order (both bounds exclusive)."""
        feed, rows, out = self._feeds[collection], self.rows[collection], []
        for index in range(bisect.bisect_right(feed, after, key=lambda entry: entry[0]), len(feed)):
            version, row_id = feed[index]
            if before is not None and version >= before:
                break
            row = rows.get(row_id)
            if row is None or row["version"] != version or (row.get("deleted_at") and not deleted):
                continue  # changed since (read at its newer version), removed, or deleted and not asked for
            out.append(row)
            if len(out) == page_size:
                break
        return out

    def _compact(self, collection: str) -> None:
        rows = self.rows[collection]
        self._feeds[collection] = [(v, i) for v, i in self._feeds[collection] if i in rows and rows[i]["version"] == v]
        self._superseded[collection] = 0

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
