"""Everything the connector exchanges with commercetools, checked against commercetools' own OpenAPI
document (../shared/vendor_api/commercetools/openapi.yaml), not against our reading of it.

Scenario: our emulator, recorded (`vendor_documents.record`), is served over loopback with the seeded
sandbox world (loaded as `omnisync sandbox serve` loads it). Then the connector runs what production
runs:
- every read of `CommercetoolsConnector`, full and delta;
- stock writes one by one (REST) and batched (GraphQL);
- POS sales imported as orders with their payments;
- a POS return (return info, refund, return shipment state);
- customers created, updated one by one (REST) and batched (GraphQL).
It also meets the errors it must survive:
- 404 `ResourceNotFound`;
- 409 `ConcurrentModification` (REST, and one GraphQL alias);
- 400 `DuplicateField`, `InvalidInput`;
- 401 `invalid_token` (a token expired under it);
- 403 `insufficient_scope`;
- 500/502 and 503 `OverCapacity` by fault injection.

Every recorded exchange is validated: the request (parameters, and the body the connector sent) and
the response (status and body, error bodies included). A message that no row of docs/commercetools.md
"Where the emulator differs from the vendor document, and why" explains fails the test. So does a
scenario that exercised less than the (operation, status) pairs listed in REQUIRED.
"""

from __future__ import annotations

import json
import re
import warnings
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from omnisync_pipelines.canonical.models import Customer, Order, OrderLine, Payment, Return, ReturnLine
from omnisync_pipelines.connectors.commercetools.client import build_client
from omnisync_pipelines.connectors.commercetools.connector import CommercetoolsConnector
from omnisync_pipelines.connectors.commercetools.customer_target import CommercetoolsCustomers
from omnisync_pipelines.connectors.commercetools.settings import CommercetoolsSettings
from omnisync_pipelines.demo import load_served
from omnisync_pipelines.engine.order_drafts import StoreRef
from omnisync_pipelines.engine.orders import sync_store_sales
from omnisync_pipelines.engine.returns import ReturnSyncOptions, sync_returns
from omnisync_pipelines.rest.errors import ApiError, BadRequest, Conflict
from omnisync_pipelines.rest.retry import RetryPolicy
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.emulators.commercetools.app import Api
from omnisync_pipelines.sandbox.emulators.commercetools.auth import Auth
from omnisync_pipelines.sandbox.emulators.commercetools.resources import KINDS
from omnisync_pipelines.sandbox.emulators.commercetools.store import Store
from omnisync_pipelines.sandbox.loader_commercetools import CommercetoolsLoader
from omnisync_pipelines.sandbox.scenario import build_world, trading_day
from omnisync_pipelines.sandbox.serve import SandboxServer
from omnisync_pipelines.sandbox.world import OnlineOrder
from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines_tests.conformance.ct_vendor import (
    API_HOST,
    commercetools_spec,
    grouped,
    kept_differences,
    made_up_fields,
    markdown_table,
    subtype_problems,
    unexplained,
)
from omnisync_pipelines_tests.conformance.test_ct_conformance_order_reads import (
    DE_19,
    dhl_shipping,
    eur,
    web_order,
)
from omnisync_pipelines_tests.conformance.vendor_documents import (
    Exchange,
    VendorCheck,
    Verdict,
    coverage,
    record,
)

SEED = 11
POS = "lightspeed_x"
SOLD_AT = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
TOKEN_PATH = "/oauth/token"  # on the auth host, outside the API document (docs table "Routes ...")

