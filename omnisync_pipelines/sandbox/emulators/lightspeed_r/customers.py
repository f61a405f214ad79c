"""Customer custom fields (customer-customfield.md): the `Customer/CustomField` definitions and their
values, written as a Customer's `CustomFieldValues.CustomFieldValue[]` (`customFieldID` + `value`, or
`deleted: true`) in Customer POST/PUT bodies and read through the `CustomFieldValues` relation."""

from __future__ import annotations

import re
from datetime import datetime

from omnisync_pipelines.sandbox.emulators.lightspeed_r.errors import WriteError
from omnisync_pipelines.sandbox.emulators.lightspeed_r.store import Store
from omnisync_pipelines.sandbox.emulators.lightspeed_r.xmljson import unwrap

TYPES = ("string", "text", "url", "email", "datetime", "date", "boolean", "integer", "float", "single_choice",
         "multi_choice")
MAX_LENGTH = {"string": 64, "text": 4096}


def new_field(store: Store, body: dict) -> dict:
    name, kind = str(body.get("name") or "").strip(), str(body.get("type") or "")
    if not name:
        raise WriteError("name cannot be blank.")
    if kind not in TYPES:
        raise WriteError(f"Invalid type: {kind}. Allowed types: {', '.join(TYPES)}")
    return store.insert("CustomField", {"type": kind, "name": name, "uom": str(body.get("uom") or "")[:4],
                                        "decimalPrecision": _precision(kind, body), "archived": False})


def update_field(store: Store, row: dict, body: dict) -> dict:
    if "type" in body and body["type"] not in TYPES:
        raise WriteError(f"Invalid type: {body['type']}. Allowed types: {', '.join(TYPES)}")
    if "name" in body and not str(body["name"]).strip():
        raise WriteError("name cannot be blank.")
    row.update({k: str(body[k]) for k in ("type", "name") if k in body})
    if "uom" in body:
        row["uom"] = str(body["uom"])[:4]
    row["decimalPrecision"] = _precision(row["type"], body, row["decimalPrecision"])
    store.touch(row)
    return row


def archive_field(store: Store, row: dict) -> dict:
    """Archives the definition; its values stay (the docs: "will not be deleted")."""
    row["archived"] = True
    store.touch(row)
    return row


def _precision(kind: str, body: dict, current: int = 0) -> int:
    if "decimalPrecision" not in body:
        return current
    if kind != "float":
        raise WriteError("decimalPrecision can only be set on CustomFields of type 'float'.")
    return int(body["decimalPrecision"])


def _checked(field: dict, value) -> str:
    """The value as stored (text), or a 400 when it does not fit the field's type."""
    kind, text = field["type"], "" if value is None else str(value)
    bad = WriteError(f"Invalid value for custom field {field['name']} ({kind}): {text}")
    if kind in MAX_LENGTH and len(text) > MAX_LENGTH[kind]:
        raise WriteError(f"Value for custom field {field['name']} exceeds {MAX_LENGTH[kind]} characters.")
    try:
        if kind == "integer":
            return str(int(float(text)))
        if kind == "float":
            return str(float(text))
        if kind in ("datetime", "date"):
            datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise bad from exc
    if kind == "boolean" and text.lower() not in ("true", "false", "1", "0"):
        raise bad
    if kind == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        raise bad
    if kind == "url" and not re.match(r"https?://", text):
        raise bad
    return text


def check_values(store: Store, body: dict) -> None:
    """Validates a body's CustomFieldValues before anything is written."""
    for given in unwrap(body.get("CustomFieldValues"), "CustomFieldValue"):
        field = store.tables["CustomField"].get(_int(given.get("customFieldID")))
        if field is None:
            raise WriteError(f"CustomField {given.get('customFieldID')} not found.")
        if str(given.get("deleted", "false")).lower() != "true":
            _checked(field, given.get("value"))


def write_values(store: Store, customer_id: int, body: dict) -> None:
    for given in unwrap(body.get("CustomFieldValues"), "CustomFieldValue"):
        field = store.tables["CustomField"][_int(given.get("customFieldID"))]
        current = next((v for v in values_of(store, customer_id) if v["customFieldID"] == field["customFieldID"]), None)
        if str(given.get("deleted", "false")).lower() == "true":
            if current is not None:
                del store.tables["CustomFieldValue"][current["customFieldValueID"]]
            continue
        value = _checked(field, given.get("value"))
        if current is None:
            store.insert("CustomFieldValue", {"customerID": customer_id, "customFieldID": field["customFieldID"],
                                              "value": value})
        elif current["value"] != value:
            current["value"] = value
            store.touch(current)


def values_of(store: Store, customer_id: int) -> list[dict]:
    return [v for v in store.tables["CustomFieldValue"].values() if v["customerID"] == customer_id]


def printed_values(store: Store, customer_id: int) -> list[dict]:
    """A customer's values as the relation prints them: with the field's name and type."""
    out = []
    for value in values_of(store, customer_id):
        field = store.tables["CustomField"][value["customFieldID"]]
        out.append({"customFieldValueID": value["customFieldValueID"], "customFieldID": value["customFieldID"],
                    "name": field["name"], "type": field["type"], "value": value["value"], "deleted": False,
                    "timeStamp": value["timeStamp"]})
    return out


def _int(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return -1
