"""Real X-Series traffic for the vendor-document conformance modules: the emulator served over
loopback with a small seeded world, every exchange kept by a `Recorder`, then the connector doing
what it does in production (every read, full and delta; every write flow) plus the errors it
handles (401, 404, 409, 422, 400, 429 with Retry-After).

Also the two readers of `docs/lightspeed_x.md` the suites need: the table of routes outside the 2.0
document (with the vendor page defining each) and the table of differences kept on purpose.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from starlette.routing import Route

from omnisync_pipelines import systems
from omnisync_pipelines.canonical.models import Customer, Order, OrderLine
from omnisync_pipelines.connectors.registry import open_connector
from omnisync_pipelines.defs.specs import ENTITY_TABLES
from omnisync_pipelines.rest.errors import ApiStatusError
from omnisync_pipelines.sandbox.scenario import build_world
from omnisync_pipelines.sandbox.serve import SandboxServer
from omnisync_pipelines_tests.conformance.served_pos import pos_only_settings
from omnisync_pipelines_tests.conformance.vendor_documents import (
    Recorder,
    key_paths,
    markdown_table,
    postman_requests,
    record,
    vendor_json,
)

POS = "lightspeed_x"
HOST = "https://example.retail.lightspeed.app"
DOC = Path(__file__).resolve().parents[2] / "docs" / "lightspeed_x.md"
ROUTES_HEADING = "Routes outside the API 2.0 document"
KEPT_HEADING = "Where the emulator differs from the vendor document, and why"
T = datetime(2024, 5, 1, 10, 0, tzinfo=UTC).isoformat()


# ------------------------------------------------------------------ the doc's tables


def doc_table(heading: str) -> list[dict[str, str]]:
    """The first Markdown table under `## <heading>` in docs/lightspeed_x.md, as rows by column name."""
    return markdown_table(DOC, heading)


def listed_routes() -> dict[tuple[str, str], str]:
    """(METHOD, emulator path template) -> the vendor page defining it, from the doc's routes table.
    The `route` cell reads like `POST /api/2.1/products/{id}/variants`."""
    out = {}
    for row in doc_table(ROUTES_HEADING):
        method, path = row["route"].strip("`").split(" ", 1)
        out[(method, path.strip("`"))] = row["defined by"]
    return out


@dataclass(frozen=True)
class Kept:
    """One difference kept on purpose: a verdict on `operation` with `status` whose error contains
    `match` is tolerated (status "*" = any)."""

    operation: str
    status: str
    match: str

    def tolerates(self, verdict) -> bool:
        operation = verdict.operation or f"{verdict.exchange.method} {verdict.exchange.path}"
        return (operation == self.operation and self.status in ("*", str(verdict.exchange.status))
                and all(self.match in e for e in verdict.errors))


def kept_differences() -> list[Kept]:
    """The doc's table of differences kept on purpose; column `tolerated` holds
    `<operation> · <status> · <text of the validator's error>`."""
    out = []
    for row in doc_table(KEPT_HEADING):
        operation, status, match = (part.strip().strip("`") for part in row["tolerated"].split("·"))
        out.append(Kept(operation, status, match))
    return out


# ------------------------------------------------------------------ the sandbox and its traffic


@dataclass
class Traffic:
    recorder: Recorder
    emulator: object
    server: SandboxServer
    base_url: str
    config: object
    secrets: dict
    world: object
    loaded: object
    notes: dict = field(default_factory=dict)

    @property
    def exchanges(self):
        return self.recorder.exchanges


def serve_world(seed: int = 18) -> Traffic:
    """The emulator (recorded) over a socket, two stores of a small world loaded and a day at its tills."""
    sandbox = systems.sandbox_plugin(POS)
    emulator = sandbox.emulator(seed=seed)
    recorder = record(emulator)
    server = SandboxServer().start({POS: emulator})
    world = build_world(seed, stores=2, products=3, customers=6)
    base_url = server.base_url(POS)

    async def load():
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            return await sandbox.load(world, list(world.stores), client, emulator)

    try:
        loaded = server.run(load(), timeout=60)
        config, secrets = pos_only_settings(POS, base_url, emulator, world, loaded)
    except BaseException:
        server.stop()
        raise
    return Traffic(recorder, emulator, server, base_url, config, secrets, world, loaded)


async def refused(call, status: int):
    """Run a call the API must refuse with `status`; the answer's body is recorded all the same."""
    with pytest.raises(ApiStatusError) as caught:
        await call
    assert caught.value.status == status, caught.value
    return caught.value