P = "/{projectKey}"
# What the scenario must have exercised, at least once each: the routes, methods and statuses the
# connector uses (a scenario that silently stops doing something fails here, not by passing emptily).
REQUIRED = {
    (f"GET {P}/channels", 200), (f"GET {P}/product-projections", 200), (f"GET {P}/inventory", 200),
    (f"GET {P}/orders", 200), (f"GET {P}/customers", 200), (f"GET {P}/types/key={{key}}", 200),
    (f"GET {P}/types/key={{key}}", 404), (f"POST {P}/types", 201), (f"POST {P}/inventory", 201),
    (f"POST {P}/inventory/{{ID}}", 200), (f"POST {P}/inventory/{{ID}}", 409), (f"GET {P}/inventory/{{ID}}", 404),
    (f"POST {P}/graphql", 200), (f"POST {P}/orders/import", 201), (f"POST {P}/orders/import", 400),
    (f"GET {P}/orders/order-number={{orderNumber}}", 200), (f"GET {P}/orders/order-number={{orderNumber}}", 404),
    (f"POST {P}/orders/{{ID}}", 200), (f"POST {P}/payments", 201), (f"POST {P}/payments/{{ID}}", 200),
    (f"GET {P}/payments/{{ID}}", 200), (f"POST {P}/customers", 201), (f"POST {P}/customers/{{ID}}", 200),
    (f"GET {P}/customers/{{ID}}", 200), (f"GET {P}/customers/key={{key}}", 404), (f"GET {P}/customers", 400),
    (f"POST {P}/channels", 400), (f"GET {P}/channels", 401), (f"GET {P}/orders", 403),
    (f"GET {P}/inventory", 500), (f"GET {P}/inventory", 502), (f"GET {P}/inventory", 503),
    (f"GET {P}/inventory", 429),
}


def _settings(base: str, emulator: CommercetoolsEmulator, scopes: str | None = None) -> CommercetoolsSettings:
    return CommercetoolsSettings(api_url=base, auth_url=base, project_key=emulator.project_key,
                                 client_id=emulator.auth.client_id, client_secret=SecretStr(emulator.auth.client_secret),
                                 scopes=scopes)


def _client(base: str, emulator: CommercetoolsEmulator, scopes: str | None = None):
    retry = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, retry_after_cap=0.05)
    return build_client(_settings(base, emulator, scopes), http=httpx.AsyncClient(timeout=10.0), retry=retry)


def _sale(order_id: str, number: str, store: str, lines: list[tuple[str, int, int]], tenders: list[tuple[str, int]]):
    rows = []
    for n, (sku, quantity, unit) in enumerate(lines):
        total = quantity * unit
        rows.append(OrderLine(POS, order_id, f"{order_id}-L{n}", sku, quantity, unit, 0, total - round(total / 1.19), total))
    order = Order(system=POS, order_id=order_id, order_number=number, channel="store", currency="EUR",
                  total_gross=sum(r.total for r in rows), total_tax=sum(r.tax for r in rows), total_discount=0,
                  status="CLOSED", created_at=SOLD_AT, location_key=store, fulfilment="in_store", updated_at=SOLD_AT)
    payments = [Payment(POS, order_id, f"{order_id}-P{i}", method, amount, "EUR") for i, (method, amount) in enumerate(tenders)]
    return order, rows, payments


