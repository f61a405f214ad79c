"""In-memory resource store (by typeId) and the per-request mutation context.

Every write goes through a `Ctx`: changed resources are staged copies and messages are pending until
`commit()`, so a request whose later action fails leaves no trace (updates are all-or-nothing).
`put` and `remove` keep the indexes (indexes.py) in step, so lookups by key, SKU or order number
read a few candidates instead of every resource of the type.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import random
import string
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from .indexes import Index, IndexSpec, field_index

Lookup = tuple[str, Any]  # (index name, value)


_SCALARS = (str, int, float, bool, type(None))


def clone(value: Any) -> Any:
    """A deep copy of JSON data; several times faster than copy.deepcopy, which each write pays."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value if isinstance(value, _SCALARS) else copy.deepcopy(value)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Store:
    def __init__(self, seed: int, client_id: str, indexes: Iterable[tuple[str, IndexSpec]] = ()):
        self.rng = random.Random(seed)
        self.client_id = client_id
        self.data: dict[str, dict[str, dict]] = {}  # typeId -> id -> resource (insertion ordered)
        self.positions: dict[str, dict[str, int]] = {}  # typeId -> id -> place in that order
        self._places = itertools.count()
        self._specs: dict[str, list[IndexSpec]] = {}
        for type_id, spec in indexes:
            self._specs.setdefault(type_id, []).append(spec)
        self.indexes: dict[str, dict[str, Index]] = {}  # typeId -> index name -> index
        self.messages: list[dict] = []
        self.messages_enabled = True  # the project's Messages Query feature (`messages.enabled`)
        # Who created or last changed a resource (LastModifiedBy / CreatedBy: `clientId`, nothing the
        # vendor document does not declare): one shared, never mutated dict (edits clone first).
        self.initiator = {"clientId": client_id}
        # The last message sequence number of each resource, by id: kept here, not on the resource
        # (the vendor document declares no such field on resources).
        self.sequence_numbers: dict[str, int] = {}
        self.lock = asyncio.Lock()
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def short_id(self) -> str:
        """Address ids are short random strings in the real API."""
        return "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(8))

    def now(self) -> str:
        return iso(self.clock())

    def all(self, type_id: str) -> list[dict]:
        return list(self.data.get(type_id, {}).values())

    def get(self, type_id: str, resource_id: str) -> dict | None:
        return self.data.get(type_id, {}).get(resource_id)

    def find(self, type_id: str, field: str, value) -> dict | None:
        return next((r for r in self.candidates(type_id, (field, value)) if value is not None and r.get(field) == value),
                    None)

    def put(self, type_id: str, resource: dict) -> None:
        resource_id = resource["id"]
        resources = self.data.setdefault(type_id, {})
        indexes = self._indexes(type_id).values()
        if resource_id in resources:
            for index in indexes:
                index.discard(resource_id)
        else:
            self.positions.setdefault(type_id, {})[resource_id] = next(self._places)
        resources[resource_id] = resource
        for index in indexes:
            index.add(resource_id, resource)

    def remove(self, type_id: str, resource_id: str) -> None:
        if self.data.get(type_id, {}).pop(resource_id, None) is None:
            return
        del self.positions[type_id][resource_id]
        for index in self._indexes(type_id).values():
            index.discard(resource_id)

    # -- indexed reads --------------------------------------------------------------------
    def _indexes(self, type_id: str) -> dict[str, Index]:
        if type_id not in self.indexes:  # every type is found by key; kinds add their own indexes
            specs = [field_index("key"), *self._specs.get(type_id, [])]
            self.indexes[type_id] = {spec.name: Index(spec) for spec in specs}
        return self.indexes[type_id]

    def candidate_ids(self, type_id: str, *lookups: Lookup) -> set[str] | None:
        """Ids of the resources that may match any of `lookups`; None when one is not indexed."""
        indexes = self._indexes(type_id)
        if any(name not in indexes for name, _ in lookups):
            return None
        return set().union(*(indexes[name].candidates(value) for name, value in lookups))

    def in_order(self, type_id: str, ids: Iterable[str]) -> list[str]:
        """Stored `ids` in the order `all()` lists them (ids not stored are left out)."""
        positions = self.positions.get(type_id, {})
        return sorted((i for i in ids if i in positions), key=positions.__getitem__)

    def candidates(self, type_id: str, *lookups: Lookup) -> list[dict]:
        """The resources that may match any of `lookups`, in `all()` order; callers re-check their
        condition (see indexes.py)."""
        ids = self.candidate_ids(type_id, *lookups)
        if ids is None:
            return self.all(type_id)
        resources = self.data.get(type_id, {})
        return [resources[i] for i in self.in_order(type_id, ids)]

    def matching(self, type_id: str, conditions: Iterable[tuple[str, Iterable[str]]]) -> list[dict] | None:
        """For a `where` that needs each (field path, texts) condition met: the resources every
        indexed condition admits, in `all()` order, or None when no condition's field is indexed."""
        indexes = self._indexes(type_id)
        usable = [(indexes[field], list(texts)) for field, texts in conditions
                  if field in indexes and indexes[field].spec.field == field]
        if not usable:
            return None
        # the narrowest condition lists its ids; the others only check them (a store's whole
        # bucket is never copied to answer a query for a hundred of its SKUs)
        usable.sort(key=lambda found: found[0].size(found[1]))
        (index, texts), others = usable[0], usable[1:]
        admitted = set().union(*(index.candidates(text) for text in texts))
        admitted = {i for i in admitted if all(other.admits(i, values) for other, values in others)}
        resources = self.data.get(type_id, {})
        return [resources[i] for i in self.in_order(type_id, admitted)]


