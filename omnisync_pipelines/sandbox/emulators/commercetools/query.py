"""Query parameters shared by every `GET /{projectKey}/<resource>`: where, sort, limit, offset, withTotal."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import invalid_input
from .predicates import Matcher, PredicateError, compile_predicate, required_texts

Narrow = Callable[[list[tuple[str, frozenset[str]]]], list[dict] | None]
Items = list[dict] | Callable[[], list[dict]]  # the resources, or what lists them (only when no index narrows)

MAX_LIMIT = 500
MAX_OFFSET = 10000
TOTAL_CAP_WITH_WHERE = 10000


def _int_param(params, name: str, default: int, maximum: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_input(f"Malformed parameter: {name}: Invalid integer '{raw}'.") from None
    if value < 0 or value > maximum:
        raise invalid_input(f"Malformed parameter: {name}: The value must be between 0 and {maximum}, was {value}.")
    return value


def _variables(params) -> dict[str, list[str]]:
    return {k[4:]: params.getlist(k) for k in params if k.startswith("var.")}


def _compile(text: str, variables: dict[str, list[str]]) -> Matcher:
    try:
        return compile_predicate(text, variables)
    except PredicateError as exc:
        raise invalid_input(f"Malformed parameter: where: Syntax error while parsing 'where'. {exc}") from None


def filter_where(items: Items, params, narrow: Narrow | None = None) -> list[dict]:
    """The items every `where` matches. `narrow(conditions)` may answer, from indexes, a subset of
    the items (in their order) holding every item that meets each (field path, texts) condition."""
    variables = _variables(params)
    matchers = [_compile(text, variables) for text in params.getlist("where")]
    conditions = [condition for matcher in matchers for condition in required_texts(matcher)]
    narrowed = narrow(conditions) if narrow is not None and conditions else None
    items = narrowed if narrowed is not None else items() if callable(items) else items
    for matcher in matchers:
        items = [item for item in items if matcher(item)]
    return items


def _path_value(item: dict, path: str) -> Any:
    value: Any = item
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


# a field path: `id`, `name.en`, `name.de-CH`, `custom.fields.posSaleId`
_SORT_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")


def sort_items(items: list[dict], params) -> list[dict]:
    # Apply the least significant sort first; Python's sort is stable.
    for spec in reversed(params.getlist("sort")):
        parts = spec.split()
        if (len(parts) not in (1, 2) or not _SORT_PATH.match(parts[0])
                or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc"))):
            raise invalid_input(f"Malformed parameter: sort: Invalid sort expression '{spec}'.")
        path, descending = parts[0], len(parts) == 2 and parts[1].lower() == "desc"
        present = [i for i in items if _path_value(i, path) is not None]
        missing = [i for i in items if _path_value(i, path) is None]
        present.sort(key=lambda i: _sort_key(_path_value(i, path)), reverse=descending)
        items = present + missing
    return items


def _sort_key(value: Any) -> tuple:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


def run_query(items: Items, params, narrow: Narrow | None = None) -> dict:
    limit = _int_param(params, "limit", 20, MAX_LIMIT)
    offset = _int_param(params, "offset", 0, MAX_OFFSET)
    with_total = params.get("withTotal", "true").lower() != "false"
    matched = sort_items(filter_where(items, params, narrow), params)
    page = matched[offset : offset + limit]
    body: dict[str, Any] = {"limit": limit, "offset": offset, "count": len(page)}
    if with_total:
        cap = TOTAL_CAP_WITH_WHERE if params.getlist("where") else None
        body["total"] = min(len(matched), cap) if cap else len(matched)
    body["results"] = page
    return body