async def _scenario(base: str, emulator: CommercetoolsEmulator, loaded, ops: OpsStore) -> dict:
    """The connector's traffic; returns what the test asserts on besides the document."""
    world = loaded.world
    stores = [s for s in world.stores if s.currency == "EUR"][:2]
    skus = [v.sku for v in world.variants]
    client = _client(base, emulator)
    connector = CommercetoolsConnector(client, {s.channel_key: s.key for s in world.stores})
    seen: dict = {}
    start = datetime.now(UTC) - timedelta(seconds=1)
    try:
        for entity in ("locations", "catalog", "prices", "stock", "orders", "returns", "customers"):
            await connector.read(entity)

        # stock: REST one by one (create, update, already applied), then a GraphQL batch
        first = await connector.apply_stock_delta(skus[0], stores[0].key, 5, "mv-1")
        await connector.apply_stock_delta(skus[0], stores[0].key, -2, "mv-2")
        again = await connector.apply_stock_delta(skus[0], stores[0].key, -2, "mv-2")
        batch = await connector.apply_stock_deltas(
            [(sku, store.key, 3, f"mv-b-{sku}-{store.key}") for sku in skus[:4] for store in stores])
        seen["stock"] = (first["status"], again["status"], sorted({r["status"] for r in batch if isinstance(r, dict)}))

        # a GraphQL alias refused for a stale version, next to one that applies
        stale = await client.find_inventory_entry(skus[1], await connector.channel_id_for(stores[0].key))
        connector.drop_prefetched()
        await client.update_inventory_entry(stale["id"], stale["version"], [{"action": "addQuantity", "quantity": 1}])
        connector._entries[(skus[1], stores[0].key)] = stale  # the prefetch read it before that write
        seen["stale_batch"] = await connector.apply_stock_deltas(
            [(skus[1], stores[0].key, 1, "mv-stale"), (skus[2], stores[0].key, 1, "mv-fresh")])

        # POS sales -> orders with payments; a POS return of one of them
        refs = {s.key: StoreRef(channel_id=loaded.channel_ids[s.key], store_key=s.key, country=s.country)
                for s in stores}
        sales = [_sale("s1", "1001", stores[0].key, [(skus[0], 2, 1999), (skus[1], 1, 999)], [("cash", 2000), ("card", 2997)]),
                 _sale("s2", "1002", stores[1].key, [(skus[2], 1, 4999)], [("card", 4999)])]
        outcome = await sync_store_sales([s[0] for s in sales], [li for s in sales for li in s[1]],
                                         [p for s in sales for p in s[2]], client, ops, pos_system=POS, stores=refs)
        seen["sales"] = (outcome.statistics.applied, outcome.rejections)
        ret = Return(POS, "r1", "EUR", 1999, SOLD_AT + timedelta(days=1), "s1", stores[0].key, "wrong size")
        returned = await sync_returns([ret], [ReturnLine(POS, "r1", "r1-L0", skus[0], 1, 1999, None, True)], client, ops,
                                      pos_system=POS, stores=refs,
                                      options=ReturnSyncOptions(reason_codes={"wrong size": "SIZE"}, restock_via="return"))
        seen["returns"] = (returned.statistics.applied, returned.rejections)
        order = await client.get_order_by_number(f"POS-{stores[0].key.upper()}-1001", expand=True)
        seen["order"] = order
        try:  # the same orderNumber again: DuplicateField, which the connector reads as "already applied"
            await client.call("POST", client.url("orders", "import"), json={
                "orderNumber": order["orderNumber"], "totalPrice": {"currencyCode": "EUR", "centAmount": 1}})
        except BadRequest as exc:
            seen["duplicate_order"] = exc.codes

        # web orders: the storefront's (as the sandbox plays them), and one shipped by DHL with taxes
        web = [e for e in trading_day(world, SEED).events if isinstance(e, OnlineOrder)][:2]
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            storefront = CommercetoolsLoader(http, loaded.ct_credentials, loaded.channel_ids)
            for event in web:
                await storefront.online_order(event, world)
        tax = await client.create("tax-categories", {"key": "std", "name": "standard", "rates": [DE_19]})
        zone = await client.create("zones", {"key": "de", "name": "Germany", "locations": [{"country": "DE"}]})
        dhl = await client.create("shipping-methods", {
            "key": "dhl", "name": "DHL Standard", "isDefault": False, "taxCategory": {"typeId": "tax-category", "id": tax["id"]},
            "zoneRates": [{"zone": {"typeId": "zone", "id": zone["id"]}, "shippingRates": [{"price": eur(495)}]}]})
        shipped = web_order("WEB-DHL-1", skus[0], dhl_shipping(dhl))
        shipped["taxedPrice"]["totalTax"]["type"] = "centPrecision"  # a TypedMoneyDraft (the fixture omits it)
        await client.import_order(shipped)
        seen["web_orders"] = len(web)
        seen["priced"] = [p async for p in client.iter_product_projections(
            price_currency="EUR", price_country=stores[0].country, price_channel=await connector.channel_id_for(stores[0].key))]

        # customers: create (custom type on first use), find, update by REST, update many by GraphQL
        target = CommercetoolsCustomers(client)
        created = [await target.create(Customer(POS, f"c{i}", f"pos.shopper{i}@example.com", "Ann", f"Shopper{i}",
                                                loyalty_id=f"LOY-{i}", consent_marketing=True)) for i in range(3)]
        await target.find(Customer(POS, "c-none", "nobody@example.com"))
        await target.update(created[0].customer_id, {"first_name": "Anna", "phone": "+49 30 1234"})
        seen["update_many"] = await target.update_many(
            [(c.customer_id, {"last_name": "Renamed", "loyalty_id": "LOY-X"}) for c in created])

        # deltas since the scenario began
        for entity in ("catalog", "stock", "orders", "customers"):
            await connector.read(entity, since=start.isoformat())

        # errors the connector meets and survives
        seen["missing"] = await client.get_by_id("inventory", "00000000-0000-0000-0000-000000000000")
        entry = await client.find_inventory_entry(skus[0], await connector.channel_id_for(stores[0].key))
        try:
            await client.update_inventory_entry(entry["id"], entry["version"] - 1, [{"action": "addQuantity", "quantity": 1}])
        except Conflict as exc:
            seen["conflict"] = exc.codes
        try:
            await client.create("channels", {"key": stores[0].channel_key, "roles": ["InventorySupply"]})
        except BadRequest as exc:
            seen["duplicate_channel"] = exc.codes
        try:
            await client.call("GET", client.url("customers"), params={"where": "email = = broken"})
        except BadRequest as exc:
            seen["invalid_input"] = exc.codes
        emulator.expire_tokens()
        seen["after_expiry"] = len(await client.channels())  # 401 invalid_token, a new token, the same read
        emulator.faults.error_rate, emulator.faults.budget = 1.0, 2  # a 502, then a 500, then through
        emulator.faults.injected.clear()
        await client.find_inventory_entry(skus[0], await connector.channel_id_for(stores[0].key))
        emulator.faults.clear()
        emulator.faults.throttle_burst = 1  # 503 OverCapacity (the emulator's default throttle answer)
        await client.find_inventory_entry(skus[0], await connector.channel_id_for(stores[0].key))
        emulator.throttle_status, emulator.faults.retry_after_s = 429, 0.01  # 429 + Retry-After (kept difference K1)
        emulator.faults.throttle_burst = 1
        await client.find_inventory_entry(skus[0], await connector.channel_id_for(stores[0].key))
        emulator.throttle_status = 503
        seen["no_order"] = await client.get_order_by_number("POS-NOWHERE-0")
        # not read by the connector: the messages the emulator recorded for all of the above
        seen["messages"] = {m["type"] for m in await client.query("messages")}
    finally:
        emulator.faults.clear()
        await client.aclose()
    second_run = _client(base, emulator)
    try:  # a second run finds omnisync's custom types by key
        seen["types"] = sorted(await second_run.ensure_types())
    finally:
        await second_run.aclose()
    narrow = _client(base, emulator, scopes=f"view_products:{emulator.project_key}")
    try:  # a token without view_orders: 403 insufficient_scope
        await narrow.query("orders")
    except ApiError as exc:
        seen["forbidden"] = exc.codes
    finally:
        await narrow.aclose()
    return seen