async def connector_reads(traffic: Traffic) -> None:
    """Every entity, full and then delta from the full read's cursor."""
    async with open_connector(POS, traffic.config, traffic.secrets) as connector:
        full = {entity: await connector.read(entity) for entity in ENTITY_TABLES}
        for entity, read in full.items():
            await connector.read(entity, since=read.cursor)
        traffic.notes["reads"] = {entity: read.raw_count for entity, read in full.items()}


async def connector_writes(traffic: Traffic) -> None:
    """Each write flow the connector has, through its own client, and the refusals it handles."""
    ids = traffic.loaded.ids
    store_a, store_b = traffic.loaded.stores[:2]
    outlet_a, outlet_b = ids["outlet_ids"][store_a], ids["outlet_ids"][store_b]
    register = ids["register_ids"][store_a][0]
    cash = ids["payment_type_ids"]["cash"]
    async with open_connector(POS, traffic.config, traffic.secrets) as connector:
        client = connector.client
        # catalog: a standard product, a family of two, a new size through the parent, updates
        (mug,) = await client.create_product({"name": "Mug", "handle": "mug", "tax_id": ids["tax_id"]},
                                             [{"sku": "VD-MUG", "price_excluding_tax": 10.0,
                                               "product_codes": [{"type": "EAN", "code": "4006381333931"}],
                                               "supply_price": 4.5}])
        tee_s, tee_m = await client.create_product(
            {"name": "Tee", "handle": "vd-tee", "tax_id": ids["tax_id"]},
            [{"sku": "VD-TEE-S", "price_excluding_tax": 16.80672}, {"sku": "VD-TEE-M", "price_excluding_tax": 16.80672}])
        await client.call("POST", f"/api/2.1/products/{tee_s}/variants",
                          json={"details": {"sku": "VD-TEE-L", "price_excluding_tax": 16.80672}})
        await client.update_product(mug, {"name": "Mug, blue"}, {"price_excluding_tax": 11.0})
        await client.set_inventory(mug, outlet_a, 7)
        await client.adjust_inventory(mug, outlet_a, -2)
        await client.get("products", mug)
        await client.products_by_sku(["VD-MUG", "VD-TEE-S"])
        await client.product_family("Tee")
        await client.price_book_entries_of(mug)
        await refused(client.get("products", "00000000-0000-0000-0000-000000000000"), 404)
        await refused(client.update_product("00000000-0000-0000-0000-000000000000", {"name": "x"}), 404)
        # price books: a store's book and its entries
        everyone = next(g["id"] for g in (await client.customer_groups()).rows if g.get("group_id") == "1111111111")
        book = (await client.call("POST", "/api/2.0/price_books",
                                  json={"name": "omnisync vd", "outlet_id": outlet_b, "customer_group_id": everyone}))["data"]
        await refused(client.call("POST", "/api/2.0/price_books", json={
            "name": "nowhere", "outlet_id": "00000000-0000-0000-0000-000000000000", "customer_group_id": everyone}), 422)
        await client.save_price_book_entries(book["id"], [{"product_id": mug, "tax_id": ids["tax_id"], "price": 9.5},
                                                          {"product_id": tee_m, "tax_id": ids["tax_id"], "price": 15.0}])
        await client.call("GET", f"/api/2.0/price_books/{book['id']}/products")
        await client.price_books()
        await client.price_book_products()
        # customers: create, update, a duplicate code refused, found by search
        customers = systems.pos_plugin(POS).customer_target(connector)
        ann = await customers.create(Customer("commercetools", "VD-ANN", "ann@example.com", "Ann", "Lee",
                                              consent_marketing=True))
        ann = {"id": ann.customer_id}
        await customers.update(ann["id"], {"phone": "+49 30 1234567", "loyalty_id": "VD-ANN"})
        await refused(client.create_customer({"first_name": "Ann", "last_name": None, "customer_code": "VD-ANN"}), 409)
        await client.search("customers", [("customer_code", "VD-ANN")])
        await client.search("customers", [("email", "ann@example.com")])
        # sales: a till sale, its return, a pickup sale prepaid and collected, one that cannot close
        sale = await client.register_sale({
            "register_id": register, "user_id": ids["user_id"], "customer_id": ann["id"], "status": "CLOSED",
            "sale_date": T, "note": "vd", "register_sale_products": [
                {"product_id": mug, "quantity": 2, "price": 11.0, "tax": 2.09, "tax_id": ids["tax_id"],
                 "discount": 0, "sequence": 0, "status": "CONFIRMED"}],
            "register_sale_payments": [{"retailer_payment_type_id": cash, "amount": 26.18, "payment_date": T}]})
        await client.get("sales", sale["id"])
        await client.return_sale(sale["id"])
        # an online order for pickup, as the fulfilment flow registers it (prepaid, so it closes when collected)
        fulfilment = systems.pos_plugin(POS).fulfilment(connector)
        order = Order("commercetools", "ct-vd-1", "VD-1001", "online", "EUR", 2000, 319, 0, "Open",
                      datetime(2024, 5, 1, 10, 0, tzinfo=UTC), store_a, fulfilment="click_and_collect")
        pickup = await fulfilment.create_sale(order, [OrderLine("commercetools", "VD-1001", "li-1", "VD-TEE-M", 1,
                                                                2000, 0, 319, 2000)], store_a)
        await fulfilment.find_sale("ct-vd-1")
        await client.register_sale({**{k: pickup[k] for k in ("id", "register_id")}, "note": "VD-1001 paid online",
                                    "status": "AWAITING_PICKUP"})
        await client.fulfill_sale(pickup["id"], "PICKED_UP")
        await client.call("GET", f"/api/2.0/sales/{pickup['id']}/fulfillments")
        unpaid = await client.register_sale({
            "register_id": register, "user_id": ids["user_id"], "status": "AWAITING_DISPATCH", "sale_date": T,
            "register_sale_products": [{"product_id": mug, "quantity": 1, "price": 11.0, "tax": 2.09,
                                        "tax_id": ids["tax_id"], "discount": 0, "sequence": 0}],
            "register_sale_payments": []})
        await refused(client.fulfill_sale(unpaid["id"], "SHIPPED"), 400)
        await refused(client.return_sale("00000000-0000-0000-0000-000000000000"), 404)
        # consignments: a supplier order received short, a transfer, a supplier return
        order = await client.create_consignment("SUPPLIER", outlet_a, name="VD order")
        await client.add_consignment_product(order["id"], mug, 5, cost=4.5)
        await client.set_consignment_status(order["id"], "SENT")
        await client.update_consignment_product(order["id"], mug, received=4)
        await client.set_consignment_status(order["id"], "RECEIVED")
        transfer = await client.create_consignment("OUTLET", outlet_b, name="VD transfer", source_outlet_id=outlet_a)
        await client.add_consignment_product(transfer["id"], mug, 1)
        await client.set_consignment_status(transfer["id"], "SENT")
        await client.set_consignment_status(transfer["id"], "RECEIVED")
        back = await client.create_consignment("RETURN", outlet_a, name="VD return")
        await client.add_consignment_product(back["id"], tee_m, 1)
        await client.set_consignment_status(back["id"], "SENT")
        await refused(client.set_consignment_status(back["id"], "OPEN"), 422)
        await client.consignments_with_products()
        # webhooks: registration (idempotent), update, delete, an unknown type refused
        url = "https://receiver.example/webhooks/lightspeed_x/sale.update?token=s"
        hook = await client.ensure_webhook(url, "sale.update")
        await client.ensure_webhook(url, "sale.update")  # 409, then found in the list
        await client.update_webhook(hook["id"], active=False)
        await client.delete_webhook(hook["id"])
        await refused(client.call("POST", "/api/2.0/webhooks", json={"url": url, "type": "sale.create",
                                                                     "active": True}), 422)
    traffic.notes["written"] = {"mug": mug, "tee_s": tee_s, "tee_m": tee_m, "book": book["id"], "ann": ann["id"]}


