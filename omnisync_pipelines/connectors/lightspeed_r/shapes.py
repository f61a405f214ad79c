"""Reading R-Series' XML-shaped JSON: every scalar a string (`"qoh": "3"`, `"completed": "true"`), a
relation with one child an object, with several a list, with none `""` or absent; a list wrapped in
its element name (`"ItemShops": {"ItemShop": [...]}`)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def _as_list(value: Any) -> list[dict]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def many(value: Any, child: str) -> list[dict]:
    """The children of a relation block: `many(row.get("ItemShops"), "ItemShop")`."""
    if isinstance(value, dict) and child in value:
        value = value[child]
    return _as_list(value)


def rows_of(body: dict, resource: str) -> list[dict]:
    """A response body's rows of `resource` (`{"Item": {...}}` or `{"Item": [...]}`), as a list."""
    return _as_list((body or {}).get(resource))


def text(v: Any) -> str:
    """A text field; `""` for a missing one."""
    if v is None or isinstance(v, dict | list):
        return ""
    return str(v)


def decimal(v: Any) -> Decimal | None:
    """A number field; None when missing or empty; ValueError when it is not a number."""
    if v is None or v == "" or isinstance(v, dict | list):
        return None
    if isinstance(v, bool):
        raise ValueError(f"{v!r} is not a number")
    try:
        number = Decimal(str(v).strip())
    except InvalidOperation as exc:
        raise ValueError(f"{str(v)[:40]!r} is not a number") from exc
    if not number.is_finite():
        raise ValueError(f"{v!r} is not a number")
    return number


def integer(v: Any) -> int:
    """An id or a count; 0 when missing (the API's "none" for a foreign key); ValueError when not whole."""
    number = decimal(v)
    if number is None:
        return 0
    if number != number.to_integral_value():
        raise ValueError(f"{v!r} is not a whole number")
    return int(number)


def flag(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    return text(v).strip().lower() == "true"


def ident(v: Any) -> str | None:
    """A foreign key as the id string, None for a missing one or `0` (the API's "none")."""
    value = text(v).strip()
    return None if value in ("", "0") else value
