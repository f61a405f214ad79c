"""A bounded property-based run of our commercetools emulator from commercetools' own OpenAPI document.

schemathesis (pinned 4.32.5) generates requests from the document's parameter schemas for the GET
operations of every resource the emulator serves (the project, collections, by id, by key, orders by number),
against the seeded sandbox world over loopback. Each answer must conform to the document: no 5xx, a
status the operation declares, the declared content type, and a body valid for that status' schema
(the 400s for generated predicates and the 404s for generated ids included). Deterministic
(`derandomize`), a few examples per operation.

schemathesis was picked over hand-written hypothesis strategies because it derives the strategies
from the document itself (array-valued `where`/`sort`/`expand`, numeric `limit`/`offset`, booleans),
so a parameter the document adds is exercised without a change here.
"""

from __future__ import annotations

import json
import re
import warnings

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from omnisync_pipelines.demo import start_sandbox
from omnisync_pipelines_tests.conformance.ct_vendor import SPEC, kept_differences, patch_vendor_defects
from omnisync_pipelines_tests.conformance.vendor_documents import (
    response_schema,
    subtype_errors,
    undeclared_fields,
    vendor_json,
)

SEED = 12
EXAMPLES = 12  # per operation
RESOURCES = ("channels", "stores", "types", "product-types", "products", "product-projections", "inventory", "orders",
             "payments", "customers", "customer-groups", "tax-categories", "zones", "shipping-methods", "messages")
OPERATIONS = re.compile(r"^/\{projectKey\}(/(" + "|".join(map(re.escape, RESOURCES)) +
                        r")(/\{ID\}|/key=\{key\}|/order-number=\{orderNumber\})?)?$")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def served():
    server, _ = start_sandbox(SEED, systems=["commercetools"])
    try:
        base = server.base_url("commercetools")
        emulator = server.served[0].emulator
        token = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(emulator.auth.client_id, emulator.auth.client_secret)).json()["access_token"]
        yield base, emulator.project_key, token
    finally:
        server.stop()


@pytest.fixture(scope="module")
def document() -> dict:
    return patch_vendor_defects(json.loads(json.dumps(vendor_json(*SPEC))))


@pytest.fixture(scope="module")
def operations(document):
    schema = schemathesis.openapi.from_dict(document)
    return [result.ok() for result in schema.include(method="GET", path_regex=OPERATIONS.pattern).get_all_operations()]


def test_the_run_covers_every_served_resource(operations):
    labels = {op.label for op in operations}
    assert {f"GET /{{projectKey}}/{r}" for r in RESOURCES} <= labels
    assert {"GET /{projectKey}", "GET /{projectKey}/orders/order-number={orderNumber}"} <= labels
    assert len(labels) >= 40


def test_generated_reads_get_answers_the_document_allows(served, operations, document, record_property):
    """...carry no member the document does not declare, and each error object and message is valid
    for its subtype (unless docs/commercetools.md keeps the difference)."""
    base, project_key, token = served
    kept = kept_differences()
    answered: dict[int, int] = {}
    failures: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for operation in operations:
            @given(case=operation.as_strategy())
            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            def run(case):
                case.path_parameters = {**(case.path_parameters or {}), "projectKey": project_key}
                response = case.call(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)
                answered[response.status_code] = answered.get(response.status_code, 0) + 1
                try:
                    case.validate_response(response, checks=CHECKS)
                except AssertionError as exc:  # schemathesis' failure group: keep one line per operation
                    failures.append(f"{case.operation.label} {case.formatted_path} {case.query}: {str(exc)[:600]}")
                schema = response_schema(document, case.operation.label, response.status_code)
                if schema is None or not response.content:
                    return
                body = response.json()
                problems = [f"UndeclaredField: {p}" for p in undeclared_fields(document, schema, body)]
                problems += [f"SubtypeError: {p}" for p in subtype_errors(document, schema, body)]
                for problem in problems:
                    problem = re.sub(r"/\d+(?=/|\s|:|$)", "/*", problem)
                    if not any(k.covers_parts(case.operation.label, response.status_code, problem) for k in kept):
                        failures.append(f"{case.operation.label} -> {response.status_code}: {problem}")

            run()
    total = sum(answered.values())
    record_property("property_based_requests", total)
    print(f"\nschemathesis: {total} generated requests over {len(operations)} operations, by status {sorted(answered.items())}")
    assert not failures, f"{len(failures)} answers outside the vendor document:\n" + "\n".join(dict.fromkeys(failures))
    assert answered.get(200, 0) >= len(RESOURCES), "the run should read real records, not only errors"
