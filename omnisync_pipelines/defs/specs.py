"""The table the factories read: which snapshots and flows exist, and their keys."""


from dataclasses import dataclass

# Snapshot groups: the entity a connector reads, and the tables that read fills.
ENTITY_TABLES: dict[str, tuple[str, ...]] = {
    "locations": ("locations",),
    "catalog": ("catalog",),
    "prices": ("prices",),
    "stock": ("stock",),
    "stock_movements": ("stock_movements",),
    "orders": ("orders", "order_lines", "order_payments"),
    "returns": ("returns", "return_lines"),
    "customers": ("customers",),
}

# Natural keys of each table, used to merge a delta read into the snapshot.
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "locations": ("system_id",),
    "catalog": ("sku",),
    "prices": ("system_id",),
    "stock": ("sku", "location_key"),
    "stock_movements": ("movement_id",),
    "orders": ("order_id",),
    "order_lines": ("order_id", "line_id"),
    "order_payments": ("order_id", "payment_id"),
    "returns": ("return_id",),
    "return_lines": ("return_id", "line_id"),
    "customers": ("customer_id",),
}

# Child tables a delta read re-reads whole per parent: a commercetools product comes back with every
# price of its variants, an order or sale with all its lines and payments, a return with all its
# lines. Merged by their own key alone, a child the read no longer holds (a price replaced under a
# new id, a removed line) would stay beside its successor; instead all rows of the parents re-read
# are replaced. Value: the parent key column, and the table of the same read that lists every parent
# re-read (None: the parents in the child rows themselves, so a SKU left with no price at all keeps
# its old ones until the next full run). "*" is any system. Not Lightspeed X prices: its delta
# reads single price book entries, not whole products.
WHOLE_PER_PARENT: dict[tuple[str, str], tuple[str, str | None]] = {
    ("commercetools", "prices"): ("sku", None),
    ("*", "order_lines"): ("order_id", "orders"),
    ("*", "order_payments"): ("order_id", "orders"),
    ("*", "return_lines"): ("return_id", "returns"),
}


def delta_merge_parents(system: str, table: str, frames: dict) -> dict:
    """The `parent_key`/`parents` arguments of `warehouse.upsert_table` for a delta read of `table`
    (`frames`: every table of that read by name); {} for a table merged by its own key alone."""
    rule = WHOLE_PER_PARENT.get((system, table)) or WHOLE_PER_PARENT.get(("*", table))
    if rule is None:
        return {}
    parent_key, parent_table = rule
    if parent_table is None:
        return {"parent_key": parent_key}
    return {"parent_key": parent_key, "parents": frames[parent_table][parent_key].dropna().unique().tolist()}


COMMERCETOOLS = "commercetools"
POS_SYSTEMS_WITH_CONNECTORS = ("lightspeed_x",)


@dataclass(frozen=True)
class SnapshotSpec:
    system: str
    entity: str

    @property
    def tables(self) -> tuple[str, ...]:
        return ENTITY_TABLES[self.entity]

    @property
    def name(self) -> str:
        return f"snapshot_{self.system}_{self.entity}"

    @property
    def cursor_name(self) -> str:
        return f"{self.system}/{self.entity}"


def snapshot_specs() -> list[SnapshotSpec]:
    specs = [SnapshotSpec(COMMERCETOOLS, e) for e in ENTITY_TABLES if e != "stock_movements"]
    for pos in POS_SYSTEMS_WITH_CONNECTORS:
        specs += [SnapshotSpec(pos, e) for e in ENTITY_TABLES]
    return specs


MODE_TAG = "omnisync/mode"  # "full" re-reads everything; "delta" resumes from the stored cursors