@pytest.fixture(scope="module")
def document():
    return commercetools_spec()


@pytest.fixture(scope="module")
def check(document) -> VendorCheck:
    return VendorCheck(document[0], API_HOST)


@pytest.fixture(scope="module")
def traffic(tmp_path_factory, check):
    emulator = CommercetoolsEmulator(seed=SEED)
    recorder = record(emulator)
    server = SandboxServer().start({"commercetools": emulator})
    try:
        loaded = server.run(load_served(build_world(SEED), server), timeout=120)
        ops = OpsStore.from_url(f"sqlite:///{tmp_path_factory.mktemp('ct-vendor') / 'ops.sqlite'}")
        seen = server.run(_scenario(server.base_url("commercetools"), emulator, loaded, ops), timeout=120)
    finally:
        server.stop()
    exchanges = [ex for ex in recorder.exchanges if ex.path != TOKEN_PATH]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Unsupported scheme type")  # openapi-core cannot check oauth2 itself
        verdicts = check.verdicts(exchanges)
    return seen, verdicts, recorder.exchanges


def test_the_scenario_did_what_production_does(traffic):
    seen, _, _ = traffic
    assert seen["stock"] == ("applied", "already_applied", ["applied"])
    stale, fresh = seen["stale_batch"]
    assert isinstance(stale, dict) and stale["status"] == "applied"  # the refused alias went REST: re-read, retried
    assert isinstance(fresh, dict) and fresh["status"] == "applied"
    assert seen["sales"] == (2, []) and seen["returns"] == (1, [])
    assert [i["shipmentState"] for info in seen["order"]["returnInfo"] for i in info["items"]] == ["BackInStock"]
    assert seen["duplicate_order"] == ["DuplicateField"]
    assert seen["web_orders"] == 2
    assert {"OrderImported", "ReturnInfoAdded", "InventoryEntryQuantitySet", "PaymentTransactionAdded",
            "CustomerCreated", "ProductCreated"} <= seen["messages"]
    assert seen["priced"] and all("price" in v for p in seen["priced"] for v in [p["masterVariant"], *p["variants"]])
    assert all(not isinstance(c, Exception) and c.last_name == "Renamed" for c in seen["update_many"])
    assert seen["missing"] is None and seen["no_order"] is None
    assert seen["types"] == ["omnisync-inventory", "omnisync-order"]
    assert seen["conflict"] == ["ConcurrentModification"]
    assert seen["duplicate_channel"] == ["DuplicateField"]
    assert seen["invalid_input"] == ["InvalidInput"]
    assert seen["after_expiry"] >= 4
    assert seen["forbidden"] == ["insufficient_scope"]


