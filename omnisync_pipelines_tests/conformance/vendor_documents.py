"""The vendors' own published API documents, and what our emulators answered, checked against them.

The documents live beside the checkout in `../shared/vendor_api/` (reference data, never copied into
the product; `OMNISYNC_VENDOR_API` points elsewhere). A test that needs one skips with the reason
when it is absent, and fails under `CI=true`, where the folder is always there.

Validation is openapi-core's (`OpenAPI.iter_request_errors` / `iter_response_errors`): it matches
a request to the document's server, path template and method, then checks parameters, the request
body and the response body for that status against the JSON Schemas, `$ref`s resolved lazily, so a
3 MB document costs only the operations actually exercised. `Recorder` is an ASGI middleware put
around an emulator's app; it keeps every exchange (connector or loader traffic alike), so a
scenario played through the emulator becomes the set of responses validated.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound, ServerNotFound
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.testing import MockRequest, MockResponse

ROOT = Path(__file__).resolve().parents[2]


def vendor_dir() -> Path:
    return Path(os.environ.get("OMNISYNC_VENDOR_API") or ROOT.parent / "shared" / "vendor_api")


def vendor_file(*parts: str) -> Path:
    """A vendor document, or skip (fail under CI) naming the missing file."""
    path = vendor_dir().joinpath(*parts)
    if not path.exists():
        reason = f"vendor document {path} is absent (../shared/vendor_api/ beside the checkout, or OMNISYNC_VENDOR_API)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must check the emulators against it", pytrace=False)
        pytest.skip(reason)
    return path


@cache
def _parsed(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def vendor_json(*parts: str) -> dict:
    """A vendor document parsed (JSON or YAML), cached per file; callers must not mutate it."""
    return _parsed(vendor_file(*parts))


def openapi(*parts: str, patch: Callable[[dict], dict] | None = None) -> OpenAPI:
    """The vendor's OpenAPI document as openapi-core's validator. `patch` gets a deep copy and
    returns the document to use: only for the vendor's own known defects, each named where the
    patch is written."""
    spec = json.loads(json.dumps(vendor_json(*parts)))
    return OpenAPI.from_dict(patch(spec) if patch else spec)


@dataclass
class Exchange:
    method: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""

    @property
    def request_type(self) -> str:
        return self.request_headers.get("content-type", "application/json").split(";")[0].strip()

    @property
    def response_type(self) -> str:
        return self.response_headers.get("content-type", "application/json").split(";")[0].strip()

    def json(self):
        return json.loads(self.response_body) if self.response_body else None

    def __str__(self) -> str:
        return f"{self.method} {self.path}{'?' + self.query if self.query else ''} -> {self.status}"


class Recorder:
    """ASGI middleware keeping every HTTP exchange through the app it wraps."""

    def __init__(self, app):
        self.app = app
        self.exchanges: list[Exchange] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        body = bytearray()
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        exchange = Exchange(scope["method"], scope["path"], scope.get("query_string", b"").decode(),
                            {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}, bytes(body))
        self.exchanges.append(exchange)
        sent_body = False

        async def replay():
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        async def keep(message):
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                exchange.response_headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body":
                exchange.response_body += message.get("body", b"")
            await send(message)

        await self.app(scope, replay, keep)


def record(emulator) -> Recorder:
    """Wrap an emulator's ASGI app (before it is served) so its exchanges are kept."""
    recorder = Recorder(emulator.app)
    emulator.app = recorder
    return recorder


@dataclass
class Verdict:
    exchange: Exchange
    operation: str | None  # "GET /products/{product_id}" as the document names it; None: no such operation
    errors: list[str]

    def __str__(self) -> str:
        where = self.operation or "not in the vendor document"
        return f"{self.exchange} [{where}]: " + "; ".join(self.errors)


def _messages(errors: Iterable[Exception]) -> list[str]:
    out = []
    for error in errors:
        causes = [error, *getattr(error, "schema_errors", ()), *(getattr(error.__cause__, "schema_errors", ()) or ())]
        detail = "; ".join(f"{'/'.join(map(str, getattr(e, 'absolute_path', ()))) or '(root)'}: {getattr(e, 'message', e)}"
                           for e in causes[1:][:5])
        out.append(f"{type(error).__name__}: {error}" + (f" ({detail})" if detail else ""))
    return out


