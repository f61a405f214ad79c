"""commercetools' own OpenAPI document (../shared/vendor_api/commercetools/) for the vendor-document
conformance modules (`test_commercetools_vendor_*.py`): the document with its export defects patched
(each named), the sandbox they validate, and the table of differences kept on purpose, read from
docs/commercetools.md so that the doc and the tolerance cannot drift apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from openapi_core import OpenAPI

from omnisync_pipelines_tests.conformance.vendor_documents import (
    Verdict,
    openapi,
    request_schema,
    response_schema,
    subtype_errors,
    undeclared_fields,
)
from omnisync_pipelines_tests.conformance.vendor_documents import markdown_table as documented_table

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "commercetools.md"
API_HOST = "https://api.europe-west1.gcp.commercetools.com"  # a server the document lists (region europe-west1.gcp)
SPEC = ("commercetools", "openapi.yaml")
EXAMPLES = ("commercetools", "examples")

# RAML map types whose values the OpenAPI export types as `string` (defect 2), with the value type of
# the RAML source (api-specs/api/types/...): FieldContainer `/^[a-zA-Z0-9_-]{2,36}$/: CustomFieldValue`
# (any JSON); the availability maps by channel id: (ProductVariant|VariantAttributes)ChannelAvailability.
MAP_VALUES = {
    "FieldContainer": {},
    "ProductVariantChannelAvailabilityMap": {"$ref": "#/components/schemas/ProductVariantChannelAvailability"},
    "VariantAttributesChannelAvailabilityMap": {"$ref": "#/components/schemas/VariantAttributesChannelAvailability"},
}


def _pattern_properties(spec: dict) -> list[str]:
    """Vendor defect 1 (the RAML-to-OpenAPI export): a RAML pattern property such as LocalizedString's
    `/^[a-z]{2}(-[A-Z]{2})?$/: string` is exported as a *required property named by the regex*, so no
    real payload validates (`'/^[a-z]{2}(-[A-Z]{2})?$/' is a required property`). It is dropped from
    `required`; the values keep the exported `additionalProperties` schema, except where the RAML
    says otherwise: `any` for the catch-all `//` pattern (ErrorObject, GraphQLVariablesMap,
    ExtensionError ...), and MAP_VALUES (defect 2: custom field values and availability per channel
    exported as strings)."""
    patched = []
    for name, schema in spec["components"]["schemas"].items():
        required = schema.get("required") if isinstance(schema, dict) else None
        if not isinstance(required, list):
            continue
        patterns = [r for r in required if isinstance(r, str) and len(r) >= 2 and r.startswith("/") and r.endswith("/")]
        if not patterns:
            continue
        schema["required"] = [r for r in required if r not in patterns]
        if not schema["required"]:
            del schema["required"]
        if "//" in patterns:
            schema["additionalProperties"] = {}
        if name in MAP_VALUES:
            schema["additionalProperties"] = MAP_VALUES[name]
        patched.append(name)
    return patched


def _not_found_body(spec: dict) -> None:
    """Vendor defect 3: `errorable_404` (every 404) declares no content, while its own description
    names the `ResourceNotFound` error code and every other error status carries an ErrorResponse
    body; the API answers a 404 with one. Given the ErrorResponse body of the other statuses."""
    responses = spec["components"]["responses"]
    responses["errorable_404"]["content"] = responses["errorable_400"]["content"]


def _message_subtypes(spec: dict) -> list[str]:
    """Vendor defect 4: the discriminator of `Message` (on `type`) maps only the message types whose
    RAML parent is Message itself; the ~60 whose parent is an intermediate type (OrderMessage:
    OrderImported, ReturnInfoAdded, OrderReturnShipmentStateChanged ...; ShoppingListMessage ...) are
    in no mapping, so an order's messages would be checked as bare Messages. They are added, under
    the document's own naming (`<type>` -> `<type>Message`, as every existing entry is)."""
    schemas = spec["components"]["schemas"]
    discriminator = next(part["discriminator"] for part in schemas["Message"]["allOf"] if "discriminator" in part)
    mapping = discriminator["mapping"]
    intermediates = {"Message", "OrderMessage", "ShoppingListMessage"}

    def parents(name: str) -> set[str]:
        return {part["$ref"].rsplit("/", 1)[-1] for part in schemas[name].get("allOf") or [] if "$ref" in part}

    added = []
    for name in schemas:
        if name.endswith("Message") and name not in intermediates and name[: -len("Message")] not in mapping \
                and parents(name) & (intermediates - {"Message"}):
            mapping[name[: -len("Message")]] = f"#/components/schemas/{name}"
            added.append(name)
    return added


def patch_vendor_defects(spec: dict) -> dict:
    _pattern_properties(spec)
    _not_found_body(spec)
    _message_subtypes(spec)
    return spec


