"""HTTP layer: Starlette routes mapping commercetools endpoints onto the store and resource kinds."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from functools import partial, wraps

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import writes
from .auth import Auth
from .errors import CtError, concurrent_modification, invalid_input, not_found
from .expand import expand
from .graphql import execute_request
from .query import run_query
from .resources import KINDS, ResourceKind
from .resources.orders import ORDERS, import_order
from .resources.products import price_selection, projection
from .store import Ctx, Store, clone

Handler = Callable[[Request], Awaitable[JSONResponse]]


def respond(body: dict, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"X-Correlation-ID": "projects-" + secrets.token_hex(8)})


def handles_errors(handler: Handler) -> Handler:
    @wraps(handler)
    async def run(request: Request) -> JSONResponse:
        try:
            return await handler(request)
        except CtError as exc:
            return respond(exc.body(), exc.status)

    return run


async def json_body(request: Request) -> dict:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise CtError(400, "InvalidJsonInput", "Request body does not contain valid JSON.") from None
    if not isinstance(body, dict):
        raise CtError(400, "InvalidJsonInput", "Request body does not contain valid JSON.")
    return body


def _kind(request: Request) -> ResourceKind:
    kind = KINDS.get(request.path_params["resource"])
    if kind is None:
        raise CtError(404, "ResourceNotFound", f"The endpoint '{request.url.path}' was not found.")
    return kind


class Api:
    def __init__(self, store: Store, auth: Auth):
        self.store = store
        self.auth = auth
        self.created_at = store.clock().isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def build(self) -> Starlette:
        routes = [
            Route("/oauth/token", handles_errors(self.token), methods=["POST"]),
            Route("/{project}", handles_errors(self.project), methods=["GET"]),
            Route("/{project}/graphql", handles_errors(self.graphql), methods=["POST"]),
            Route("/{project}/orders/import", handles_errors(self.import_order), methods=["POST"]),
            Route("/{project}/product-projections", handles_errors(self.projections), methods=["GET"]),
            Route("/{project}/product-projections/{ident:path}", handles_errors(self.projection), methods=["GET"]),
            Route("/{project}/messages", handles_errors(self.messages), methods=["GET"]),
            Route("/{project}/messages/{ident}", handles_errors(self.message), methods=["GET"]),
            Route("/{project}/{resource}", handles_errors(self.collection), methods=["GET", "POST"]),
            Route("/{project}/{resource}/{ident:path}", handles_errors(self.item), methods=["GET", "POST", "DELETE"]),
        ]
        return Starlette(routes=routes)

    # -- auth -----------------------------------------------------------------------------
    async def token(self, request: Request) -> JSONResponse:
        form = dict(await request.form())
        form.update({k: v for k, v in request.query_params.items() if k not in form})
        return respond(self.auth.issue(request.headers.get("authorization"), form))

    def _authorize(self, request: Request, kind: ResourceKind, write: bool) -> None:
        any_of = kind.manage_scopes if write else kind.view_scopes + kind.manage_scopes
        self.auth.check(request.headers.get("authorization"), request.path_params["project"], any_of)

    async def graphql(self, request: Request) -> JSONResponse:
        body, status = await execute_request(await json_body(request), self.store, self.auth,
                                             request.headers.get("authorization"), request.path_params["project"])
        return respond(body, status)

    async def project(self, request: Request) -> JSONResponse:
        self.auth.check(request.headers.get("authorization"), request.path_params["project"],
                        ("view_project_settings", "manage_project_settings"))
        # Every member the vendor document requires of a Project, with the values of its example
        # (examples/Project/Project.json) where the emulator has no setting of its own.
        return respond({"key": self.auth.project_key, "name": self.auth.project_key, "version": 1,
                        "countries": ["DE"], "currencies": ["EUR"], "languages": ["en", "de"],
                        "createdAt": self.created_at,
                        "messages": {"enabled": self.store.messages_enabled, "deleteDaysAfterCreation": 15},
                        "carts": {"deleteDaysAfterLastModification": 90, "countryTaxRateFallbackEnabled": False},
                        "discounts": {"discountCombinationMode": "Stacking"},
                        "inventory": {"releaseExpiredReservations": True}})

    # -- generic resources ----------------------------------------------------------------
    async def collection(self, request: Request) -> JSONResponse:
        kind = _kind(request)
        if request.method == "GET":
            self._authorize(request, kind, write=False)
            body = run_query(partial(self.store.all, kind.type_id), request.query_params,
                             narrow=partial(self.store.matching, kind.type_id))
            paths = request.query_params.getlist("expand")
            body["results"] = [expand(resource, paths, self.store) for resource in body["results"]]
            return respond(body)
        self._authorize(request, kind, write=True)
        if kind is ORDERS:
            raise invalid_input("Creating orders from carts is not supported by the emulator; use /orders/import.")
        return await self._create(kind, await json_body(request), kind.create)

    async def import_order(self, request: Request) -> JSONResponse:
        self._authorize(request, ORDERS, write=True)
        return await self._create(ORDERS, await json_body(request), import_order)

    async def _create(self, kind: ResourceKind, draft: dict, create) -> JSONResponse:
        resource = await writes.create(self.store, kind, draft, create)
        return respond({kind.wrap_created: resource} if kind.wrap_created else resource, 201)

    async def item(self, request: Request) -> JSONResponse:
        kind = _kind(request)
        ident = request.path_params["ident"]
        self._authorize(request, kind, write=request.method != "GET")
        if request.method == "GET":
            return respond(expand(writes.lookup(self.store, kind, ident), request.query_params.getlist("expand"), self.store))
        if request.method == "DELETE":
            return await self._delete(kind, ident, request.query_params.get("version"))
        return await self._update(kind, ident, await json_body(request))

    async def _update(self, kind: ResourceKind, ident: str, body: dict) -> JSONResponse:
        return respond(await writes.update(self.store, kind, ident, body.get("version"), body.get("actions")))

    async def _delete(self, kind: ResourceKind, ident: str, version_param: str | None) -> JSONResponse:
        if version_param is None or not version_param.lstrip("-").isdigit():
            raise invalid_input("Missing or invalid required query parameter 'version'.")
        async with self.store.lock:
            current = writes.lookup(self.store, kind, ident)
            if int(version_param) != current["version"]:
                raise concurrent_modification(current["id"], int(version_param), current["version"])
            self.store.remove(kind.type_id, current["id"])
            deleted = clone(current)
            if kind.message_prefix:
                ctx = Ctx(self.store)
                ctx.emit(kind.type_id, current["id"], f"{kind.message_prefix}Deleted", _deleted=current)
                ctx.commit()
        return respond(deleted)

    # -- product projections and messages -------------------------------------------------
    def _projections(self, request: Request, products: list[dict]) -> list[dict]:
        self.auth.check(request.headers.get("authorization"), request.path_params["project"],
                        ("view_published_products", "view_products", "manage_products"))
        staged = request.query_params.get("staged", "false").lower() == "true"
        selection = price_selection(request.query_params)
        built = (projection(p, staged, self._inventory_of, selection) for p in products)
        return [p for p in built if p is not None]

    def _inventory_of(self, sku: str) -> list[dict]:
        return [e for e in self.store.candidates("inventory-entry", ("sku", sku)) if e["sku"] == sku]

    async def projections(self, request: Request) -> JSONResponse:
        return respond(run_query(self._projections(request, self.store.all("product")), request.query_params))

    async def projection(self, request: Request) -> JSONResponse:
        ident = request.path_params["ident"]
        field, value = ("key", ident[4:]) if ident.startswith("key=") else ("id", ident)
        product = self.store.find("product", "key", value) if field == "key" else self.store.get("product", value)
        found = next(iter(self._projections(request, [product] if product else [])), None)
        if found is None:
            raise not_found(value, "key" if field == "key" else "ID")
        return respond(found)

    def _authorize_messages(self, request: Request) -> None:
        self.auth.check(request.headers.get("authorization"), request.path_params["project"], ("view_messages",))

    async def messages(self, request: Request) -> JSONResponse:
        self._authorize_messages(request)
        return respond(run_query(list(self.store.messages), request.query_params))

    async def message(self, request: Request) -> JSONResponse:
        self._authorize_messages(request)
        found = next((m for m in self.store.messages if m["id"] == request.path_params["ident"]), None)
        if found is None:
            raise not_found(request.path_params["ident"])
        return respond(found)
