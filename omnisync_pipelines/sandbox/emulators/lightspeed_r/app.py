"""Routes: `/auth/oauth/token`, `/auth/oauth/revoke` and
`/API/V3/Account[/{accountID}[/{Resource}[/{id}[/{action}]]]].json`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from omnisync_pipelines.sandbox.emulators.lightspeed_r.auth import DENIED
from omnisync_pipelines.sandbox.emulators.lightspeed_r.dispatch import HANDLERS, PRINTED_AS
from omnisync_pipelines.sandbox.emulators.lightspeed_r.errors import WriteError
from omnisync_pipelines.sandbox.emulators.lightspeed_r.query import QueryError, archived_ok, filters, page
from omnisync_pipelines.sandbox.emulators.lightspeed_r.refunds import find_sale
from omnisync_pipelines.sandbox.emulators.lightspeed_r.resources import (
    BY_PATH,
    RESOURCES,
    Resource,
    present,
    relation_cost,
    relations_asked,
    search_rows,
)
from omnisync_pipelines.sandbox.emulators.lightspeed_r.xmljson import many, unwrap

if TYPE_CHECKING:
    from omnisync_pipelines.sandbox.emulators.lightspeed_r.emulator import LightspeedREmulator

MESSAGES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            409: "Conflict", 422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Error",
            503: "Service Unavailable"}


def error(status: int, message: str, error_class: str = "Exception", headers: dict | None = None) -> JSONResponse:
    """The error body recorded from the live API (API_FACTS §3): every value a string."""
    return JSONResponse({"httpCode": str(status), "httpMessage": MESSAGES.get(status, ""), "message": message,
                         "errorClass": error_class}, status, headers=headers)


def request_cost(name: str, method: str, params: dict, body: dict | None, relations: float, action: str = "") -> float:
    """Costs since 2026-03-17 (rate-limiting.md, changelog, endpoint pages): 1 a request; Sale writes 2
    (+3 with completed=true), SaleLine writes 2, Category writes 10 (category.md), a refund 10, a count
    reconcile 10 (inventorycountreconcile.md, and `InventoryCount/{id}/Reconcile` in the changelog);
    +0.5 per nested entity in a write body; count=1 costs 10;
    `or` over several fields +1 per operand (over several entities the docs charge more: not modeled)."""
    if params.get("count") == "1":
        return 10.0
    cost = 1.0
    operands = [p.split("=", 1)[0] for p in params.get("or", "").split("|") if "=" in p]
    if len(set(operands)) > 1:  # `or` over several fields of one entity: +1 per operand
        cost += len(operands)
    if method != "GET":
        if action in ("refund", "Reconcile") or name in ("Category", "InventoryCountReconcile"):
            cost = 10.0
        elif name in ("Sale", "SaleLine"):
            cost = 2.0 + (3.0 if name == "Sale" and str((body or {}).get("completed", "")).lower() == "true" else 0.0)
        cost += 0.5 * nested_entities(body or {})
    return cost + relations


def nested_entities(node: dict) -> int:
    count = 0
    for key, value in node.items():
        if not key[:1].isupper():
            continue
        if isinstance(value, dict) and value and all(k[:1].isupper() for k in value):  # a wrapper
            children = [c for k in value for c in unwrap(value, k)]
        else:
            children = unwrap(value, "")
        count += sum(1 + nested_entities(c) for c in children if isinstance(c, dict))
    return count


def resolve(rest: list[str]) -> tuple[Resource | None, str | None, str, dict]:
    """(resource, id, action, scope) of the path after the account id: `{path}[/{id}[/{action}]]` (a
    path may have two parts: `Customer/CustomField`, `Inventory/Transfer`), and a transfer's own items
    `Inventory/Transfer/{id}/TransferItems[/{transferItemID}]` (scope: {"transferID": id})."""
    size = next((n for n in (2, 1) if len(rest) >= n and "/".join(rest[:n]) in BY_PATH), 0)
    if not size:
        return None, None, "", {}
    resource, tail = BY_PATH["/".join(rest[:size])], rest[size:]
    if resource.name == "Transfer" and len(tail) in (2, 3) and tail[1] == "TransferItems":
        return RESOURCES["TransferItem"], (tail[2] if len(tail) == 3 else None), "", {"transferID": tail[0]}
    if len(tail) > 2 or len(tail) == 2 and tail[1] not in resource.actions:
        return None, None, "", {}
    return resource, (tail[0] if tail else None), (tail[1] if len(tail) == 2 else ""), {}


def build_app(emu: LightspeedREmulator) -> Starlette:
    store = emu.store

    async def oauth_form(request: Request, answer):
        if request.method != "POST":
            return JSONResponse({"error": "invalid_request", "error_description": "The request method must be POST"}, 405)
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                form = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                return JSONResponse({"error": "invalid_request", "error_description": "Malformed JSON body"}, 400)
        else:
            form = dict(await request.form())
        status, body = answer(form)
        return JSONResponse(body, status)

    async def token(request: Request):
        return await oauth_form(request, emu.oauth.grant)

    async def revoke(request: Request):
        return await oauth_form(request, emu.oauth.revoke)

    async def api(request: Request):
        bearer = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        hint = emu.oauth.check(bearer)
        if hint:
            return JSONResponse({"error": "access_denied", "error_description": DENIED, "hint": hint}, 401)
        parts = request.path_params["rest"].removesuffix(".json").strip("/").split("/")
        params = dict(parse_qsl(request.url.query, keep_blank_values=True))
        body = None
        if request.method in ("POST", "PUT"):
            try:
                body = json.loads(await request.body() or b"{}")
                assert isinstance(body, dict)
            except (json.JSONDecodeError, AssertionError):
                return error(400, "Invalid JSON payload.")
        resource, ident, action, scope = resolve(parts[2:])
        listing = ident is None and request.method == "GET"
        try:
            relations = relations_asked(resource, params.get("load_relations"), listing) if resource else []
        except ValueError as exc:
            return error(400, str(exc))
        extra = relation_cost(resource, relations, listing) if resource else 0.0
        cost = request_cost(resource.name if resource else "", request.method, params, body, extra, action)
        allowed, headers = emu.bucket.take(cost)
        headers = {"X-LS-Acct-Id": str(emu.account_id), "X-LS-OAuth-Client-Id": emu.oauth_client_number, **headers}
        if not allowed:
            return error(429, "Rate limit exceeded" if "leaky" in headers["X-LS-API-RateLimit-Type"]
                         else "burst rate limit exceeded", "RateLimitException", headers)
        async with emu.lock:
            response = handle(request.method, parts, params, body or {}, (resource, ident, action, scope), relations,
                              str(request.url).split("?")[0])
        response.headers.update(headers)
        return response

    def handle(method, parts, params, body, target, relations, base_url):
        resource, ident, action, scope = target
        if parts[0] != "Account":
            return error(404, "Not Found")
        if len(parts) == 1 or len(parts) == 2 and parts[1] == str(emu.account_id):
            if method != "GET":
                return error(405, "Method Not Allowed")
            return JSONResponse({"@attributes": {"count": "1"}, "Account": emu.account_row()})
        if parts[1] != str(emu.account_id):
            return error(404, f"Account {parts[1]} not found.")
        if resource is None:
            return error(404, f"Unknown resource: {'/'.join(parts[2:])}")
        table = store.tables[resource.name]
        if action:
            if method != "POST":
                return error(405, f"{method} is not allowed on {'/'.join(parts[2:])}.")
            row = find_sale(store, ident) if action == "refund" else table.get(int(ident)) if ident.isdigit() else None
            if row is None:
                return error(404, f"{resource.name} {ident} not found.")
            return write(resource, (resource.name, action), row, body)
        if scope:
            if method != "GET":
                return error(405, f"{method} is not allowed on {'/'.join(parts[2:])}.")
            if not scope["transferID"].isdigit() or int(scope["transferID"]) not in store.tables["Transfer"]:
                return error(404, f"Transfer {scope['transferID']} not found.")
            scope = {"transferID": int(scope["transferID"])}
        if method == "GET" and ident is None:
            return read_many(resource, params, relations, base_url, scope)
        if method == "GET":
            if not resource.single:
                return error(405, f"{resource.name} can not be read one by one.")
            row = table.get(int(ident)) if ident.isdigit() else None
            if row is None or any(row.get(k) != v for k, v in scope.items()):
                return error(404, f"{resource.name} {ident} not found.")
            return JSONResponse({"@attributes": {"count": "1"}, resource.name: present(store, resource.name, row, relations)})
        if method not in resource.writes or (method == "POST") != (ident is None):
            return error(405, f"{method} is not allowed on {'/'.join(parts[2:])}.")
        row = None
        if ident is not None:
            row = table.get(int(ident)) if ident.isdigit() else None
            if row is None:
                return error(404, f"{resource.name} {ident} not found.")
        return write(resource, (resource.name, method), row, body)

    def write(resource, key, row, body):
        try:
            row, shown = HANDLERS[key](store, row, body)
        except WriteError as exc:
            return error(exc.status, str(exc))
        if key in PRINTED_AS:
            name, counted = PRINTED_AS[key]
            printed = many(name, [present(store, name, r, shown) for r in row]) or {name: ""}
            return JSONResponse({"@attributes": {"count": str(len(row))}, **printed} if counted else printed)
        return JSONResponse({"@attributes": {"count": "1"}, resource.name: present(store, resource.name, row, shown)})

    def read_many(resource, params, relations, base_url, scope):
        rows = [r for r in store.tables[resource.name].values() if archived_ok(r, params.get("archived", "false"))
                and all(r.get(k) == v for k, v in scope.items())]
        try:
            tests = filters(list(params.items()), relations,
                            lambda row, relation: search_rows(store, resource.name, row, relation))
            rows = [r for r in rows if all(t(r) for t in tests)]
            if params.get("count") == "1":
                clash = {"limit", "sort", "after", "before"} & set(params)
                if clash:
                    raise QueryError(f"count can not be combined with: {', '.join(sorted(clash))}")
                return JSONResponse({"@attributes": {"count": str(len(rows))}})
            chosen, nxt, prev = page(rows, resource.pk, params, resource.sortable, base_url)
        except QueryError as exc:
            return error(400, str(exc))
        body = {"@attributes": {"next": nxt, "previous": prev}}
        shown = [present(store, resource.name, r, relations) for r in chosen]
        if shown:
            body[resource.name] = shown[0] if len(shown) == 1 else shown
        return JSONResponse(body)

    return Starlette(routes=[
        Route("/auth/oauth/token", token, methods=["GET", "POST"]),
        Route("/auth/oauth/revoke", revoke, methods=["GET", "POST"]),
        Route("/API/V3/{rest:path}", api, methods=["GET", "POST", "PUT", "DELETE"]),
    ])