def test_every_exchange_matches_the_vendor_document(traffic):
    _, verdicts, _ = traffic
    for verdict in verdicts:  # K1: a 429 is outside the document, its body is still an ErrorResponse
        if verdict.exchange.status == 429:
            body = verdict.exchange.json()
            assert body["statusCode"] == 429 and body["message"] and body["errors"][0]["code"] == "TooManyRequests"
            assert "retry-after" in verdict.exchange.response_headers
    kept = kept_differences()
    found = grouped(list(unexplained(verdicts, kept)))
    assert not found, "differences from the vendor document not in the kept table:\n" + "\n".join(found)


def test_the_scenario_covers_every_operation_and_status_the_connector_uses(traffic, record_property):
    _, verdicts, exchanges = traffic
    pairs = coverage(verdicts)
    missing = sorted(REQUIRED - set(pairs))
    assert not missing, f"not exercised: {missing}"
    bodies = sum(1 for v in verdicts if v.exchange.request_body)
    tokens = sum(1 for ex in exchanges if ex.path == TOKEN_PATH)
    record_property("responses_validated", len(verdicts))
    record_property("request_bodies_validated", bodies)
    print(f"\ncommercetools vendor document: {len(verdicts)} responses and {bodies} request bodies validated, "
          f"{len(pairs)} (operation, status) pairs; {tokens} token requests (auth host, not in the document)")


def _emulator_routes() -> list[tuple[str, str]]:
    """(method, concrete path) of every route the emulator serves, its placeholders filled in: each
    resource kind for `{resource}`, and an id, a `key=` and (orders) an `order-number=` for `{ident}`."""
    routes = Api(Store(0, "c", []), Auth("p", "c", "s", [])).build().routes
    found = []
    for route in routes:
        for method in sorted(route.methods - {"HEAD"}):
            paths = [route.path.replace("{project}", "p")]
            if "{resource}" in route.path:
                paths = [p.replace("{resource}", kind) for p in paths for kind in KINDS]
            idents = ["0f6e3b4c-0000-4000-8000-000000000001", "key=k"]
            if "{ident" in route.path:
                paths = [re.sub(r"\{ident(:path)?\}", ident, p) for p in paths for ident in idents
                         + (["order-number=n"] if "/orders/" in p else [])]
            found += [(method, path) for path in paths]
    return found