class Ctx:
    """One request's view of the store: reads see staged changes, commit() publishes them."""

    def __init__(self, store: Store):
        self.store = store
        self.now = store.now()
        self.staged: dict[tuple[str, str], dict] = {}
        self.created: set[tuple[str, str]] = set()
        self.pending_messages: list[tuple[str, str, str, dict]] = []  # (typeId, id, type, payload)

    def new_id(self) -> str:
        return self.store.new_id()

    def get(self, type_id: str, resource_id: str | None) -> dict | None:
        if resource_id is None:
            return None
        staged = self.staged.get((type_id, resource_id))
        return staged if staged is not None else self.store.get(type_id, resource_id)

    def all(self, type_id: str) -> list[dict]:
        merged = {r["id"]: r for r in self.store.all(type_id)}
        merged.update({rid: r for (tid, rid), r in self.staged.items() if tid == type_id})
        return list(merged.values())

    def candidates(self, type_id: str, *lookups: Lookup) -> list[dict]:
        """`Store.candidates` as this request sees it, in `all()` order: staged versions replace
        stored ones, and every resource staged here is a candidate (callers re-check)."""
        ids = self.store.candidate_ids(type_id, *lookups)
        if ids is None:
            return self.all(type_id)
        staged = [rid for tid, rid in self.staged if tid == type_id]
        stored = self.store.in_order(type_id, ids.union(staged))
        created = [rid for rid in staged if (type_id, rid) in self.created]
        return [self.get(type_id, rid) for rid in stored + created]

    def find(self, type_id: str, field: str, value) -> dict | None:
        return next((r for r in self.candidates(type_id, (field, value)) if value is not None and r.get(field) == value),
                    None)

    def edit(self, type_id: str, resource_id: str) -> dict:
        """A staged, mutable copy of another resource changed as a side effect (version bumps on commit)."""
        key = (type_id, resource_id)
        if key not in self.staged:
            self.staged[key] = clone(self.store.get(type_id, resource_id))
        return self.staged[key]

    def stage_new(self, type_id: str, fields: dict) -> dict:
        resource = {
            "id": fields.pop("id", None) or self.new_id(),
            "version": 1,
            "createdAt": self.now,
            "lastModifiedAt": self.now,
            "lastModifiedBy": self.store.initiator,
            "createdBy": self.store.initiator,
            **fields,
        }
        self.staged[(type_id, resource["id"])] = resource
        self.created.add((type_id, resource["id"]))
        return resource

    def stage_update(self, type_id: str, resource: dict) -> None:
        self.staged[(type_id, resource["id"])] = resource

    def emit(self, type_id: str, resource_id: str, message_type: str, **payload) -> None:
        self.pending_messages.append((type_id, resource_id, message_type, payload))

    def commit(self) -> None:
        for (type_id, resource_id), resource in self.staged.items():
            original = self.store.get(type_id, resource_id)
            if (type_id, resource_id) not in self.created:
                if original == resource:
                    continue  # the real API does not bump the version when nothing changed
                resource["version"] = original["version"] + 1
                resource["lastModifiedAt"] = self.now
            self.store.put(type_id, resource)
        for type_id, resource_id, message_type, payload in self.pending_messages:
            resource = self.store.get(type_id, resource_id) or payload.pop("_deleted", None)
            self._record_message(type_id, resource, message_type, payload)

    def _record_message(self, type_id: str, resource: dict, message_type: str, payload: dict) -> None:
        sequence = self.store.sequence_numbers[resource["id"]] = self.store.sequence_numbers.get(resource["id"], 0) + 1
        identifiers = {k: resource[k] for k in ("key", "orderNumber", "customerNumber", "externalId", "sku")
                       if resource.get(k) is not None}
        if not self.store.messages_enabled:
            return  # generated (the sequence number moves on) but not kept for the Messages Query
        self.store.messages.append({
            "id": self.new_id(),
            "version": 1,
            "sequenceNumber": sequence,
            "resource": {"typeId": type_id, "id": resource["id"]},
            "resourceVersion": resource["version"],
            "resourceUserProvidedIdentifiers": identifiers,
            "type": message_type,
            "createdAt": self.now,
            "lastModifiedAt": self.now,
            **payload,
        })