async def connector_refusals(traffic: Traffic) -> None:
    """A 429 (Retry-After an HTTP date) waited out, and a token the API does not know."""
    async with open_connector(POS, traffic.config, traffic.secrets) as connector:
        traffic.emulator.faults.throttle_burst = 1
        traffic.emulator.faults.retry_after_s = 1.0
        await connector.client.outlets()
        assert traffic.emulator.faults.injected.get("throttle") == 1
    secrets = {**traffic.secrets, "personal_token": type(traffic.secrets["personal_token"])("not-a-token")}
    async with open_connector(POS, traffic.config, secrets) as connector:
        await refused(connector.client.outlets(), 401)
    # OAuth: the app's authorisation (the operator's one-time code exchange), then the connector
    # refreshing its token, and again after the access token expired (401 "Access token is not valid")
    emulator = traffic.emulator
    credentials = emulator.credentials(traffic.base_url)
    async with httpx.AsyncClient(base_url=traffic.base_url) as http:
        answer = (await http.post("/api/1.0/token", data={
            "code": emulator.authorize(), "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"], "grant_type": "authorization_code",
            "redirect_uri": "https://omnisync.example/callback"})).json()
    oauth = {"client_id": credentials["client_id"], "client_secret": credentials["client_secret"],
             "refresh_token": answer["refresh_token"], "token_file": None}
    async with open_connector(POS, traffic.config, oauth) as connector:
        await connector.client.outlets()
        emulator.expire_tokens()
        await connector.client.registers()