def test_every_emulator_route_is_in_the_vendor_document_or_listed_with_its_vendor_page(check):
    listed = {row["route"].strip("`") for row in markdown_table("Routes outside the vendor document")}
    outside = set()
    for method, path in _emulator_routes():
        if check.operation(Exchange(method, path, "", {}, b"")) is None:
            outside.add(f"{method} {path.replace('/p/', '/{projectKey}/')}")
    assert outside == listed, (f"routes outside the vendor document and not in the docs table: {sorted(outside - listed)}; "
                               f"listed but no longer outside (or no longer served): {sorted(listed - outside)}")


def test_no_answer_carries_a_field_the_document_does_not_declare(traffic, document):
    """Made-up fields pass schema validation (objects are open), and a connector could come to rely
    on them; so each one is listed here."""
    _, verdicts, _ = traffic
    kept = kept_differences()
    found = {key: n for key, n in made_up_fields(document[1], verdicts).items()
             if not any(k.covers_parts(key[0], key[1], f"UndeclaredField: {key[2]}") for k in kept)}
    assert not found, "fields the vendor document does not declare (and the kept table does not explain):\n" + "\n".join(
        f"[{n}x] {op} -> {status}: UndeclaredField: {path}" for (op, status, path), n in sorted(found.items()))


def test_the_check_refuses_an_answer_the_document_does_not_allow(check, document):
    """The validation can fail: an inventory entry without its required `availableQuantity`, with a
    null `key` and a made-up member, as an emulator might answer."""
    entry = {"id": "e1", "version": 1, "createdAt": "2026-01-01T00:00:00.000Z", "lastModifiedAt": "2026-01-01T00:00:00.000Z",
             "sku": "TEE-S", "quantityOnStock": 1, "key": None, "stockBand": "low"}
    exchange = Exchange("GET", "/p/inventory/e1", "", {"authorization": "Bearer t"}, b"", 200,
                        {"content-type": "application/json"}, json.dumps(entry).encode())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Unsupported scheme type")
        verdict = check.verdict(exchange)
    assert verdict.operation == "GET /{projectKey}/inventory/{ID}"
    assert "'availableQuantity' is a required property" in " ".join(verdict.errors)
    assert "None for not nullable" in " ".join(verdict.errors)
    assert made_up_fields(document[1], [verdict]) == {("GET /{projectKey}/inventory/{ID}", 200, "stockBand"): 1}


def test_every_discriminated_value_matches_its_subtype(traffic, document):
    """Error objects by `code`, messages by `type`, update actions by `action`: each against the
    schema its tag maps to, in the requests the connector sent and the answers it got."""
    _, verdicts, _ = traffic
    kept = kept_differences()
    found = {key: n for key, n in subtype_problems(document[1], verdicts).items()
             if not any(k.covers_parts(*key) for k in kept)}
    assert not found, "subtypes the vendor document does not allow (and the kept table does not explain):\n" + "\n".join(
        f"[{n}x] {op} -> {status}: {text}" for (op, status, text), n in sorted(found.items()))


def test_the_subtype_check_refuses_an_action_or_error_the_document_does_not_allow(document):
    """What openapi-core lets through behind a discriminator is caught: an `addQuantity` without its
    quantity, an action the document does not know, a DuplicateField error without its field."""
    update = Exchange("POST", "/p/inventory/e1", "", {"content-type": "application/json"},
                      json.dumps({"version": 1, "actions": [{"action": "addQuantity"}, {"action": "addStock"}]}).encode(),
                      400, {"content-type": "application/json"}, json.dumps({
                          "statusCode": 400, "message": "m", "errors": [{"code": "DuplicateField", "message": "m"}]}).encode())
    problems = subtype_problems(document[1], [Verdict(update, "POST /{projectKey}/inventory/{ID}", [])])
    assert sorted(text for _, _, text in problems) == [
        "SubtypeError: errors/* [DuplicateField]: 'duplicateValue' is a required property",
        "SubtypeError: errors/* [DuplicateField]: 'field' is a required property",
        "SubtypeError: request actions/* [addQuantity]: 'quantity' is a required property",
        "SubtypeError: request actions/*: action 'addStock' is not a type the document maps",
    ]
