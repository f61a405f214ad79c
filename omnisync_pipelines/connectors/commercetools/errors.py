"""Reading commercetools error bodies: `{"statusCode", "message", "errors": [{"code", ...}]}`."""

from __future__ import annotations

from typing import Any

from omnisync_pipelines.rest.errors import ApiStatusError


def error_codes(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return []
    codes = [e["code"] for e in body.get("errors") or [] if isinstance(e, dict) and e.get("code")]
    if not codes and isinstance(body.get("error"), str):  # the auth service's OAuth-style body
        codes = [body["error"]]
    return codes


def _errors(exc_or_body: Any) -> list[dict]:
    body = exc_or_body.body if isinstance(exc_or_body, ApiStatusError) else exc_or_body
    if not isinstance(body, dict):
        return []
    return [e for e in body.get("errors") or [] if isinstance(e, dict)]


def has_code(exc: ApiStatusError, code: str) -> bool:
    return code in exc.codes


def current_version(exc_or_body: Any) -> int | None:
    """The `currentVersion` a ConcurrentModification error reports, if any."""
    for error in _errors(exc_or_body):
        if error.get("code") == "ConcurrentModification" and error.get("currentVersion") is not None:
            return int(error["currentVersion"])
    return None


def duplicate_field(exc_or_body: Any) -> tuple[str | None, Any] | None:
    """(field, duplicateValue) of the first DuplicateField error, or None."""
    for error in _errors(exc_or_body):
        if error.get("code") == "DuplicateField":
            return error.get("field"), error.get("duplicateValue")
    return None


def is_duplicate_of(exc: ApiStatusError, field: str) -> bool:
    found = duplicate_field(exc)
    return exc.status == 400 and found is not None and (found[0] in (None, field))