def _plan(rows, ids: dict[str, str]):
    import pandas as pd

    return pd.DataFrame([{
        "sku": sku, "action": action, "changes": changes, "desired": json.dumps(desired), "prices": json.dumps(p),
        "pos_system_id": ids.get(sku), "idempotency_key": f"{sku}:{action}:{json.dumps(desired)}{json.dumps(p)}",
    } for sku, action, changes, desired, p in rows])


async def catalog_pushes(traffic: Traffic) -> None:
    """The catalog target as a run drives it: a new family with a store price of its own (a price
    book and its entries), then a rename and a price change, then a new size joining the family."""
    import tempfile

    import pandas as pd

    from omnisync_pipelines.engine.catalog_push import push_catalog
    from omnisync_pipelines.store.ops import OpsStore

    store_a, store_b = traffic.loaded.stores[:2]
    location_map = {traffic.loaded.ids["outlet_ids"][k]: k for k in (store_a, store_b)}

    def desired(sku, name="Hoodie"):
        return {"sku": sku, "product_key": "vd-hoodie", "name": name, "barcode": None, "attributes": {},
                "tax_category": None, "active": True}

    def prices(a, b):
        return {store_a: {"currency": "EUR", "amount": a}, store_b: {"currency": "EUR", "amount": b}}

    with tempfile.TemporaryDirectory() as folder:
        ops = OpsStore.from_url(f"sqlite:///{folder}/ops.sqlite")
        try:
            async with open_connector(POS, traffic.config, traffic.secrets) as connector:
                plugin = systems.pos_plugin(POS)
                ids: dict[str, str] = {}
                for rows in (
                    [(f"VD-HOOD-{s}", "create", ["name", "prices"], desired(f"VD-HOOD-{s}"), prices(4990, 4490))
                     for s in ("S", "M")],
                    [(f"VD-HOOD-{s}", "update", ["name", "prices"], desired(f"VD-HOOD-{s}", "Hoodie, grey"),
                      prices(5490, 4990)) for s in ("S", "M")],
                    [("VD-HOOD-L", "create", ["name", "prices"], desired("VD-HOOD-L", "Hoodie, grey"), prices(5490, 4990))],
                ):
                    target = plugin.catalog_target(connector, location_map)
                    target.expect(_plan(rows, ids), pd.DataFrame(), pd.DataFrame())
                    stats = await push_catalog(_plan(rows, ids), target, ops, pos_system=POS)
                    assert stats.failed == 0 and stats.rejected == 0, stats.errors
                    ids = {p["sku"]: p["id"] for p in (await connector.client.products()).rows}
        finally:
            ops.engine.dispose()


def played(traffic: Traffic) -> Traffic:
    async def everything():
        await connector_reads(traffic)
        await connector_writes(traffic)
        await catalog_pushes(traffic)
        await connector_reads(traffic)  # now with sales, returns, consignments and price books to read
        await connector_refusals(traffic)

    asyncio.run(everything())
    return traffic


def exchange_summary(exchanges) -> str:
    return "\n".join(str(e) + " " + e.response_body[:200].decode(errors="replace") for e in exchanges)


def jsonish(body: bytes):
    try:
        return json.loads(body)
    except ValueError:
        return None


ROUTE_PARAM = re.compile(r"\{[^}]+\}")


# ------------------------------------------------------------------ the vendor's documents, as checked

DOCUMENT = ("lightspeed_x", "api-2.0-openapi.json")
POSTMAN = ("lightspeed_x", "postman-collection.json")
CONSIGNMENTS_2026 = ("lightspeed_x", "2026-07-consignments-excerpt.yml")
# the documented error body: `{"error": "..."}` (examples at GET /services 401, DELETE /users/{id} 403/404)
ERROR_BODY = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}


