"""The X-Series emulator answers the connector as Lightspeed's own API 2.0 document says the API does.

One sandbox for the module: the emulator served over loopback with a small seeded world loaded and
every exchange recorded, then the connector at work (every entity read full and delta, every write
flow, the refusals it handles). Each response, error bodies included, and each request body is
validated with openapi-core against the vendor's `api-2.0-openapi.json` (from ../shared/vendor_api,
never copied here), its known defects patched and named in `lightspeed_x_traffic.patch_vendor_defects`.
openapi-core because it matches each exchange to the document's own server, path template, method
and status and validates parameters and bodies with the document's JSON Schemas (OpenAPI 3.0
`nullable` included), which plain jsonschema does not know.

Routes the 2.0 document does not hold (2.1 product writes, 0.9 register_sales, 1.0 token, webhooks)
must be listed in docs/lightspeed_x.md with the vendor page that defines them, and what the
connector sends them may only use fields the vendor shows (Postman collection, product fields of the
document). The only differences tolerated are the rows of the doc's table of differences kept on
purpose.
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qsl

import pytest
from openapi_core import OpenAPI

from omnisync_pipelines_tests.conformance import lightspeed_x_traffic as lt
from omnisync_pipelines_tests.conformance.vendor_documents import (
    VendorCheck,
    coverage,
    key_paths,
    vendor_json,
)

# (operation as the document names it, status): what the connector meets, at the least
EXPECTED = {
    ("GET /outlets", 200), ("GET /outlets", 401), ("GET /outlets", 429), ("GET /registers", 200), ("GET /registers", 401),
    ("GET /taxes", 200), ("GET /payment_types", 200), ("GET /users", 200),
    ("GET /products", 200), ("GET /products/{product_id}", 200), ("GET /products/{product_id}", 404),
    ("GET /products/{product_id}/inventory", 200), ("GET /products/{product_id}/price_book_products", 200),
    ("GET /inventory", 200), ("GET /customers", 200), ("POST /customers", 201), ("POST /customers", 409),
    ("PUT /customers/{customer_id}", 200), ("GET /search", 200), ("GET /sales", 200), ("GET /sales/{sale_id}", 200),
    ("PUT /sales/{sale_id}/actions/return", 200), ("PUT /sales/{sale_id}/actions/return", 404),
    ("POST /sales/{sale_id}/fulfill", 200), ("POST /sales/{sale_id}/fulfill", 400),
    ("GET /sales/{sale_id}/fulfillments", 200), ("GET /price_books", 200), ("POST /price_books", 200),
    ("POST /price_books", 422), ("GET /price_book_products", 200), ("GET /price_books/{price_book_id}/products", 200),
    ("POST /price_books/{price_book_id}/products", 200), ("GET /customer_groups", 200),
    ("GET /consignments", 200), ("POST /consignments", 201), ("PUT /consignments/{consignment_id}", 200),
    ("PUT /consignments/{consignment_id}", 422), ("GET /consignments/{consignment_id}/products", 200),
    ("POST /consignments/{consignment_id}/products", 200),
    ("PUT /consignments/{consignment_id}/products/{product_id}", 200),
}
# routes outside the document the connector uses, with the statuses it meets there
EXPECTED_OUTSIDE = {
    ("POST", "/api/2.1/products", 200), ("PUT", "/api/2.1/products/{id}", 200), ("PUT", "/api/2.1/products/{id}", 404),
    ("POST", "/api/2.1/products/{id}/variants", 201), ("POST", "/api/register_sales", 200),
    ("GET", "/api/2.0/webhooks", 200), ("POST", "/api/2.0/webhooks", 201), ("POST", "/api/2.0/webhooks", 409),
    ("POST", "/api/2.0/webhooks", 422), ("PUT", "/api/2.0/webhooks/{id}", 200), ("GET", "/api/2.0/webhooks/{id}", 200),
    ("DELETE", "/api/2.0/webhooks/{id}", 200), ("POST", "/api/1.0/token", 200),
}


@pytest.fixture(scope="module")
def document() -> dict:
    return lt.patched_document()  # skips (fails under CI) naming the file when ../shared is absent


@pytest.fixture(scope="module")
def traffic(document):
    started = time.monotonic()
    served = lt.serve_world()
    try:
        yield lt.played(served)
    finally:
        served.server.stop()
        print(f"\nX-Series vendor document: sandbox and traffic {time.monotonic() - started:.1f} s, "
              f"{len(served.exchanges)} exchanges")


@pytest.fixture(scope="module")
def verdicts(document, traffic):
    return VendorCheck(OpenAPI.from_dict(document), lt.HOST).verdicts(traffic.exchanges)


@pytest.fixture(scope="module")
def kept():
    return lt.kept_differences()


def test_every_response_and_request_body_is_as_the_vendor_documents_it(verdicts, kept, record_property):
    checked = [v for v in verdicts if v.operation]
    bodies = [v for v in checked if v.exchange.request_body]
    differing = [v for v in checked if v.errors and not any(k.tolerates(v) for k in kept)]
    record_property("lightspeed_x_responses_validated", len(checked))
    record_property("lightspeed_x_request_bodies_validated", len(bodies))
    print(f"\nX-Series: {len(checked)} responses and {len(bodies)} request bodies validated against API 2.0 "
          f"({len(coverage(checked))} operation/status pairs)")
    assert not differing, "differences from the vendor document:\n" + "\n".join(str(v)[:600] for v in differing)


def test_the_traffic_reaches_every_operation_and_status_the_connector_handles(verdicts):
    covered = set(coverage(verdicts))
    assert EXPECTED - covered == set(), f"not exercised: {sorted(EXPECTED - covered)}"
    outside = {(*lt.route_template(v.exchange.method, v.exchange.path), v.exchange.status) for v in verdicts
               if v.operation is None}
    assert EXPECTED_OUTSIDE - outside == set(), f"not exercised: {sorted(EXPECTED_OUTSIDE - outside)}"


def test_every_kept_difference_is_still_a_difference(verdicts, kept, traffic):
    """A row of the doc's table that tolerates nothing any more is stale: fixed, so it goes."""
    shown = lt.shown_request_keys()
    unused = [k for k in kept if k.status != "request" and not any(v.errors and k.tolerates(v) for v in verdicts)]
    unused += [k for k in kept if k.status == "request" and k.match not in _sent_keys_outside(traffic, shown)]
    assert not unused, f"rows of '{lt.KEPT_HEADING}' no longer needed: {unused}"


