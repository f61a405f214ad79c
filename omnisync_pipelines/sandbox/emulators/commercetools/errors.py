"""commercetools error bodies: `{"statusCode", "message", "errors": [{"code", "message", ...}]}`."""

from __future__ import annotations

import json
from typing import Any


class CtError(Exception):
    """An API error; `app` turns it into the JSON error response."""

    def __init__(self, status: int, code: str, message: str, extra_body: dict | None = None, **fields: Any):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.extra_body = extra_body or {}

    def body(self) -> dict:
        error = {"code": self.code, "message": self.message, **self.fields}
        return {"statusCode": self.status, "message": self.message, "errors": [error], **self.extra_body}


def invalid_input(message: str) -> CtError:
    return CtError(400, "InvalidInput", message)


def invalid_operation(message: str) -> CtError:
    return CtError(400, "InvalidOperation", message)


def invalid_json(detail: str) -> CtError:
    # The real API reports draft validation failures (missing/ill-typed fields) this way.
    return CtError(400, "InvalidJsonInput", "Request body does not contain valid JSON.", detailedErrorMessage=detail)


def required(draft: dict, field: str) -> Any:
    if draft.get(field) is None:
        raise invalid_json(f"{field}: Missing required value")
    return draft[field]


def duplicate(field: str, value: Any, message: str | None = None) -> CtError:
    text = message or f"A duplicate value '{json.dumps(value)}' exists for field '{field}'."
    return CtError(400, "DuplicateField", text, field=field, duplicateValue=value)


def not_found(ident: str, by: str = "ID") -> CtError:
    return CtError(404, "ResourceNotFound", f"The Resource with {by} '{ident}' was not found.")


def referenced_not_found(type_id: str, ident: str, by: str = "id") -> CtError:
    message = (
        f"The referenced object of type '{type_id}' with {by} '{ident}' was not found. "
        "It either doesn't exist, or it can't be accessed from this endpoint."
    )
    return CtError(400, "ReferencedResourceNotFound", message, typeId=type_id, **{by: ident})


def concurrent_modification(resource_id: str, expected: int, actual: int) -> CtError:
    message = f"Object {resource_id} has a different version than expected. Expected: {expected} - Actual: {actual}."
    return CtError(409, "ConcurrentModification", message, currentVersion=actual)


def invalid_token() -> CtError:
    return CtError(401, "invalid_token", "invalid_token",
                   extra_body={"error": "invalid_token", "error_description": "invalid_token"})


def invalid_client() -> CtError:
    message = "Please provide valid client credentials using HTTP Basic Authentication."
    return CtError(401, "invalid_client", message, extra_body={"error": "invalid_client", "error_description": message})


def insufficient_scope(missing: list[str]) -> CtError:
    message = "Insufficient scope. One of the following scopes is missing: " + ", ".join(missing)
    return CtError(403, "insufficient_scope", message,
                   extra_body={"error": "insufficient_scope", "error_description": message})


def enum_value(value: Any, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise invalid_json(f"{field}: Invalid enum value '{value}'. Expected one of: {', '.join(allowed)}")
    return value