def patch_vendor_defects(spec: dict) -> dict:
    """The 2.0 document with its known defects corrected, each named. Nothing else is changed."""
    schemas = spec["components"]["schemas"]
    # 1. `version` on an empty page is {"min": null, "max": null}: the 2026-07 split of the same
    #    document says so ("or `null` when the result set is empty"); 2.0 types them as plain integers.
    for bound in ("min", "max"):
        schemas["Version"]["properties"][bound]["nullable"] = True
    # 2. GET /consignments answers {data, version} like every other 2.0 collection (2026-07 split:
    #    ConsignmentCollection); the 2.0 document says a bare array.
    spec["paths"]["/consignments"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {
        "type": "object", "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Consignment"}},
                                         "version": {"$ref": "#/components/schemas/Version"}}}
    # 3. a consignment line is sent flat ({product_id, count, ...}): the vendor's Postman requests "Add a
    #    product to a consignment" / "Update a product in a consignment" send it so, as POST /consignments
    #    sends its body; ConsignmentProductRequest wraps it in `data` (required).
    schemas["ConsignmentProductRequest"] = {"$ref": "#/components/schemas/ConsignmentProduct"}
    # 4. InventoryCountItem (the answer to adding a consignment line) requires `deleted_at` as a non-null
    #    string: a live line has none (ConsignmentProduct, the same line read back, has it nullable).
    schemas["InventoryCountItem"]["properties"]["deleted_at"]["nullable"] = True
    # 5. error answers are documented on six operations only, always as `{"error": "..."}`: every
    #    operation gets that body as its `default` answer, so an error status is checked for that body
    #    (and a success status the document does not give is not taken for one).
    for path_item in spec["paths"].values():
        for method, operation in path_item.items():
            if method in ("get", "put", "post", "patch", "delete") and "default" not in operation.get("responses", {}):
                operation.setdefault("responses", {})["default"] = {
                    "description": "Error (documented body)", "content": {"application/json": {"schema": ERROR_BODY}}}
    return spec


def patched_document() -> dict:
    return patch_vendor_defects(json.loads(json.dumps(vendor_json(*DOCUMENT))))


def schema_key_paths(spec: dict, schema: dict, prefix: str = "", depth: int = 0) -> set[str]:
    """Dotted property paths a schema names ($refs followed, array items folded)."""
    if depth > 6:
        return set()
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    out: set[str] = set()
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return schema_key_paths(spec, schema["items"], prefix, depth + 1)
    for name, inner in (schema.get("properties") or {}).items():
        out.add(prefix + name)
        out |= schema_key_paths(spec, inner, f"{prefix}{name}.", depth + 1)
    return out


def shown_request_keys() -> dict[tuple[str, str], set[str]]:
    """(METHOD, path template) of the routes outside the 2.0 document -> every body key the vendor
    shows for them: the Postman request's body, and for 2.1 product writes also the product fields of
    the 2.0 document (ProductCreateBody, ProductAddVariantPayload) under `common.` and `details.`."""
    spec = vendor_json(*DOCUMENT)
    shown: dict[tuple[str, str], set[str]] = {}
    for request in postman_requests(vendor_json(*POSTMAN)):
        key = (request["method"], ROUTE_PARAM.sub("{id}", request["path"]))
        shown.setdefault(key, set()).update(key_paths(request["body"]) if request["body"] is not None else set())
    product_fields = set()
    for name in ("ProductCreateBody", "ProductAddVariantPayload"):
        product_fields |= schema_key_paths(spec, {"$ref": f"#/components/schemas/{name}"})
    for key in (("POST", "/api/2.1/products"), ("PUT", "/api/2.1/products/{id}"), ("POST", "/api/2.1/products/{id}/variants")):
        shown.setdefault(key, set()).update(f"{block}.{f}" for block in ("common", "details") for f in product_fields)
        shown[key] |= {"common", "details"}
    return shown


def route_template(method: str, path: str) -> tuple[str, str]:
    """An emulator path with its ids turned into `{id}` (uuids and the like), for the tables."""
    parts = path.split("/")
    out = [p if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{32}|user-.*", p) else "{id}" for p in parts]
    return method, "/".join(out)


def emulator_routes() -> set[tuple[str, str]]:
    """(METHOD, path template) of every emulator route; `{collection}` routes expanded per collection."""
    from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
    from omnisync_pipelines.sandbox.emulators.lightspeed_x.app import READABLE, SINGLE, build_app

    out = set()
    for route in build_app(LightspeedXEmulator()).routes:
        assert isinstance(route, Route)
        for method in route.methods - {"HEAD"}:
            if "{collection}" in route.path:  # lists of READABLE, single rows of SINGLE
                out |= {(method, route.path.replace("{collection}", c)) for c in
                        (SINGLE if route.path.endswith("{id}") else READABLE)}
            else:
                out.add((method, route.path))
    return out
