"""What every asset node says about itself, derived from its key once for the whole code location
(`definitions.py` maps `described` over every spec): an owner, the stage and system tags, the key's
first part as a kind, and the DuckDB table's declared columns.

The asset graph labels a node with the last part of its key only, so `plan/stock_<pos>_to_commercetools`
and `push/stock_<pos>_to_commercetools` read alike. The one other attribute a node shows by default is
its kinds, so every asset carries the first part of its key (its DuckDB schema: `plan`, `push`,
`reconciliation`, ...) as a kind. A snapshot's first part is its system, already a kind.
"""

import re

import dagster as dg

from omnisync_pipelines import systems
from omnisync_pipelines.store import warehouse_schema

OWNER = "team:integration"  # the team that runs omnisync; Dagster accepts an email or "team:<name>"
STAGE_TAG = "omnisync/stage"
SYSTEM_TAG = "omnisync/system"
EVERY_SYSTEM = "all"  # the system tag of an asset about every system (reconciliation, ops, copies)

# first part of a key -> stage; a key starting with a system id is a snapshot
STAGES = {
    "plan": "plan",
    "push": "push",
    "availability": "plan",  # the sellable stock the availability plan is built from
    "reconciliation": "reconcile",
    "drift": "reconcile",
    "ops": "ops",
    "analysts": "analysts",
}


def stage_of(key: dg.AssetKey) -> str:
    head = key.path[0]
    return "snapshot" if head in systems.system_ids() else STAGES.get(head, head)


def system_of(key: dg.AssetKey) -> str:
    """The system the asset is about: a snapshot's own system; for a flow, the POS its name carries,
    else commercetools when named; otherwise every system."""
    if stage_of(key) == "snapshot":
        return key.path[0]
    named = [system for system in systems.system_ids() if re.search(rf"(^|_){re.escape(system)}(_|$)", key.path[-1])]
    pos = [system for system in named if system != systems.COMMERCETOOLS]
    return max(pos, key=len) if pos else (named[0] if named else EVERY_SYSTEM)


def column_schema(key: dg.AssetKey) -> dg.TableSchema | None:
    """The declared columns of the DuckDB table behind the key (`store/warehouse_schema.py`)."""
    table = warehouse_schema.declared(*key.path) if len(key.path) == 2 else None
    if table is None:
        return None
    return dg.TableSchema(columns=[dg.TableColumn(c.name, c.type, description=c.comment) for c in table.columns])


def described(spec: dg.AssetSpec) -> dg.AssetSpec:
    """The spec with the owner, the stage and system tags, its key's first part as a kind and its table's columns."""
    schema = column_schema(spec.key)
    return spec.merge_attributes(
        owners=[OWNER] if OWNER not in spec.owners else [],
        tags={STAGE_TAG: stage_of(spec.key), SYSTEM_TAG: system_of(spec.key)},
        kinds={spec.key.path[0]},
        metadata={"dagster/column_schema": schema} if schema is not None else {},
    )
