"""X-Series error bodies vary: `{"error": "..."}`, `{"error": ..., "details": ...}`, `{"errors": {"global": [...]}}`."""

from __future__ import annotations


def error_codes(body) -> list[str]:
    if not isinstance(body, dict):
        return []
    codes = []
    if isinstance(body.get("error"), str):
        codes.append(body["error"])
    errors = body.get("errors")
    if isinstance(errors, dict):
        for messages in errors.values():
            codes.extend(str(m) for m in (messages if isinstance(messages, list) else [messages]))
    return codes