def commercetools_spec() -> tuple[OpenAPI, dict]:
    """openapi-core's validator over the patched document, and that document (parsing takes seconds:
    once per module)."""
    kept: dict = {}

    def patch(spec: dict) -> dict:
        kept["document"] = patch_vendor_defects(spec)
        return kept["document"]

    return openapi(*SPEC, patch=patch), kept["document"]


# -- the documented tables --------------------------------------------------------------------------

def markdown_table(heading: str) -> list[dict[str, str]]:
    """The rows of the first table under the `## heading` of docs/commercetools.md, by column."""
    return documented_table(DOC, heading)


@dataclass(frozen=True)
class KeptDifference:
    ident: str  # "K3"
    operation: str  # "POST /{projectKey}/orders/import" or "*"
    status: str  # "201" or "*"
    match: str  # a regular expression an error message of the verdict must match

    def covers(self, verdict: Verdict, message: str) -> bool:
        return self.covers_parts(verdict.operation or "", verdict.exchange.status, message)

    def covers_parts(self, operation: str, status: int, message: str) -> bool:
        return ((self.operation == "*" or self.operation == operation) and
                (self.status == "*" or self.status == str(status)) and re.search(self.match, message) is not None)


def kept_differences() -> list[KeptDifference]:
    """The table "Where the emulator differs from the vendor document, and why" (columns `#`,
    `operation`, `status`, `error (regex)`)."""
    kept = []
    for row in markdown_table("Where the emulator differs from the vendor document, and why"):
        kept.append(KeptDifference(row["#"], row["operation"].strip("`"), row["status"].strip("`"),
                                   row["error (regex)"].strip("`").replace("\\|", "|")))
    return kept


def unexplained(verdicts: list[Verdict], kept: list[KeptDifference]) -> Iterator[tuple[Verdict, str]]:
    """Every error message of every verdict that no kept difference covers."""
    for verdict in verdicts:
        for message in verdict.errors:
            if not any(k.covers(verdict, message) for k in kept):
                yield verdict, message


def detail(message: str) -> str:
    """The schema errors of a validation message (its trailing parenthesis), without the whole value."""
    found = re.search(r"\(([^()]*(?:\([^()]*\)[^()]*)*)\)\s*$", message)
    kind = message.split(":", 1)[0]
    return f"{kind}: {found.group(1)}" if found else message[:400]


def grouped(problems: list[tuple[Verdict, str]]) -> list[str]:
    """One line per (operation, status, detail), with how many exchanges showed it."""
    groups: dict[tuple, int] = {}
    for verdict, message in problems:
        key = (verdict.operation or f"{verdict.exchange.method} {verdict.exchange.path}", verdict.exchange.status,
               detail(message))
        groups[key] = groups.get(key, 0) + 1
    return [f"[{n}x] {op} -> {status}: {text}" for (op, status, text), n in sorted(groups.items(), key=str)]


def made_up_fields(document: dict, verdicts: list[Verdict]) -> dict[tuple[str, int, str], int]:
    """(operation, status, JSON path with indexes as `*`) -> how many answers carried a member the
    document's schema for that answer does not declare."""
    found: dict[tuple[str, int, str], int] = {}
    for verdict in verdicts:
        if verdict.operation is None or not verdict.exchange.response_body:
            continue
        schema = response_schema(document, verdict.operation, verdict.exchange.status)
        if schema is None:
            continue
        for path in set(re.sub(r"/\d+(?=/|$)", "/*", p) for p in undeclared_fields(document, schema, verdict.exchange.json())):
            key = (verdict.operation, verdict.exchange.status, path)
            found[key] = found.get(key, 0) + 1
    return found


def subtype_problems(document: dict, verdicts: list[Verdict]) -> dict[tuple[str, int, str], int]:
    """(operation, status, `SubtypeError: <where> [<tag>]: <message>` with indexes as `*`) -> count,
    for request bodies (`request ...`) and answers: what openapi-core leaves unchecked behind a
    discriminator (error codes, message types, update actions)."""
    found: dict[tuple[str, int, str], int] = {}
    for verdict in verdicts:
        if verdict.operation is None:
            continue
        ex = verdict.exchange
        checks = []
        if ex.request_body and ex.request_type == "application/json":
            checks.append(("request ", request_schema(document, verdict.operation), json.loads(ex.request_body)))
        if ex.response_body:
            checks.append(("", response_schema(document, verdict.operation, ex.status), ex.json()))
        for side, schema, value in checks:
            if schema is None:
                continue
            for problem in set(re.sub(r"/\d+(?=/|\s|:|$)", "/*", p) for p in subtype_errors(document, schema, value)):
                key = (verdict.operation, ex.status, f"SubtypeError: {side}{problem}")
                found[key] = found.get(key, 0) + 1
    return found
