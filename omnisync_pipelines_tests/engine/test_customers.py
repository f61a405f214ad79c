"""The customers flow, both ways: match, plan, push, against the commercetools emulator in-process.

Contract: a POS customer and a commercetools customer are matched by normalised email, then
external id, then the crosswalk; each field is written only in its owner's direction (loyalty id and
consent POS -> commercetools, email and names commercetools -> POS), private fields never; a new POS
customer is created in commercetools with key `pos-<system>-<id>` and externalId; an invalid email
is rejected with field and reason; ambiguous customers are reported as likely duplicates and never
merged; a second run writes nothing.

The POS side is `RecordingPosCustomers`, an in-memory stand-in used ONLY as the recipient of the
commercetools -> POS writes (the X-Series target comes with its connector).
"""

from dataclasses import replace

import pytest

from omnisync_pipelines.canonical.models import Customer
from omnisync_pipelines.connectors.commercetools.client import build_client
from omnisync_pipelines.connectors.commercetools.connector import CommercetoolsConnector
from omnisync_pipelines.connectors.commercetools.customer_target import CommercetoolsCustomers
from omnisync_pipelines.connectors.commercetools.settings import CommercetoolsSettings
from omnisync_pipelines.engine.customer_push import push_customers
from omnisync_pipelines.engine.customers import (
    TO_COMMERCETOOLS,
    TO_POS,
    CustomerSyncOptions,
    customers_flow,
    plan_customers,
)
from omnisync_pipelines.rest.retry import RetryPolicy
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport
from omnisync_pipelines.store.crosswalk import Crosswalk

pytestmark = pytest.mark.anyio
POS = "lightspeed_x"
BASE = "http://ct.test"
TO_CT_FLOW = customers_flow(POS, "commercetools")
TO_POS_FLOW = customers_flow("commercetools", POS)


# fixtures ------------------------------------------------------------------------------------
class RecordingPosCustomers:
    """In-memory POS customers that record every write; a test recipient, not a connector."""

    system = POS

    def __init__(self, customers=()):
        self.customers = {c.customer_id: c for c in customers}
        self.writes: list[tuple] = []

    async def find(self, source):
        return next((c for c in self.customers.values() if c.external_id == source.customer_id), None) or next(
            (c for c in self.customers.values() if source.email and c.email == source.email), None
        )

    async def create(self, source):
        new = replace(source, system=POS, customer_id=f"pos-{len(self.customers) + 1}", external_id=source.customer_id)
        self.customers[new.customer_id] = new
        self.writes.append(("create", new.customer_id, source.customer_id))
        return new

    async def update(self, customer_id, values):
        if customer_id not in self.customers:
            return None
        self.customers[customer_id] = replace(self.customers[customer_id], **values)
        self.writes.append(("update", customer_id, dict(values)))
        return self.customers[customer_id]


@pytest.fixture
def emulator():
    return CommercetoolsEmulator(seed=5)


