"""Routes of the X-Series API: 2.0 reads and writes, 2.1 product writes, 0.9 register_sales, OAuth."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from omnisync_pipelines.sandbox.emulators.lightspeed_x import hooks, sales, search, writes
from omnisync_pipelines.sandbox.emulators.lightspeed_x.sales import SaleError

if TYPE_CHECKING:
    from omnisync_pipelines.sandbox.emulators.lightspeed_x.emulator import LightspeedXEmulator

READABLE = ("outlets", "registers", "payment_types", "taxes", "users", "products", "inventory", "customers", "sales",
            "consignments", "price_books", "price_book_products", "customer_groups")
MAX_PAGE_SIZE = {"sales": 500}
DEFAULT_MAX_PAGE_SIZE = 10_000
# collections API 2.0 reads one by one (`GET /{collection}/{id}`); taxes, payment types, inventory and
# price book entries it lists only
SINGLE = ("outlets", "registers", "users", "products", "customers", "sales", "consignments", "price_books",
          "customer_groups")
LIST_FILTERS = {"consignments": ("type", "status", "outlet_id")}  # documented filters of the lists


def error(status: int, message: str, details: dict | None = None, headers: dict | None = None) -> JSONResponse:
    body = {"error": message}
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=status, headers=headers)


def build_app(emu: LightspeedXEmulator) -> Starlette:
    store = emu.store

    async def guarded(request: Request, handler):
        token = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        if not emu.token_valid(token):
            return error(401, "Access token is not valid")
        allowed, headers = emu.limiter.check(token)
        if not allowed:
            return JSONResponse({"error": "Too Many Requests", "message": "Rate limiting enforced"}, 429, headers=headers)
        try:
            async with emu.lock:
                response = await handler(request)
        except SaleError as exc:
            response = error(exc.status, str(exc), exc.details)
        except json.JSONDecodeError:
            response = error(400, "request body is not valid JSON")
        response.headers.update(headers)
        return response

    def route(path, handler, methods):
        async def endpoint(request: Request):
            return await guarded(request, handler)
        return Route(path, endpoint, methods=methods)

    async def list_collection(request: Request):
        collection = request.path_params["collection"]
        if collection not in READABLE:
            return error(404, "Not Found")
        q = request.query_params
        if collection == "products" and {"sku", "name", "family_name"} & set(q):  # every other parameter ignored
            rows = search.products_by(store, sku=q.get("sku"), name=q.get("name", q.get("family_name")))
            return JSONResponse({"data": [emu.present(collection, r) for r in rows], "version": _versions(rows)})
        try:
            after = int(q.get("after", 0))
            before = int(q["before"]) if "before" in q else None
            size = int(q.get("page_size", 100))
        except ValueError:
            return error(400, "after, before and page_size must be integers")
        size = max(1, min(size, MAX_PAGE_SIZE.get(collection, DEFAULT_MAX_PAGE_SIZE)))
        filters = {f: q[f] for f in LIST_FILTERS.get(collection, ()) if f in q}
        if filters:  # filtered first, then paged
            rows = [r for r in store.page(collection, after, before, len(store.rows[collection]) + 1,
                                          q.get("deleted") == "true")
                    if all(r.get(f) == v for f, v in filters.items())][:size]
        else:
            rows = store.page(collection, after, before, size, q.get("deleted") == "true")
        return JSONResponse({"data": [emu.present(collection, r) for r in rows], "version": _versions(rows)})

    async def search_rows(request: Request):
        params = list(request.query_params.multi_items())
        rows = search.search(store, params)
        kind = dict(params)["type"]
        return JSONResponse({"data": [emu.present(kind, r) for r in rows]})

    async def get_one(request: Request):
        collection, row_id = request.path_params["collection"], request.path_params["id"]
        row = store.get(collection, row_id) if collection in SINGLE else None
        if row is None:
            return error(404, "Not Found", {"id": row_id})
        return JSONResponse({"data": emu.present(collection, row)})

    async def product_inventory(request: Request):
        product_id = request.path_params["id"]
        if store.get("products", product_id) is None:
            return error(404, "Not Found", {"id": product_id})
        rows = [r for r in store.rows["inventory"].values() if r["product_id"] == product_id]
        return JSONResponse({"data": rows, "version": {"min": None, "max": None}})

    async def create_products(request: Request):
        ids = writes.create_products(store, await request.json())
        return JSONResponse({"data": ids})  # 200, as the Postman collection's 2.1 "Create" answers

    async def update_product(request: Request):
        row = writes.update_product(store, request.path_params["id"], await request.json())
        return JSONResponse({"data": [row["id"]]})

    async def add_variant(request: Request):
        return JSONResponse({"data": writes.add_variant(store, request.path_params["id"], await request.json())}, 201)

    async def price_books_of_product(request: Request):
        product_id = request.path_params["id"]
        if store.get("products", product_id) is None:
            return error(404, "Not Found", {"id": product_id})
        return JSONResponse({"data": [e for e in store.rows["price_book_products"].values()
                                      if e["product_id"] == product_id and not e.get("deleted_at")]})

    async def create_price_book(request: Request):
        return JSONResponse({"data": writes.created_price_book(writes.create_price_book(store, await request.json()))})

    async def price_book_products(request: Request):
        book_id = request.path_params["id"]
        if request.method == "GET":
            if store.get("price_books", book_id) is None:
                return error(404, "Not Found", {"id": book_id})
            wanted = set(filter(None, request.query_params.get("product_ids", "").split(",")))
            return JSONResponse({"data": [e for e in store.rows["price_book_products"].values()
                                          if e["price_book_id"] == book_id and not e.get("deleted_at")
                                          and (not wanted or e["product_id"] in wanted)]})
        body = await request.json()
        entries = body.get("data", []) if isinstance(body, dict) else body
        saved = writes.save_price_book_products(store, request.path_params["id"], entries)
        # the documented answer is a confirmation only (PriceBookProductsUpdateResponse), not the entries
        return JSONResponse({"data": {"message": f"{len(saved)} price book products saved"}})

    async def create_customer(request: Request):
        return JSONResponse({"data": writes.save_customer(store, await request.json())}, status_code=201)

    async def update_customer(request: Request):
        return JSONResponse({"data": writes.save_customer(store, await request.json(), request.path_params["id"])})

    async def register_sales(request: Request):
        sale = sales.save_register_sale(store, await request.json())
        return JSONResponse({"register_sale": sales.public(sale)})

    async def return_sale(request: Request):
        return JSONResponse({"data": sales.public(sales.start_return(store, request.path_params["id"]))})

    async def fulfill_sale(request: Request):
        body = await request.json()
        fulfillment = sales.fulfill(store, request.path_params["id"], body.get("fulfillment_type", ""))
        return JSONResponse({"data": {k: v for k, v in fulfillment.items() if v is not None}})  # FulfillmentResponse

    async def sale_fulfillments(request: Request):
        sale = store.get("sales", request.path_params["id"])
        if sale is None:
            return error(404, "Not Found")
        return JSONResponse({"data": sales.fulfillments(sale)})

    async def create_consignment(request: Request):
        return JSONResponse({"data": writes.public(writes.create_consignment(store, await request.json()))}, status_code=201)

    async def change_consignment(request: Request):
        row = writes.change_consignment(store, request.path_params["id"], await request.json())
        return JSONResponse({"data": writes.public(row)})

    async def consignment_products(request: Request):
        consignment_id = request.path_params["id"]
        if request.method == "POST":  # documented answer: 200 with the InventoryCountItem
            row = writes.add_consignment_product(store, consignment_id, await request.json())
            return JSONResponse({"data": writes.public_line(row)})
        consignment = store.get("consignments", consignment_id)
        if consignment is None:
            return error(404, "Not Found")
        lines = store.consignment_products[consignment_id]
        return JSONResponse({"data": [writes.public_line(x, received_status=consignment["_received"]) for x in lines],
                             "version": _versions(sorted(lines, key=lambda x: x.get("version", 0)))})

    async def consignment_product(request: Request):
        row = writes.update_consignment_product(store, request.path_params["id"], request.path_params["product_id"],
                                                await request.json())
        return JSONResponse({"data": writes.public_line(row)})

    async def webhooks(request: Request):
        if request.method == "GET":
            return JSONResponse({"data": [hooks.public(w) for w in store.rows["webhooks"].values()]})
        row = hooks.create(store, await request.json(), emu.retailer_id)
        return JSONResponse({"data": hooks.public(row)}, status_code=201)

    async def webhook(request: Request):
        webhook_id = request.path_params["id"]
        if request.method == "PUT":
            row = hooks.update(store, webhook_id, await request.json())
        elif request.method == "DELETE":
            row = hooks.delete(store, webhook_id)
        else:
            row = hooks.get(store, webhook_id)
        return JSONResponse({"data": hooks.public(row)})

    async def legacy_webhooks(request: Request):
        """0.9 `POST /api/webhooks`: form-encoded, field `data` = JSON `{url, active, type}`."""
        form = await request.form()
        row = hooks.create(store, json.loads(form.get("data") or "{}"), emu.retailer_id)
        return JSONResponse(hooks.public(row))

    async def token(request: Request):
        form = await request.form()
        answer = emu.exchange_token(dict(form))
        if answer is None:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return JSONResponse(answer)

    return Starlette(routes=[
        Route("/api/1.0/token", token, methods=["POST"]),
        route("/api/register_sales", register_sales, ["POST"]),
        route("/api/2.1/products", create_products, ["POST"]),
        route("/api/2.1/products/{id}", update_product, ["PUT"]),
        route("/api/2.1/products/{id}/variants", add_variant, ["POST"]),
        route("/api/2.0/price_books", create_price_book, ["POST"]),
        route("/api/2.0/price_books/{id}/products", price_book_products, ["GET", "POST"]),
        route("/api/2.0/customers", create_customer, ["POST"]),
        route("/api/2.0/customers/{id}", update_customer, ["PUT"]),
        route("/api/2.0/sales/{id}/actions/return", return_sale, ["PUT"]),
        route("/api/2.0/sales/{id}/fulfill", fulfill_sale, ["POST"]),
        route("/api/2.0/sales/{id}/fulfillments", sale_fulfillments, ["GET"]),
        route("/api/2.0/consignments", create_consignment, ["POST"]),
        route("/api/2.0/consignments/{id}", change_consignment, ["PUT"]),
        route("/api/2.0/consignments/{id}/products", consignment_products, ["GET", "POST"]),
        route("/api/2.0/consignments/{id}/products/{product_id}", consignment_product, ["PUT"]),
        route("/api/2.0/webhooks", webhooks, ["GET", "POST"]),
        route("/api/2.0/webhooks/{id}", webhook, ["GET", "PUT", "DELETE"]),
        route("/api/webhooks", legacy_webhooks, ["POST"]),
        route("/api/2.0/products/{id}/inventory", product_inventory, ["GET"]),
        route("/api/2.0/products/{id}/price_book_products", price_books_of_product, ["GET"]),
        route("/api/2.0/search", search_rows, ["GET"]),
        route("/api/2.0/{collection}", list_collection, ["GET"]),
        route("/api/2.0/{collection}/{id}", get_one, ["GET"]),
    ])


def _versions(rows: list[dict]) -> dict:
    return {"min": rows[0]["version"], "max": rows[-1]["version"]} if rows else {"min": None, "max": None}
