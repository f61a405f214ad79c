"""Mask secrets and personal data before anything is logged.

Secrets (tokens, passwords, client secrets, Authorization) are replaced whole; emails and phone
numbers are masked wherever they appear in a logged body, under any key; names, birth dates and
street addresses are masked under the keys that carry them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
SECRET_KEY = re.compile(
    r"(authorization|token|secret|password|passwd|api[_-]?key|cookie|signature|credential|session)", re.I
)
# Keys whose values identify a shopper (commercetools camelCase and X-Series snake_case alike): names,
# birth date, street lines and postcode. Product or store `name`s are not personal and stay readable.
PERSONAL_KEY = re.compile(
    r"^(e-?mail|customer_?email|phone|mobile|telephone|fax"
    r"|(first|middle|last|given|family)_?name|salutation|date_?of_?birth|birthday"
    r"|street_?(name|number)?|additional_?street_?info|additional_?address_?info|apartment|building"
    r"|postal_?code|post_?code|zip(_?code)?"
    r"|(physical|postal)_(address_?\d|suburb|postcode))$",
    re.I,
)
EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# International (+49 30 1234567) or grouped (030 123 4567, (555) 123-4567) numbers; not ISO dates or ids.
PHONE = re.compile(
    r"(?<![\w-])(?:\+\d[\d ().-]{6,}\d|\(?\d{3,5}\)?[ .-]\d{3,4}[ .-]?\d{3,5})(?![\w-])"
)
BEARER = re.compile(r"(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.I)


def mask_text(text: str) -> str:
    text = BEARER.sub(r"\1 " + MASK, text)
    text = EMAIL.sub(lambda m: f"{m.group(1)}{MASK}@{m.group(2)}", text)
    return PHONE.sub(MASK, text)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: (MASK if SECRET_KEY.search(k) else v) for k, v in headers.items()}


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1] if "@" in parts.netloc else parts.netloc
    query = urlencode(
        [(k, MASK if SECRET_KEY.search(k) else mask_text(v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)],
        safe='*"=<> ',
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_value(value: Any, key: str = "") -> Any:
    if key and SECRET_KEY.search(key) and not isinstance(value, dict | list):
        return MASK
    if isinstance(value, Mapping):
        return {k: redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    if isinstance(value, str):
        if key and PERSONAL_KEY.match(key) and value and not EMAIL.fullmatch(value.strip()):
            return MASK
        return mask_text(value)
    return value


def _key_text(key: Any) -> str:
    """A key as json.dumps writes it (a non-text key becomes text)."""
    if isinstance(key, str):
        return json.dumps(key, ensure_ascii=False)
    return json.dumps({key: 0}, ensure_ascii=False, separators=(",", ":"))[1:-3]


def _redacted_json(value: Any, key: str = "") -> Iterator[str]:
    """`json.dumps(redact_value(value))` (compact) piece by piece, so a caller keeping only the first
    characters of a large body redacts only those (a push sends 100-mutation documents)."""
    if key and SECRET_KEY.search(key) and not isinstance(value, dict | list):
        yield json.dumps(MASK)
    elif isinstance(value, Mapping):
        yield "{"
        for index, (name, item) in enumerate(value.items()):
            yield ("," if index else "") + _key_text(name) + ":"
            yield from _redacted_json(item, str(name))
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for index, item in enumerate(value):
            if index:
                yield ","
            yield from _redacted_json(item)
        yield "]"
    else:
        yield json.dumps(redact_value(value, key), ensure_ascii=False, separators=(",", ":"), default=str)


def redact_body(body: Any, max_chars: int = 2048) -> str | None:
    """A redacted, truncated text rendering of a JSON/form/text body, for the call log."""
    if body is None or body == b"" or body == "":
        return None
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            if "=" in body and " " not in body.strip():
                body = dict(parse_qsl(body, keep_blank_values=True))
    if isinstance(body, str):
        text = mask_text(body)
        return text if len(text) <= max_chars else text[:max_chars] + f"...(+{len(text) - max_chars} chars)"
    pieces, size = [], 0
    for piece in _redacted_json(body):
        pieces.append(piece)
        size += len(piece)
        if size > max_chars:
            break
    else:
        return "".join(pieces)
    # cut short: how much more there was, from the unredacted body (masking changes it by a little)
    whole = len(json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str))
    return "".join(pieces)[:max_chars] + f"...(+{max(whole - max_chars, 1)} chars)"
