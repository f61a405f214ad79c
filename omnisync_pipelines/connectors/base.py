"""The contract every system's connector implements: read an entity (in full or since a cursor)
into canonical records, plus the rejections of raw records that could not be mapped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from omnisync_pipelines.canonical.models import Record, Rejection

ENTITIES = ("locations", "catalog", "prices", "stock", "orders", "returns", "customers")


@dataclass
class ReadResult:
    tables: dict[str, list[Record]]  # entity -> canonical records (orders -> orders, order_lines, order_payments)
    rejected: list[Rejection] = field(default_factory=list)  # raw records that could not be mapped
    cursor: str | None = None  # where a delta read resumes (X-Series version.max, ct lastModifiedAt ISO)
    raw_count: int = 0


@runtime_checkable
class Connector(Protocol):
    system: str

    async def read(self, entity: str, *, since: str | None = None) -> ReadResult: ...

    async def aclose(self) -> None: ...


class UnknownEntity(ValueError):
    def __init__(self, system: str, entity: str):
        super().__init__(f"{system} cannot read {entity!r}; entities: {', '.join(ENTITIES)}")


class LocationMapError(ValueError):
    """The configuration's location map names a location the system does not have: fix the map
    (or create the location) before anything is written."""


def unknown_locations(system: str, field: str, missing: dict[str, str]) -> LocationMapError:
    """`missing`: location key -> the configured value the system does not know."""
    where = "; ".join(f"locations[{loc}].{system}.{field} = {value!r}" for loc, value in sorted(missing.items()))
    return LocationMapError(f"{system} does not know {where}: correct it in the configuration file "
                            f"(OMNISYNC_CONFIG) or create it in {system}; nothing was written")
