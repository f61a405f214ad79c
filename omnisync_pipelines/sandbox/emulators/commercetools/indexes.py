"""Secondary indexes over the store, so a lookup by key, SKU or order number reads a handful of
resources instead of every one of its type.

An index answers *candidates*: a superset of the resources that can hold a value, never missing
one. Every caller re-checks its own condition on them, so an index changes how many resources are
read, not what an answer is. Text values go into buckets; any other value (a number, a list element
that is not text) goes into `odd`, which every lookup includes, because such values can still
compare equal in ways a hash cannot tell (`5 == 5.0`; a query's `"5"` matches the number 5).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Values = Callable[[dict], Iterable[Any]]  # resource -> the values it is found by (None: not indexed)


@dataclass(frozen=True)
class IndexSpec:
    name: str
    values: Values
    field: str | None = None  # set when `values` is exactly the field at this path: a `where` on it can use the index


def path_index(path: str) -> IndexSpec:
    """The value at a dotted `path` (`sku`, `supplyChannel.id`); an array on the way or at the end
    holds every element, as a query predicate (nested or not) matches any."""
    names = path.split(".")

    def values(resource: dict) -> Iterable[Any]:
        found: list[Any] = [resource]
        for name in names:
            found = [v for obj in found if isinstance(obj, dict)
                     for v in _elements(obj.get(name))]
        return found

    return IndexSpec(path, values, field=path)


field_index = path_index  # a top-level field is a path of one name


def _elements(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


class Index:
    def __init__(self, spec: IndexSpec):
        self.spec = spec
        self.buckets: dict[str, set[str]] = {}
        self.odd: set[str] = set()
        self.indexed: dict[str, tuple[Any, ...]] = {}  # id -> values as indexed (removal must not re-read)

    def add(self, resource_id: str, resource: dict) -> None:
        values = tuple(v for v in self.spec.values(resource) if v is not None)
        if values:  # most resources have no key: nothing to remember for them
            self.indexed[resource_id] = values
        for value in values:
            if isinstance(value, str):
                self.buckets.setdefault(value, set()).add(resource_id)
            else:
                self.odd.add(resource_id)

    def discard(self, resource_id: str) -> None:
        for value in self.indexed.pop(resource_id, ()):
            if isinstance(value, str):
                bucket = self.buckets.get(value)
                if bucket is not None:
                    bucket.discard(resource_id)
                    if not bucket:
                        del self.buckets[value]
            else:
                self.odd.discard(resource_id)

    def size(self, values: Iterable[Any]) -> int:
        """How many ids `candidates` would give for any of `values`, at most (nothing copied)."""
        return len(self.odd) + sum(len(self.buckets.get(v, ())) for v in values if isinstance(v, str))

    def admits(self, resource_id: str, values: Iterable[Any]) -> bool:
        """Whether `resource_id` is among the candidates for any of `values`."""
        return resource_id in self.odd or any(resource_id in self.buckets.get(v, ()) for v in values if isinstance(v, str))

    def candidates(self, value: Any) -> set[str]:
        found = set(self.odd)
        if isinstance(value, str):
            found |= self.buckets.get(value, set())
        return found
