"""JSON shaped like the XML it is converted from: every scalar a string, a relation with one child an
object, several an array, none the empty string (`"Phones": ""`)."""

from __future__ import annotations

from datetime import UTC, datetime


def scalar(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = f"{value:.6f}".rstrip("0").rstrip(".")
        return text or "0"
    return str(value)


def shape(value):
    """A row (or part of one) as the API prints it."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return scalar(value)


def many(child: str, rows: list[dict]):
    """`{"ItemShop": {...}}`, `{"ItemShop": [...]}` or `""` (the XML's empty element)."""
    if not rows:
        return ""
    return {child: rows[0] if len(rows) == 1 else rows}


def unwrap(value, child: str) -> list[dict]:
    """The children of a request's relation block, whichever way it came (object, array, or bare)."""
    if not value:
        return []
    if isinstance(value, dict) and child in value:
        value = value[child]
    if isinstance(value, dict):
        return [value]
    return list(value) if isinstance(value, list) else []


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).isoformat()


def parse_time(text: str) -> datetime:
    text = text.strip().replace(" ", "+")  # an unencoded `+` in a query string arrives as a space
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
