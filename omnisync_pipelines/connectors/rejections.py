"""A raw record a connector cannot map becomes a `Rejection` naming the record and the field; the
rest of the read proceeds. A connector's mapping raises `MappingError(field, reason)` and wraps its
mapping functions with `rejecting`, passing its own `reject` (how it names a record and keeps it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from omnisync_pipelines.canonical.models import Rejection

R = TypeVar("R")
Reject = Callable[[str, dict, "MappingError"], Rejection]  # (entity, raw record, error) -> Rejection
# a shape no mapping rule foresaw (a string where a number belongs, a list for an object, ...)
UNFORESEEN = (TypeError, ValueError, KeyError, AttributeError, ArithmeticError)


class MappingError(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


def rejecting(entity: str, fn: Callable[..., R], raw: dict, *args, reject: Reject, **kwargs) -> R | Rejection:
    """`fn(raw, *args, **kwargs)`, or the rejection of `raw` when it cannot be mapped."""
    try:
        return fn(raw, *args, **kwargs)
    except MappingError as exc:
        return reject(entity, raw, exc)
    except UNFORESEEN as exc:
        reason = f"{entity}: malformed record ({type(exc).__name__}: {str(exc)[:200]})"
        return reject(entity, raw if isinstance(raw, dict) else {"raw": str(raw)[:200]}, MappingError("record", reason))


def split(results: list) -> tuple[list, list[Rejection]]:
    """Separate mapped records from Rejections (a mapped item may be a tuple of records)."""
    return [r for r in results if not isinstance(r, Rejection)], [r for r in results if isinstance(r, Rejection)]
