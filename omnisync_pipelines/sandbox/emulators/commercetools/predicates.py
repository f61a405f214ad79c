"""Query predicates (`where=`): a small recursive-descent parser that compiles to a matcher.

Grammar (docs /api/predicates/query):
    expr     := conj ("or" conj)*
    conj     := unary ("and" unary)*
    unary    := "not" unary | "(" expr ")" | field
    field    := NAME "(" expr ")"                       nested object / any element of an array
              | NAME op value                           = != <> > >= < <=
              | NAME ["not"] "in" list
              | NAME "is" ["not"] ("defined" | "empty")
              | NAME "contains" [("any" | "all")] (value | list)
    value    := STRING | NUMBER | true | false | :variable
    list     := "(" value ("," value)* ")" | :variable
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Matcher = Callable[[Any], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<var>:[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>!=|<>|>=|<=|=|>|<)
      | (?P<punct>[(),])
      | (?P<name>[A-Za-z_][A-Za-z0-9_\-]*)
    )""",
    re.VERBOSE,
)
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


class PredicateError(ValueError):
    pass


def _tokenize(text: str) -> list[tuple[str, Any, int]]:
    tokens, pos, end = [], 0, len(text.rstrip())
    while pos < end:
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise PredicateError(f"Invalid input '{text[pos:].strip()[:1]}' (line 1, column {pos + 1})")
        kind = m.lastgroup
        raw = m.group(kind)
        value: Any = raw
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", raw[1:-1])
        elif kind == "number":
            value = float(raw) if "." in raw else int(raw)
        tokens.append((kind, value, m.start(kind) + 1))
        pos = m.end()
    tokens.append(("end", None, len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str, variables: dict[str, list[str]]):
        self.tokens = _tokenize(text)
        self.i = 0
        self.variables = variables

    # -- token helpers --------------------------------------------------------------------
    def peek(self, offset: int = 0) -> tuple[str, Any, int]:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def is_word(self, word: str, offset: int = 0) -> bool:
        kind, value, _ = self.peek(offset)
        return kind == "name" and value.lower() == word

    def take(self, kind: str, value: Any = None) -> Any:
        k, v, col = self.peek()
        if k != kind or (value is not None and v != value):
            shown = "end of input" if k == "end" else f"'{v}'"
            raise PredicateError(f"Invalid input {shown}, expected {value or kind} (line 1, column {col})")
        self.i += 1
        return v

    def take_word(self, word: str) -> None:
        if not self.is_word(word):
            _, v, col = self.peek()
            raise PredicateError(f"Invalid input '{v}', expected {word} (line 1, column {col})")
        self.i += 1

    # -- grammar --------------------------------------------------------------------------
    def parse(self) -> Matcher:
        if self.peek()[0] == "end":
            raise PredicateError("Unexpected end of input, expected not or conditional expression (line 1, column 1)")
        matcher = self.expr()
        self.take("end")
        return matcher

    def expr(self) -> Matcher:
        parts = [self.conj()]
        while self.is_word("or"):
            self.i += 1
            parts.append(self.conj())
        return parts[0] if len(parts) == 1 else (lambda obj: any(p(obj) for p in parts))

    def conj(self) -> Matcher:
        parts = [self.unary()]
        while self.is_word("and"):
            self.i += 1
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else _AllOf(parts)

    def unary(self) -> Matcher:
        if self.is_word("not") and (self.peek(1)[1] == "(" or self.peek(1)[0] == "name"):
            self.i += 1
            inner = self.unary()
            return lambda obj: not inner(obj)
        if self.peek()[1] == "(" and self.peek()[0] == "punct":
            self.i += 1
            inner = self.expr()
            self.take("punct", ")")
            return inner
        return self.field()

    def field(self) -> Matcher:
        name = self.take("name")
        kind, value, col = self.peek()
        if kind == "punct" and value == "(":
            self.i += 1
            inner = self.expr()
            self.take("punct", ")")
            return _Nested(name, inner)
        if kind == "op":
            self.i += 1
            op = "!=" if value == "<>" else value
            literal = self.scalar()
            matcher = lambda obj: _any_value(_get(obj, name), lambda v: _compare(v, op, literal))  # noqa: E731
            return _OneOfTexts(name, [literal], matcher) if op == "=" and _plain_texts([literal]) else matcher
        if self.is_word("not") and self.is_word("in", 1):
            self.i += 2
            member = _membership(self.values())
            return lambda obj: _get(obj, name) is not None and not _any_value(_get(obj, name), member)
        if self.is_word("in"):
            self.i += 1
            values = self.values()
            member = _membership(values)
            matcher = lambda obj: _any_value(_get(obj, name), member)  # noqa: E731
            return _OneOfTexts(name, values, matcher) if _plain_texts(values) else matcher
        if self.is_word("is"):
            self.i += 1
            negate = self.is_word("not")
            if negate:
                self.i += 1
            if self.is_word("defined"):
                self.i += 1
                return lambda obj: (_get(obj, name) is not None) != negate
            self.take_word("empty")
            return lambda obj: (_get(obj, name) in (None, [], {})) != negate
        if self.is_word("contains"):
            self.i += 1
            mode = "one"
            if self.is_word("any") or self.is_word("all"):
                mode = self.take("name").lower()
            values = self.values() if mode != "one" else [self.scalar()]
            check = all if mode == "all" else any
            return lambda obj: check(_is_in(v, _as_list(_get(obj, name))) for v in values)
        shown = "end of input" if kind == "end" else f"'{value}'"
        raise PredicateError(f"Invalid input {shown}, expected comparison operator or '(' (line 1, column {col})")

    def scalar(self) -> Any:
        kind, value, col = self.peek()
        if kind in ("string", "number"):
            self.i += 1
            return value
        if kind == "name" and value in ("true", "false"):
            self.i += 1
            return value == "true"
        if kind == "var":
            self.i += 1
            found = self._variable(value, col)
            if len(found) != 1:
                raise PredicateError(f"Variable '{value}' has {len(found)} values, expected one (line 1, column {col})")
            return found[0]
        shown = "end of input" if kind == "end" else f"'{value}'"
        raise PredicateError(f"Invalid input {shown}, expected a value (line 1, column {col})")

    def values(self) -> list[Any]:
        kind, value, col = self.peek()
        if kind == "var":
            self.i += 1
            return self._variable(value, col)
        self.take("punct", "(")
        items = [self.scalar()]
        while self.peek()[1] == "," and self.peek()[0] == "punct":
            self.i += 1
            items.append(self.scalar())
        self.take("punct", ")")
        return items

    def _variable(self, token: str, col: int) -> list[Any]:
        name = token[1:]
        if name not in self.variables:
            raise PredicateError(f"Unknown variable '{name}', pass it as 'var.{name}' (line 1, column {col})")
        return list(self.variables[name])


def compile_predicate(text: str, variables: dict[str, list[str]] | None = None) -> Matcher:
    """Parse one `where` predicate; raises PredicateError on bad syntax."""
    return _Parser(text, variables or {}).parse()


# -- what a store index can use -------------------------------------------------------------
class _OneOfTexts:
    """`name = "text"` or `name in ("a", "b")` with plain text: a resource whose top-level `name`
    is text matches only when it is one of `texts` (other values compare by their own rules)."""

    def __init__(self, name: str, texts: list[str], matcher: Matcher):
        self.name, self.texts, self.matcher = name, frozenset(texts), matcher

    def __call__(self, obj: Any) -> bool:
        value = _get(obj, self.name)
        return value in self.texts if isinstance(value, str) else self.matcher(obj)


class _Nested:
    """`name(inner)`: the object under `name` (any element of an array there) matches `inner`."""

    def __init__(self, name: str, inner: Matcher):
        self.name, self.inner = name, inner

    def __call__(self, obj: Any) -> bool:
        return _nested(_get(obj, self.name), self.inner)


class _AllOf:
    def __init__(self, parts: list[Matcher]):
        self.parts = parts

    def __call__(self, obj: Any) -> bool:
        return all(p(obj) for p in self.parts)


def required_texts(matcher: Matcher) -> list[tuple[str, frozenset[str]]]:
    """The (field path, texts) conditions every match must meet: `field = "x"` / `field in (...)`
    terms joined by `and`, at the top of the predicate or inside a nested one
    (`supplyChannel(id = "x")` needs `supplyChannel.id` to be "x")."""
    if isinstance(matcher, _OneOfTexts):
        return [(matcher.name, matcher.texts)]
    if isinstance(matcher, _AllOf):
        return [found for part in matcher.parts for found in required_texts(part)]
    if isinstance(matcher, _Nested):
        return [(f"{matcher.name}.{path}", texts) for path, texts in required_texts(matcher.inner)]
    return []


def _plain_texts(values: list[Any]) -> bool:
    # timestamps compare as instants ("...00Z" equals "...00.000Z"), so they are not plain text
    return all(isinstance(v, str) and not _TIMESTAMP.match(v) for v in values)


# -- evaluation -------------------------------------------------------------------------------
def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else None


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _nested(value: Any, inner: Matcher) -> bool:
    # A nested predicate on an array matches when any element matches (e.g. variants(sku="x")).
    return any(inner(v) for v in _as_list(value) if isinstance(v, dict))


def _any_value(value: Any, check: Callable[[Any], bool]) -> bool:
    return any(check(v) for v in _as_list(value))


def _is_in(actual: Any, values: list[Any]) -> bool:
    return any(_compare(actual, "=", v) for v in values)


def _membership(values: list[Any]) -> Callable[[Any], bool]:
    """`actual in (values)` as `=` against each value, with plain text values in a set: a paged
    `sku in (500 SKUs)` over every inventory entry must not compare each pair."""
    plain = {v for v in values if isinstance(v, str) and not _TIMESTAMP.match(v)}
    others = [v for v in values if not (isinstance(v, str) and v in plain)]

    def member(actual: Any) -> bool:
        if isinstance(actual, str):
            return actual in plain or any(_compare(actual, "=", v) for v in others)
        return any(_compare(actual, "=", v) for v in values)

    return member


def _coerce(actual: Any, literal: Any) -> tuple[Any, Any] | None:
    """The pair to compare, or None when the types cannot be compared (never matches)."""
    if isinstance(literal, bool) or isinstance(actual, bool):
        return (actual, literal) if isinstance(actual, bool) and isinstance(literal, bool) else None
    if isinstance(literal, (int, float)):
        return (actual, literal) if isinstance(actual, (int, float)) else None
    if isinstance(literal, str) and isinstance(actual, (int, float)):  # var.<name> values are strings
        try:
            return actual, float(literal)
        except ValueError:
            return None
    if isinstance(literal, str) and isinstance(actual, str):
        if _TIMESTAMP.match(literal) and _TIMESTAMP.match(actual) and "T" in literal and "T" in actual:
            return _parse_time(actual), _parse_time(literal)
        return actual, literal
    return None


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _compare(actual: Any, op: str, literal: Any) -> bool:
    pair = _coerce(actual, literal)
    if pair is None:
        return False
    return _OPERATORS[op](*pair)


_OPERATORS = {"=": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge, "<": operator.lt,
              "<=": operator.le}
