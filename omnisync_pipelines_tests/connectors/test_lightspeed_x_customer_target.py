"""The X-Series customer target reads as much as it creates, against the emulator (in process).

Contract (issue 6): an update is one `PUT` and reads nothing; `find` (asked before a create) searches
by `customer_code` (our own earlier create, also one whose answer was lost), then by email, so a
shopper already known at the till under a differently cased email is linked, not created twice;
past `SEARCHES_BEFORE_FULL_READ` finds in one push (a first sync), the customers are listed once.
"""

import pytest

from omnisync_pipelines.canonical.models import Customer
from omnisync_pipelines.connectors.lightspeed_x import customer_target
from omnisync_pipelines.connectors.lightspeed_x.client import build_client
from omnisync_pipelines.connectors.lightspeed_x.customer_target import LightspeedXCustomers
from omnisync_pipelines.connectors.lightspeed_x.settings import LightspeedXSettings
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport

pytestmark = pytest.mark.anyio
BASE = "https://omnisync-sandbox.retail.lightspeed.app"


# fixtures ------------------------------------------------------------------------------------
@pytest.fixture
async def till():
    emu = LightspeedXEmulator(seed=5)
    emu.seed_register(emu.seed_outlet("Berlin")["id"], "R1")
    calls: list[dict] = []
    settings = LightspeedXSettings(domain_prefix="omnisync-sandbox", base_url=BASE, page_size=3,
                                   personal_token=emu.credentials(BASE)["personal_token"])
    client = build_client(settings, transport=EmulatorTransport(emu.app), call_log=calls.append)
    for n in range(8):
        await client.create_customer({"first_name": f"Regular{n}", "email": f"regular{n}@example.com",
                                      "customer_code": f"LOY-{n}"})
    calls.clear()
    yield {"emu": emu, "client": client, "calls": calls}
    await client.aclose()


def web_shopper(ct_id: str, email: str) -> Customer:
    return Customer("commercetools", ct_id, email, first_name="Wen", last_name="Online")


def requests(till) -> list[str]:
    return [f"{c['method']} {c['path'].split('?')[0]}" for c in till["calls"]]


# tests ---------------------------------------------------------------------------------------
async def test_an_update_naming_the_customer_is_one_put_and_reads_nothing(till):
    target = LightspeedXCustomers(till["client"])
    anna = next(c for c in till["emu"].store.rows["customers"].values() if c["customer_code"] == "LOY-3")
    updated = await target.update(anna["id"], {"first_name": "Anna", "last_name": anna.get("last_name")})
    assert updated.first_name == "Anna"
    assert requests(till) == [f"PUT /api/2.0/customers/{anna['id']}"]


async def test_an_update_sends_both_names_the_document_requires_reading_them_once_when_unknown(till):
    """CustomerBase (the PUT body) requires first_name and last_name: a change of the phone alone reads
    the customer first, unless this target already found or wrote it."""
    target = LightspeedXCustomers(till["client"])
    anna = next(c for c in till["emu"].store.rows["customers"].values() if c["customer_code"] == "LOY-3")
    await target.update(anna["id"], {"phone": "+49 30 555"})
    put = [c for c in till["calls"] if c["method"] == "PUT"]
    assert requests(till) == [f"GET /api/2.0/customers/{anna['id']}", f"PUT /api/2.0/customers/{anna['id']}"]
    till["calls"].clear()
    await target.update(anna["id"], {"phone": "+49 30 556"})
    assert requests(till) == [f"PUT /api/2.0/customers/{anna['id']}"]  # known from the first answer
    assert all(name in str(put[0]["request_body"]) for name in ("first_name", "last_name"))


async def test_a_create_whose_answer_was_lost_is_found_by_its_code(till):
    await LightspeedXCustomers(till["client"]).create(web_shopper("ct-42", "wen@example.com"))
    till["calls"].clear()
    found = await LightspeedXCustomers(till["client"]).find(web_shopper("ct-42", "wen@example.com"))
    assert found is not None and found.external_id == "ct-42"
    assert requests(till) == ["GET /api/2.0/search"]  # by code: found, no email search, no listing


async def test_a_shopper_known_at_the_till_is_found_by_email_whatever_its_case(till):
    await till["client"].create_customer({"first_name": "Tilly", "email": "Tilly.Store@Example.com",
                                          "customer_code": "LOY-7777"})
    till["calls"].clear()
    found = await LightspeedXCustomers(till["client"]).find(web_shopper("ct-7", "tilly.store@example.com"))
    assert found is not None and (found.external_id, found.email) == ("LOY-7777", "tilly.store@example.com")
    assert requests(till) == ["GET /api/2.0/search", "GET /api/2.0/search"]  # by code (none), then by email
    assert await LightspeedXCustomers(till["client"]).find(web_shopper("ct-8", "nobody@example.com")) is None


async def test_many_finds_in_one_push_list_the_customers_once(till, monkeypatch):
    monkeypatch.setattr(customer_target, "SEARCHES_BEFORE_FULL_READ", 2)
    target = LightspeedXCustomers(till["client"])
    for n in range(6):
        assert (await target.find(web_shopper(f"ct-{n}", f"regular{n}@example.com"))).email == f"regular{n}@example.com"
    created = await target.create(web_shopper("ct-new", "new@example.com"))
    assert (await target.find(web_shopper("ct-new", "other@example.com"))).customer_id == created.customer_id
    listing = [r for r in requests(till) if r == "GET /api/2.0/customers"]
    assert requests(till).count("GET /api/2.0/search") == 4 and len(listing) == 4  # 9 customers, pages of 3
