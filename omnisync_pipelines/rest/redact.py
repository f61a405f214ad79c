"""Mask secrets and personal data before anything is logged.

Secrets (tokens, passwords, client secrets, Authorization) are replaced whole; emails and phone
numbers are masked wherever they appear in a logged body, under any key; names, birth dates and
street addresses are masked under the keys that carry them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
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
    else:
        text = json.dumps(redact_value(body), ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= max_chars else text[:max_chars] + f"...(+{len(text) - max_chars} chars)"
