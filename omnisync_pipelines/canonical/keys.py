"""Value-object keys and deterministic idempotency keys (DESIGN §6)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class SkuLocation:
    sku: str
    location_key: str

    def __str__(self) -> str:
        return f"{self.sku}@{self.location_key}"


def idempotency_key(source_system: str, source_record_id: str, source_version: str | int, flow: str) -> str:
    """The key one logical write carries through every retry, run and process.

    Readable on purpose (operators grep the ledger for it); the parts are joined with a separator
    that cannot occur inside a system id or flow name.
    """
    return f"{flow}|{source_system}|{source_record_id}|{source_version}"


def short_hash(*parts: object, length: int = 16) -> str:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return digest[:length]
