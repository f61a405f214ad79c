"""The table the factories read: which snapshots and flows exist, and their keys."""


import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from omnisync_pipelines import systems

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
# its old ones until the next full run). "*" is any system. A POS whose delta reads single price
# entries (not whole products) is not listed.
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


COMMERCETOOLS = systems.COMMERCETOOLS


def configured_pos(path: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The POS the definitions hold assets for: those the configuration file's locations trade on.
    No file: the default POS. A file that does not validate: the registered POS it names (its runs then
    stop at their first asset, naming the key to fix)."""
    from omnisync_pipelines.config import DEFAULT_CONFIG_PATH, ConfigError, load_config

    path = Path(path or os.environ.get("OMNISYNC_CONFIG", DEFAULT_CONFIG_PATH))
    if not path.exists():
        return (systems.DEFAULT_POS,)
    stat = path.stat()  # every defs module asks while one code location loads: read the file once
    state = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, systems.generation())
    if state not in _configured:
        try:
            found = load_config(path).pos_systems
        except ConfigError:
            found = _named_pos(path)
        _configured.clear()
        _configured[state] = found
    return _configured[state]


_configured: dict[tuple, tuple[str, ...]] = {}


def _named_pos(path: Path) -> tuple[str, ...]:
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        raw = {}
    raw = raw if isinstance(raw, dict) else {}
    named = {raw.get("pos")} | set(raw.get("systems") or {} if isinstance(raw.get("systems"), dict) else {})
    for location in raw.get("locations") or [] if isinstance(raw.get("locations"), list) else []:
        if isinstance(location, dict):
            named |= {location.get("pos"), *location}
    found = tuple(pos for pos in systems.pos_ids() if pos in named)
    return found or (systems.DEFAULT_POS,)


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


def snapshot_specs(pos_systems: tuple[str, ...]) -> list[SnapshotSpec]:
    specs = [SnapshotSpec(COMMERCETOOLS, e) for e in ENTITY_TABLES if e != "stock_movements"]
    for pos in pos_systems:
        specs += [SnapshotSpec(pos, e) for e in ENTITY_TABLES]
    return specs


MODE_TAG = "omnisync/mode"  # "full" re-reads everything; "delta" resumes from the stored cursors