@pytest.fixture
async def client(emulator):
    creds = emulator.credentials(BASE)
    settings = CommercetoolsSettings(
        api_url=BASE, auth_url=BASE, project_key=creds["project_key"], client_id=creds["client_id"],
        client_secret=creds["client_secret"],
    )
    client = build_client(settings, transport=EmulatorTransport(emulator.app), retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    yield client
    await client.aclose()


def pos_customer(customer_id, email, first=None, last=None, **extra) -> Customer:
    return Customer(POS, customer_id, email, first, last, **extra)


async def ct_customers(client) -> list[Customer]:
    result = await CommercetoolsConnector(client, {}).read("customers")
    assert result.rejected == []
    return result.tables["customers"]


async def sync(client, ops, pos_side: RecordingPosCustomers, options=CustomerSyncOptions()):
    """One run: read commercetools, plan, push both directions. Returns (plan, stats to ct, stats to POS)."""
    crosswalk = Crosswalk(ops)
    plan = plan_customers(
        list(pos_side.customers.values()), await ct_customers(client), pos_system=POS,
        links=crosswalk.mapping("customer"), options=options,
    )
    to_ct = await push_customers(plan.for_flow(TO_CT_FLOW), CommercetoolsCustomers(client), ops, source_system=POS, links=plan.links)
    to_pos = await push_customers(plan.for_flow(TO_POS_FLOW), pos_side, ops, source_system="commercetools")
    return plan, to_ct, to_pos


# tests ---------------------------------------------------------------------------------------
async def test_pos_loyalty_updates_the_matched_ct_customer_custom_field_but_not_its_name(client, ops):
    created = await client.create_customer({"email": "anna@example.com", "firstName": "Anna", "lastName": "Berg"})
    pos = RecordingPosCustomers([pos_customer("p1", "anna@example.com", "Annie", "Berg", loyalty_id="L-1", consent_marketing=True)])

    plan, to_ct, _ = await sync(client, ops, pos)

    [row] = plan.for_flow(TO_CT_FLOW).itertuples()
    assert (row.action, row.changes, row.target_id) == ("update", ["loyalty_id", "consent_marketing"], created["id"])
    assert row.idempotency_key.startswith(f"{TO_CT_FLOW}|{POS}|p1|")
    raw = await client.get_by_id("customers", created["id"])
    assert raw["custom"]["fields"] == {"loyaltyId": "L-1", "consentMarketing": True}
    assert raw["firstName"] == "Anna"  # commercetools owns the name: the POS's "Annie" did not flow
    assert to_ct.applied == 1
    ledger = ops.table_frame("ledger").set_index("idempotency_key").loc[row.idempotency_key]
    assert ledger.status == "applied" and '"before": {"consent_marketing": null, "loyalty_id": null}' in ledger.payload
    canonical = Crosswalk(ops).canonical_for("customer", POS, "p1")
    assert canonical and Crosswalk(ops).lookup("customer", canonical, "commercetools") == created["id"]


async def test_a_commercetools_owned_change_is_planned_toward_the_pos_only(client, ops):
    created = await client.create_customer({"email": "bo@example.com", "firstName": "Bo", "lastName": "Lind",
                                            "externalId": "p7"})
    pos = RecordingPosCustomers([pos_customer("p7", "bo@example.com", "Bo", "Lindqvist", loyalty_id="L-7")])
    options = CustomerSyncOptions(private_fields=frozenset({"phone"}))
    await sync(client, ops, pos, options)  # loyalty id to commercetools, the surname to the POS
    assert pos.customers["p7"].last_name == "Lind"

    await client.update_customer(created["id"], {"lastName": "Lindgren"})
    pos.customers["p7"] = replace(pos.customers["p7"], phone="+46 8 123 456")  # private: never flows
    plan, to_ct, to_pos = await sync(client, ops, pos, options)

    assert plan.for_flow(TO_CT_FLOW).empty
    [row] = plan.for_flow(TO_POS_FLOW).itertuples()
    assert (row.action, row.changes, row.target_id, row.source_id) == ("update", ["last_name"], "p7", created["id"])
    assert pos.writes[-1] == ("update", "p7", {"last_name": "Lindgren"})
    assert pos.customers["p7"].loyalty_id == "L-7"  # POS-owned: commercetools never writes it back
    assert (to_ct.applied, to_pos.applied) == (0, 1)


async def test_a_new_pos_customer_is_created_in_commercetools_with_key_and_external_id(client, ops):
    pos = RecordingPosCustomers([pos_customer("c-42", " Cara@Example.COM", "Cara", "Holm", loyalty_id="L-42",
                                              phone="+45 1234")])

    plan, to_ct, _ = await sync(client, ops, pos)

    assert (to_ct.created, to_ct.applied) == (1, 1)
    raw = await client.get_customer_by_key("pos-lightspeed_x-c-42")
    assert raw is not None
    assert (raw["email"], raw["externalId"], raw["firstName"], raw["lastName"]) == ("cara@example.com", "c-42", "Cara", "Holm")
    assert raw["custom"]["fields"] == {"loyaltyId": "L-42"}  # phone is private by default
    assert Crosswalk(ops).canonical_for("customer", "commercetools", raw["id"]) == Crosswalk(ops).canonical_for("customer", POS, "c-42")


async def test_an_invalid_email_is_rejected_with_field_and_reason(client, ops):
    pos = RecordingPosCustomers([pos_customer("p1", "anna.example.com", "Anna"), pos_customer("p2", "b@example", "B"),
                                 pos_customer("p3", None, "Nomail")])

    plan, to_ct, _ = await sync(client, ops, pos)

    reasons = {(r.record_ref, r.field, r.reason) for r in plan.rejections}
    assert reasons == {
        ("p1", "email", "email has no '@'"),
        ("p2", "email", "email domain 'example' is not a domain name"),
        ("p3", "email", "no email: commercetools needs one to create the customer"),
    }
    assert all("anna.example.com" not in r.payload for r in plan.rejections)  # redacted
    assert plan.writes.empty and to_ct.api_writes == 0
    assert await ct_customers(client) == []


async def test_two_pos_customers_with_one_email_are_reported_not_merged(client, ops):
    existing = await client.create_customer({"email": "dup@example.com", "firstName": "Dana"})
    pos = RecordingPosCustomers([pos_customer("p1", "dup@example.com", "Dana", loyalty_id="L-1"),
                                 pos_customer("p2", "DUP@example.com ", "Dan", loyalty_id="L-2")])

    plan, to_ct, _ = await sync(client, ops, pos)

    pairs = {(d.left_id, d.right_id, d.rule) for d in plan.duplicates.itertuples()}
    assert ("p1", "p2", "same_email") in pairs
    assert list(plan.duplicates.columns) == ["left_system", "left_id", "right_system", "right_id", "rule", "score"]
    assert plan.writes.empty and plan.links.empty and to_ct.api_writes == 0
    raw = await client.get_by_id("customers", existing["id"])
    assert not raw.get("custom")  # neither loyalty id was written to the shared account


async def test_same_name_and_phone_under_different_emails_is_a_likely_duplicate(client, ops):
    await client.create_customer({"email": "eva.old@example.com", "firstName": "Eva", "lastName": "Ek",
                                  "addresses": [{"country": "SE", "phone": "+46 70 111 2233"}]})
    pos = RecordingPosCustomers([pos_customer("p9", "eva.new@example.com", "Eva", "Ek", phone="070-111 22 33")])

    plan, to_ct, _ = await sync(client, ops, pos)

    [dup] = plan.duplicates.itertuples()
    assert (dup.left_id, dup.right_system, dup.rule, dup.score) == ("p9", "commercetools", "same_name_phone", 0.8)
    assert to_ct.created == 0  # held for an operator, not created as a second account


async def test_email_variants_match_the_same_customer(client, ops):
    created = await client.create_customer({"email": "fia@example.com", "firstName": "Fia"})
    pos = RecordingPosCustomers([pos_customer("p1", "  FIA@Example.Com ", "Fia", loyalty_id="L-5")])

    plan, to_ct, _ = await sync(client, ops, pos)

    assert plan.duplicates.empty and to_ct.created == 0 and to_ct.updated == 1
    assert plan.links.set_index("system").loc["commercetools", "system_id"] == created["id"]
    assert len(await ct_customers(client)) == 1


async def test_crosswalk_link_matches_when_email_and_external_id_differ(client, ops):
    created = await client.create_customer({"email": "gus@work.example", "firstName": "Gus"})
    Crosswalk(ops).link("customer", "cust-gus", "commercetools", created["id"])
    Crosswalk(ops).link("customer", "cust-gus", POS, "p3")
    pos = RecordingPosCustomers([pos_customer("p3", "gus@home.example", "Gus", loyalty_id="L-3")])

    plan, to_ct, to_pos = await sync(client, ops, pos)

    assert (to_ct.created, to_ct.updated) == (0, 1)
    assert pos.customers["p3"].email == "gus@work.example"  # commercetools owns the email


async def test_create_toward_the_pos_when_allowed(client, ops):
    created = await client.create_customer({"email": "hal@example.com", "firstName": "Hal", "lastName": "Ny"})
    pos = RecordingPosCustomers()
    options = CustomerSyncOptions(create_missing={TO_COMMERCETOOLS: True, TO_POS: True})

    _, _, to_pos = await sync(client, ops, pos, options)
    [new] = pos.customers.values()
    assert (new.email, new.first_name, new.external_id, to_pos.created) == ("hal@example.com", "Hal", created["id"], 1)

    _, _, to_pos = await sync(client, ops, pos, CustomerSyncOptions())  # default: no creates toward the POS
    assert to_pos.processed == 0


async def test_run_twice_writes_nothing_the_second_time(client, ops):
    await client.create_customer({"email": "ida@example.com", "firstName": "Ida", "lastName": "Sund"})
    await client.create_customer({"email": "jon@example.com", "firstName": "Jon"})
    pos = RecordingPosCustomers([
        pos_customer("p1", "ida@example.com", "Ida", "Sundberg", loyalty_id="L-1", consent_marketing=False),
        pos_customer("p2", "new@example.com", "New", "Person", loyalty_id="L-2"),
    ])
    options = CustomerSyncOptions(create_missing={TO_COMMERCETOOLS: True, TO_POS: True})

    plan, to_ct, to_pos = await sync(client, ops, pos, options)
    assert (to_ct.updated, to_ct.created, to_pos.updated, to_pos.created) == (1, 1, 1, 1)
    writes_after_first = list(pos.writes)

    plan, to_ct, to_pos = await sync(client, ops, pos, options)
    assert plan.writes.empty, plan.writes[["flow", "source_id", "changes"]]
    assert (to_ct.api_writes, to_pos.api_writes) == (0, 0)
    assert pos.writes == writes_after_first
    assert len(await ct_customers(client)) == 3
    assert len(Crosswalk(ops).frame("customer")) == 6


@pytest.mark.parametrize("link_on", ["commercetools", "pos"])
async def test_external_id_matches_when_emails_differ(client, ops, link_on):
    draft = {"email": "kim@shop.example", "firstName": "Kim"} | ({"externalId": "p8"} if link_on == "commercetools" else {})
    created = await client.create_customer(draft)
    external = created["id"] if link_on == "pos" else None
    pos = RecordingPosCustomers([pos_customer("p8", "kim@till.example", "Kim", external_id=external, loyalty_id="L-8")])

    plan, to_ct, _ = await sync(client, ops, pos)

    assert (to_ct.created, to_ct.updated, plan.duplicates.empty) == (0, 1, True)
    assert pos.customers["p8"].email == "kim@shop.example"


async def test_a_create_whose_answer_was_lost_is_linked_not_repeated(client, ops):
    pos = RecordingPosCustomers([pos_customer("p5", "lea@example.com", "Lea", loyalty_id="L-5")])
    plan = plan_customers(list(pos.customers.values()), [], pos_system=POS)
    await CommercetoolsCustomers(client).create(pos.customers["p5"])  # the first attempt landed; its answer did not

    stats = await push_customers(plan.for_flow(TO_CT_FLOW), CommercetoolsCustomers(client), ops, source_system=POS)

    assert (stats.created, stats.linked, stats.applied) == (0, 1, 1)
    assert len(await ct_customers(client)) == 1
    assert Crosswalk(ops).canonical_for("customer", "commercetools", (await ct_customers(client))[0].customer_id)