class VendorCheck:
    """Validates exchanges against one vendor document. `host_url` is a server the document lists
    (e.g. "https://example.retail.lightspeed.app"); `to_document_path` maps an emulator path to the
    document's (default: unchanged)."""

    def __init__(self, spec: OpenAPI, host_url: str, to_document_path: Callable[[str], str] = lambda p: p):
        self.spec = spec
        self.host_url = host_url
        self.to_document_path = to_document_path
        self._finder = APICallPathFinder(spec.spec)

    def _request(self, ex: Exchange) -> MockRequest:
        args = dict(parse_qsl(ex.query, keep_blank_values=True))
        return MockRequest(self.host_url, ex.method.lower(), self.to_document_path(ex.path), args=args,
                           headers=ex.request_headers, data=ex.request_body or None, content_type=ex.request_type)

    def operation(self, ex: Exchange) -> str | None:
        try:
            found = self._finder.find(ex.method.lower(), self.host_url + self.to_document_path(ex.path))
        except (PathNotFound, OperationNotFound, ServerNotFound):
            return None
        return f"{ex.method} {found.path_result.pattern}"

    def verdict(self, ex: Exchange, *, check_request: bool = True) -> Verdict:
        request = self._request(ex)
        operation = self.operation(ex)
        if operation is None:
            return Verdict(ex, None, ["route not in the vendor document"])
        errors = _messages(self.spec.iter_request_errors(request)) if check_request else []
        response = MockResponse(ex.response_body, status_code=ex.status, headers=ex.response_headers,
                                content_type=ex.response_type)
        errors += _messages(self.spec.iter_response_errors(request, response))
        return Verdict(ex, operation, errors)

    def verdicts(self, exchanges: Iterable[Exchange], **kw) -> list[Verdict]:
        return [self.verdict(ex, **kw) for ex in exchanges]


def coverage(verdicts: Iterable[Verdict]) -> Counter:
    """(operation, status) -> how many exchanges were validated, for the note and for asserting
    that a scenario really exercised the routes it claims to."""
    return Counter((v.operation, v.exchange.status) for v in verdicts if v.operation)


# ------------------------------------------------------------------ Postman collections (request bodies)


def postman_requests(collection: dict) -> list[dict]:
    """Every request of a Postman collection (folders walked), as {name, method, path, body}: `path`
    without host, `:param` turned into `{param}`; `body` parsed from raw JSON (comments dropped) or a
    urlencoded form as a dict, None when the request has none or it does not parse."""
    import re

    out = []

    def walk(items, prefix=""):
        for item in items:
            if "item" in item:
                walk(item["item"], f"{prefix}{item['name']} / ")
                continue
            request = item["request"]
            url = request["url"]["raw"] if isinstance(request["url"], dict) else request["url"]
            path = re.sub(r"^https?://[^/]+", "", url.split("?")[0])
            path = re.sub(r":([A-Za-z_][\w-]*)", r"{\1}", path)
            raw, body = request.get("body") or {}, None
            if raw.get("mode") == "raw" and raw.get("raw"):
                try:
                    body = json.loads(re.sub(r"//[^\n\"]*$", "", raw["raw"], flags=re.M))
                except ValueError:
                    body = None
            elif raw.get("mode") == "urlencoded":
                body = {f["key"]: f.get("value") for f in raw.get("urlencoded", [])}
            out.append({"name": prefix + item["name"], "method": request["method"], "path": path, "body": body})

    walk(collection.get("item", []))
    return out


def key_paths(value, prefix: str = "") -> set[str]:
    """Dotted key paths of a JSON value, list items folded (`details.variants.sku`)."""
    out: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            out.add(prefix + key)
            out |= key_paths(inner, f"{prefix}{key}.")
    elif isinstance(value, list):
        for inner in value:
            out |= key_paths(inner, prefix)
    return out


# -- fields the document does not declare ----------------------------------------------------------
# OpenAPI objects accept properties they do not list, so a schema-valid answer may still carry fields
# an emulator made up (and a connector may come to rely on them). `undeclared_fields` lists them.

def _resolve(spec: dict, schema: dict) -> dict:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 50:
        node = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        schema, seen = node, seen + 1
    return schema if isinstance(schema, dict) else {}


def _branches(spec: dict, schema: dict, value, seen: set[int] | None = None) -> list[dict]:
    """The schemas `value` is checked against: allOf merged, a discriminator's mapped schema, else
    every oneOf/anyOf branch (each schema once)."""
    seen = set() if seen is None else seen
    schema = _resolve(spec, schema)
    if id(schema) in seen:
        return []
    seen.add(id(schema))
    out = [schema]
    for sub in schema.get("allOf") or []:
        out += _branches(spec, sub, value, seen)
    mapping = (schema.get("discriminator") or {}).get("mapping") or {}
    tag = value.get((schema.get("discriminator") or {}).get("propertyName")) if isinstance(value, dict) else None
    if tag in mapping:
        out += _branches(spec, {"$ref": mapping[tag]}, value, seen)
    elif not mapping:
        for sub in (schema.get("oneOf") or []) + (schema.get("anyOf") or []):
            out += _branches(spec, sub, value, seen)
    return out


