"""Property-based: every GET operation of Lightspeed's API 2.0 document that the X-Series emulator
serves, called with parameters schemathesis draws from the document (filters, cursors, page sizes,
ids, search types), answers without a server error, with a status the document allows and a body
its schema accepts (the vendor's known defects patched, as in test_lightspeed_x_vendor_document).

Bounded and deterministic: a fixed number of examples per operation, derandomized (the same cases
every run), no example database; the emulator is served over loopback with a small seeded world.
schemathesis because it builds the cases from the document itself (parameter schemas, enums,
formats) and checks the answers with the same document.
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from omnisync_pipelines_tests.conformance import lightspeed_x_traffic as lt

EXAMPLES = 12  # per operation
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def served():
    document = lt.patched_document()
    world = lt.serve_world(seed=31)
    try:
        yield document, world
    finally:
        world.server.stop()


def served_get_operations(document: dict) -> list[str]:
    """Document paths of the GET operations the emulator serves."""
    routes = {path for method, path in lt.emulator_routes() if method == "GET"}
    out = []
    for path, item in document["paths"].items():
        emulator_path = "/api/2.0" + lt.ROUTE_PARAM.sub("{id}", path)
        if "get" in item and emulator_path in {lt.ROUTE_PARAM.sub("{id}", r) for r in routes}:
            out.append(path)
    return sorted(out)


def test_every_served_get_operation_answers_as_the_document_says_for_any_parameters_it_allows(served):
    document, world = served
    operations = served_get_operations(document)
    assert len(operations) >= 20, operations  # the emulator serves most 2.0 reads: the run must reach them
    schema = schemathesis.openapi.from_dict(document)
    token = world.emulator.credentials(world.base_url)["personal_token"]
    base_url = world.base_url + "/api/2.0"
    started, calls, failures = time.monotonic(), 0, []

    for path in operations:
        operation = schema[path]["GET"]

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def answers_as_documented(case):
            nonlocal calls
            calls += 1
            response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {token}"})
            case.validate_response(response, checks=CHECKS)

        try:
            answers_as_documented()
        except (Exception, BaseExceptionGroup) as exc:  # every operation is run; all failures are reported at once
            failures.append(f"GET {path}: {str(exc)[:1500]}")

    elapsed = time.monotonic() - started
    print(f"\nX-Series property run: {len(operations)} GET operations, {calls} generated calls, {elapsed:.1f} s")
    assert not failures, "\n\n".join(failures)
    assert calls >= len(operations) * 3
