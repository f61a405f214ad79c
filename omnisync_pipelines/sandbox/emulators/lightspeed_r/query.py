"""V3 reads: `field=<op>,<value>` filters, `or`, `archived`, `sort`, and the `after`/`before` cursors
(base64 of a JSON array of the sort key: `[100]` for the primary key, `[value, id]` otherwise)."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import urlencode

from omnisync_pipelines.sandbox.emulators.lightspeed_r.xmljson import parse_time

RESERVED = {"limit", "sort", "after", "before", "count", "load_relations", "archived", "or", "offset", "orderby",
            "orderby_desc"}
OPERATORS = ("><", ">=", "<=", "!=", "!~", ">", "<", "~", "IN", "=")
MAX_LIMIT = 100


class QueryError(Exception):
    pass


def _coerce(sample, text: str, field: str):
    if field == "timeStamp" or field.endswith(("Time", "time")) or field == "dob":
        return parse_time(text)
    if isinstance(sample, bool):
        return text.lower() == "true"
    if isinstance(sample, int):
        return int(float(text))
    if isinstance(sample, float):
        return float(text)
    return text


def _value(row: dict, field: str):
    value = row.get(field)
    if isinstance(value, str) and value and (field == "timeStamp" or field.endswith(("Time", "time"))):
        return parse_time(value)
    return value


def _like(pattern: str) -> re.Pattern:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("%")) + "$", re.I | re.S)


def condition(field: str, raw: str):
    """`raw` is the decoded value: `>,2026-01-01T00:00:00+00:00`, `IN,[1,2]`, `~,tee%`, `7`..."""
    op, arg = "=", raw
    for candidate in OPERATORS:
        if raw.startswith(candidate + ","):
            op, arg = candidate, raw[len(candidate) + 1:]
            break

    def test(row: dict) -> bool:
        if field not in row:
            raise QueryError(f"Invalid search field: {field}")
        value = _value(row, field)
        if value is None or value == "":
            return op in ("!=", "!~") or (op == "=" and arg == "")
        try:
            if op == "IN":
                items = json.loads(arg) if arg.startswith("[") else arg.split(",")
                if len(items) > 100:
                    raise QueryError("IN accepts at most 100 values per field")
                return value in {_coerce(value, str(i), field) for i in items}
            if op in ("~", "!~"):
                hit = bool(_like(arg).match(str(row.get(field))))
                return hit if op == "~" else not hit
            if op == "><":
                low, high = arg.split(",", 1)
                return _coerce(value, low, field) <= value <= _coerce(value, high, field)
            other = _coerce(value, arg, field)
        except (ValueError, TypeError) as exc:
            raise QueryError(f"Invalid value for {field}: {arg}") from exc
        return {"=": value == other, "!=": value != other, ">": value > other, ">=": value >= other,
                "<": value < other, "<=": value <= other}[op]
    return test


def related_condition(key: str, raw: str, loaded: list[str], search):
    """`Relation.field=<op>,<value>`: a row passes when one of its related records does; the relation
    must be loaded (relations.md, "Searching in Relations")."""
    relation, field = key.split(".", 1)
    if relation not in loaded:
        raise QueryError(f"Relation {relation} must be loaded with load_relations to search {key}")
    test = condition(field, raw)
    return lambda row: any(test(r) for r in search(row, relation) if field in r)


def filters(params: list[tuple[str, str]], loaded: list[str] | None = None, search=None) -> list:
    """The row predicates of a query string (`or=f%3Dv1|f%3D~,v2` one of them)."""
    tests = []
    for key, raw in params:
        if key in RESERVED:
            continue
        if "." in key and search is not None:
            tests.append(related_condition(key, raw, loaded or [], search))
        else:
            tests.append(condition(key, raw))
    for key, raw in params:
        if key == "or":
            parts = [p.split("=", 1) for p in raw.split("|") if "=" in p]
            alternatives = [condition(f, v) for f, v in parts]
            tests.append(lambda row, alts=alternatives: any(t(row) for t in alts))
    return tests


def archived_ok(row: dict, mode: str) -> bool:
    if "archived" not in row or mode == "true":
        return True
    return bool(row["archived"]) == (mode == "only")


def encode_cursor(key: list) -> str:
    return base64.b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_cursor(text: str) -> list:
    try:
        key = json.loads(base64.b64decode(text))
        assert isinstance(key, list)
        return key
    except Exception as exc:  # noqa: BLE001 - any garbage cursor is a 400
        raise QueryError("Invalid pagination cursor") from exc


def _sortable(value):
    return value.timestamp() if hasattr(value, "timestamp") else value


def page(rows: list[dict], pk: str, params: dict, sortable: tuple[str, ...], base_url: str):
    """(rows of the page, next URL, previous URL)."""
    sort = params.get("sort", pk)
    field, desc = sort.removeprefix("-"), sort.startswith("-")
    if field not in sortable:
        raise QueryError(f"Invalid sort field: {field}. Allowed sort fields: {', '.join(sortable)}")
    try:
        limit = min(MAX_LIMIT, max(0, int(params.get("limit", MAX_LIMIT))))
    except ValueError as exc:
        raise QueryError("limit must be an integer") from exc

    timed = field == "timeStamp" or field.endswith(("Time", "time"))

    def key(row) -> list:  # an unset time (an open sale's completeTime) sorts first, as 0
        return [row[pk]] if field == pk else [_sortable(_value(row, field)) or (0 if timed else ""), row[pk]]

    ordered = sorted(rows, key=key, reverse=desc)
    after, before = params.get("after"), params.get("before")

    def beyond(row, cursor, forward) -> bool:
        k = key(row)
        return (k > cursor if forward else k < cursor) != desc

    if after:
        cursor = decode_cursor(after)
        rest = [r for r in ordered if beyond(r, cursor, True)]
        chosen, earlier = rest[:limit], True
        later = len(rest) > limit
    elif before:
        cursor = decode_cursor(before)
        rest = [r for r in ordered if beyond(r, cursor, False)]
        chosen = rest[-limit:] if limit else []
        earlier, later = len(rest) > limit, True
    else:
        chosen, earlier, later = ordered[:limit], False, len(ordered) > limit
    keep = {k: v for k, v in params.items() if k not in ("after", "before")}
    keep.setdefault("sort", sort)
    keep.setdefault("limit", str(limit))

    def url(direction: str, row) -> str:
        return f"{base_url}?{urlencode({**keep, direction: encode_cursor(key(row))})}"

    nxt = url("after", chosen[-1]) if later and chosen else ""
    prev = url("before", chosen[0]) if earlier and chosen else ""
    return chosen, nxt, prev