def _sent_keys_outside(traffic, shown) -> set[str]:
    """Body keys sent to routes outside the document that the vendor does not show for that route."""
    out = set()
    for ex in traffic.exchanges:
        key = lt.route_template(ex.method, ex.path)
        if key in shown and ex.request_body:
            body = (dict(parse_qsl(ex.request_body.decode())) if ex.request_type != "application/json"
                    else json.loads(ex.request_body))
            out |= {k for k in key_paths(body) if k not in shown[key]}
    return out


def test_what_the_connector_sends_outside_the_document_uses_only_fields_the_vendor_shows(traffic, kept):
    shown = lt.shown_request_keys()
    tolerated = {(k.operation, k.match) for k in kept if k.status == "request"}
    unknown = []
    checked = 0
    for ex in traffic.exchanges:
        key = lt.route_template(ex.method, ex.path)
        if key not in shown or not ex.request_body:
            continue
        checked += 1
        body = (dict(parse_qsl(ex.request_body.decode())) if ex.request_type != "application/json"
                else json.loads(ex.request_body))
        unknown += [f"{key[0]} {key[1]}: {k}" for k in sorted(key_paths(body) - shown[key])
                    if (f"{key[0]} {key[1]}", k) not in tolerated]
    print(f"\nX-Series: {checked} request bodies to routes outside API 2.0 checked against the vendor's Postman "
          "collection and product fields")
    assert checked >= 10
    assert not sorted(set(unknown)), "fields the vendor shows nowhere for the route:\n" + "\n".join(sorted(set(unknown)))


def test_every_emulator_route_is_in_the_vendor_document_or_listed_with_the_page_defining_it(document):
    finder = VendorCheck(OpenAPI.from_dict(document), lt.HOST)
    listed = lt.listed_routes()
    missing, stale = [], []
    routes = {(m, lt.ROUTE_PARAM.sub("{id}", p)) for m, p in lt.emulator_routes()}
    for method, path in sorted(routes):
        concrete = lt.ROUTE_PARAM.sub("0f8fad5b-d9cb-469f-a165-70867728950e", path)
        probe = type("Probe", (), {"method": method, "path": concrete})
        if finder.operation(probe) is None and (method, path) not in listed:
            missing.append(f"{method} {path}")
    stale = [f"{m} {p}" for (m, p) in listed if (m, p) not in routes]
    assert not missing, f"emulator routes neither in API 2.0 nor in the doc's '{lt.ROUTES_HEADING}' table: {missing}"
    assert not stale, f"rows of '{lt.ROUTES_HEADING}' naming no emulator route: {stale}"
    assert all(page.strip() for page in listed.values()), "every listed route names the vendor page defining it"


def test_the_vendor_documents_are_the_ones_the_readme_names():
    """The checks above are only as good as the documents: their titles say which they are."""
    assert vendor_json(*lt.DOCUMENT)["info"]["title"] == "API 2.0"
    assert any(r["path"] == "/api/2.1/products" for r in lt.postman_requests(vendor_json(*lt.POSTMAN)))