def undeclared_fields(spec: dict, schema: dict, value, path: str = "") -> list[str]:
    """JSON paths (`results/0/lineItems/1/foo`) of object members that no schema `value` is checked
    against declares (by `properties`, or by `additionalProperties` / `patternProperties` other than
    `false`). Arrays are followed item by item; `{}` (any) stops the walk."""
    found: list[str] = []
    branches = _branches(spec, schema, value)
    if isinstance(value, dict):
        declared: dict[str, list[dict]] = {}
        open_values: list[dict] = []
        for branch in branches:
            for name, sub in (branch.get("properties") or {}).items():
                declared.setdefault(name, []).append(sub)
            extra = branch.get("additionalProperties")
            if isinstance(extra, dict):
                open_values.append(extra)
            open_values += list((branch.get("patternProperties") or {}).values())
        typed = any(b.get("properties") or b.get("type") == "object" or "additionalProperties" in b for b in branches)
        for name, member in value.items():
            subs = declared.get(name) or open_values
            if not subs:
                if typed:
                    found.append(f"{path}{name}")
                continue
            for sub in subs[:1]:
                found += undeclared_fields(spec, sub, member, f"{path}{name}/")
    elif isinstance(value, list):
        items = [b["items"] for b in branches if isinstance(b.get("items"), dict)]
        for index, item in enumerate(value):
            for sub in items[:1]:
                found += undeclared_fields(spec, sub, item, f"{path}{index}/")
    return found


def response_schema(spec: dict, operation: str, status: int) -> dict | None:
    """The JSON schema of `operation` ("GET /path/{template}") answering `status`, from the raw document."""
    method, template = operation.split(" ", 1)
    responses = (spec["paths"].get(template) or {}).get(method.lower(), {}).get("responses") or {}
    response = _resolve(spec, responses.get(str(status)) or responses.get("default") or {})
    content = response.get("content") or {}
    media = content.get("application/json") or next(iter(content.values()), None)
    return (media or {}).get("schema")


def request_schema(spec: dict, operation: str) -> dict | None:
    """The JSON schema of `operation`'s request body, from the raw document."""
    method, template = operation.split(" ", 1)
    body = _resolve(spec, (spec["paths"].get(template) or {}).get(method.lower(), {}).get("requestBody") or {})
    content = body.get("content") or {}
    media = content.get("application/json") or next(iter(content.values()), None)
    return (media or {}).get("schema")


# -- discriminated subtypes -------------------------------------------------------------------------
# openapi-core does not follow a `discriminator` that sits in an `allOf` part (the usual shape of an
# export from RAML: ErrorObject by `code`, Message by `type`, update actions by `action`), so such a
# value is checked against the base type only. `subtype_errors` checks each one against its mapped
# schema with openapi-schema-validator, and names a tag the mapping does not know.

_DOCUMENT_URI = "urn:vendor-document"
_validators: dict[int, tuple[dict, object]] = {}


def _subtype_validator(spec: dict, ref: str):
    from openapi_schema_validator import OAS30Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    if id(spec) not in _validators:
        registry = Registry().with_resource(_DOCUMENT_URI, Resource.from_contents(spec, default_specification=DRAFT4))
        _validators[id(spec)] = (spec, registry)
    registry = _validators[id(spec)][1]
    return OAS30Validator({"$ref": _DOCUMENT_URI + ref}, registry=registry)


def subtype_errors(spec: dict, schema: dict, value, path: str = "") -> list[str]:
    """`path: message` for each discriminated value that its mapped schema refuses, or whose tag the
    mapping does not list; nested values are walked as `undeclared_fields` walks them."""
    found: list[str] = []
    branches = _branches(spec, schema, value)
    for branch in branches:
        discriminator = branch.get("discriminator") or {}
        mapping = discriminator.get("mapping") or {}
        if not mapping or not isinstance(value, dict):
            continue
        tag = value.get(discriminator.get("propertyName"))
        if tag not in mapping:
            found.append(f"{path.rstrip('/') or '(root)'}: {discriminator.get('propertyName')} {tag!r} "
                         "is not a type the document maps")
            continue
        for error in _subtype_validator(spec, mapping[tag]).iter_errors(value):
            where = (path + "/".join(map(str, error.absolute_path))).rstrip("/")
            found.append(f"{where or '(root)'} [{tag}]: {error.message}")
    if isinstance(value, dict):
        for name, member in value.items():
            subs = [b["properties"][name] for b in branches if name in (b.get("properties") or {})]
            subs = subs or [b["additionalProperties"] for b in branches if isinstance(b.get("additionalProperties"), dict)]
            for sub in subs[:1]:
                found += subtype_errors(spec, sub, member, f"{path}{name}/")
    elif isinstance(value, list):
        items = [b["items"] for b in branches if isinstance(b.get("items"), dict)]
        for index, item in enumerate(value):
            for sub in items[:1]:
                found += subtype_errors(spec, sub, item, f"{path}{index}/")
    return list(dict.fromkeys(found))


def markdown_table(doc: Path, heading: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table under `## <heading>` of `doc` (a docs/ page), by column
    name: the documented tables the conformance suites read (routes outside the vendor document,
    differences kept on purpose)."""
    text = doc.read_text(encoding="utf-8")
    rows: list[list[str]] = []
    for line in text[text.index(f"## {heading}"):].splitlines()[1:]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    header, body = rows[0], rows[2:]
    return [dict(zip(header, row, strict=False)) for row in body]
