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
