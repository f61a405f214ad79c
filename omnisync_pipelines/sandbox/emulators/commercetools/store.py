"""In-memory resource store (by typeId) and the per-request mutation context.

Every write goes through a `Ctx`: changed resources are staged copies and messages are pending until
`commit()`, so a request whose later action fails leaves no trace (updates are all-or-nothing).
"""

from __future__ import annotations

import asyncio
import copy
import random
import string
import uuid
from collections.abc import Callable
from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Store:
    def __init__(self, seed: int, client_id: str):
        self.rng = random.Random(seed)
        self.client_id = client_id
        self.data: dict[str, dict[str, dict]] = {}  # typeId -> id -> resource (insertion ordered)
        self.messages: list[dict] = []
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
        return next((r for r in self.all(type_id) if value is not None and r.get(field) == value), None)

    def put(self, type_id: str, resource: dict) -> None:
        self.data.setdefault(type_id, {})[resource["id"]] = resource

    def remove(self, type_id: str, resource_id: str) -> None:
        self.data.get(type_id, {}).pop(resource_id, None)


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

    def find(self, type_id: str, field: str, value) -> dict | None:
        return next((r for r in self.all(type_id) if value is not None and r.get(field) == value), None)

    def edit(self, type_id: str, resource_id: str) -> dict:
        """A staged, mutable copy of another resource changed as a side effect (version bumps on commit)."""
        key = (type_id, resource_id)
        if key not in self.staged:
            self.staged[key] = copy.deepcopy(self.store.get(type_id, resource_id))
        return self.staged[key]

    def stage_new(self, type_id: str, fields: dict) -> dict:
        resource = {
            "id": fields.pop("id", None) or self.new_id(),
            "version": 1,
            "versionModifiedAt": self.now,
            "lastMessageSequenceNumber": 0,
            "createdAt": self.now,
            "lastModifiedAt": self.now,
            "lastModifiedBy": {"clientId": self.store.client_id, "isPlatformClient": False},
            "createdBy": {"clientId": self.store.client_id, "isPlatformClient": False},
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
                resource["lastModifiedAt"] = resource["versionModifiedAt"] = self.now
            self.store.put(type_id, resource)
        for type_id, resource_id, message_type, payload in self.pending_messages:
            resource = self.store.get(type_id, resource_id) or payload.pop("_deleted", None)
            self._record_message(type_id, resource, message_type, payload)

    def _record_message(self, type_id: str, resource: dict, message_type: str, payload: dict) -> None:
        resource["lastMessageSequenceNumber"] = resource.get("lastMessageSequenceNumber", 0) + 1
        identifiers = {k: resource[k] for k in ("key", "orderNumber", "customerNumber", "externalId", "sku")
                       if resource.get(k) is not None}
        self.store.messages.append({
            "id": self.new_id(),
            "version": 1,
            "sequenceNumber": resource["lastMessageSequenceNumber"],
            "resource": {"typeId": type_id, "id": resource["id"]},
            "resourceVersion": resource["version"],
            "resourceUserProvidedIdentifiers": identifiers,
            "type": message_type,
            "createdAt": self.now,
            "lastModifiedAt": self.now,
            **payload,
        })
