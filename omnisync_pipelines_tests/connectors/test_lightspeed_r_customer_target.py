"""The R-Series customer target, against the emulator (in process).

Contract: a web shopper created at the till carries its commercetools id in the "External ID" custom
field and its loyalty number in "Loyalty ID", so a create whose answer was lost is found again, not
made twice; a shopper the till already knows under a differently cased email is linked; an update is
one PUT that reads nothing and leaves what it does not name alone.
"""

import pytest

from omnisync_pipelines.canonical.models import Customer
from omnisync_pipelines.connectors.lightspeed_r.client import build_client
from omnisync_pipelines.connectors.lightspeed_r.customer_target import LightspeedRCustomers, custom_value
from omnisync_pipelines.connectors.lightspeed_r.settings import LightspeedRSettings
from omnisync_pipelines.sandbox.emulators.lightspeed_r import LightspeedREmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport

pytestmark = pytest.mark.anyio
BASE = "https://api.lightspeedapp.com"


@pytest.fixture
async def till():
    emu = LightspeedREmulator(seed=4)
    calls: list[dict] = []
    settings = LightspeedRSettings(account_id=str(emu.account_id), base_url=BASE, client_id="sandbox-client",
                                   client_secret="sandbox-secret", refresh_token=emu.issue_tokens()["refresh_token"])
    client = build_client(settings, transport=EmulatorTransport(emu.app), call_log=calls.append)
    yield {"emu": emu, "client": client, "calls": calls}
    await client.aclose()


def requests(till) -> list[str]:
    paths = [c["path"].split("?")[0].split("/Account/")[-1].split("/", 1)[-1].removesuffix(".json") for c in till["calls"]]
    return [f"{c['method']} {path}" for c, path in zip(till["calls"], paths, strict=True)]


def web_shopper(ct_id: str, email: str, **fields) -> Customer:
    return Customer("commercetools", ct_id, email, first_name="Wen", last_name="Online", **fields)


async def test_a_web_shopper_lands_with_its_ids_and_is_found_again_after_a_lost_answer(till):
    target = LightspeedRCustomers(till["client"])
    created = await target.create(web_shopper("ct-7", "wen@example.com", phone="+49 30 1234", loyalty_id="LOY-77"))

    assert (created.email, created.phone, created.external_id, created.loyalty_id) == (
        "wen@example.com", "+49 30 1234", "ct-7", "LOY-77")
    row = till["emu"].store.tables["Customer"][int(created.customer_id)]
    assert (row["firstName"], row["lastName"]) == ("Wen", "Online")

    again = await LightspeedRCustomers(till["client"]).find(web_shopper("ct-7", "wen@example.com"))
    assert again is not None and again.customer_id == created.customer_id


async def test_a_shopper_known_at_the_till_under_another_casing_is_linked_with_one_search(till):
    anna = till["emu"].seed_customer("Anna", "Berg", "Anna.Berg@Example.com")
    target = LightspeedRCustomers(till["client"])

    found = await target.find(web_shopper("ct-1", "anna.berg@example.com"))

    assert found is not None and found.customer_id == str(anna["customerID"])
    assert requests(till) == ["GET Customer"]


async def test_a_stranger_is_not_found(till):
    till["emu"].seed_customer("Anna", "Berg", "anna@example.com")
    assert await LightspeedRCustomers(till["client"]).find(web_shopper("ct-2", "bob@example.com")) is None


async def test_a_new_phone_number_is_one_put_that_keeps_the_email(till):
    target = LightspeedRCustomers(till["client"])
    wen = await target.create(web_shopper("ct-9", "wen@example.com"))
    till["calls"].clear()

    updated = await target.update(wen.customer_id, {"phone": "+44 20 7946 0000"})

    assert requests(till) == [f"PUT Customer/{wen.customer_id}"]
    assert (updated.phone, updated.email, updated.external_id) == ("+44 20 7946 0000", "wen@example.com", "ct-9")


async def test_a_loyalty_number_from_the_web_lands_in_the_loyalty_field(till):
    target = LightspeedRCustomers(till["client"])
    wen = await target.create(web_shopper("ct-5", "wen@example.com"))

    updated = await target.update(wen.customer_id, {"loyalty_id": "LOY-5"})

    assert updated.loyalty_id == "LOY-5"
    raw = await till["client"].one("Customer", wen.customer_id, relations=["CustomFieldValues"])
    assert custom_value(raw, "Loyalty ID") == "LOY-5" and custom_value(raw, "External ID") == "ct-5"


async def test_an_update_of_a_customer_the_till_no_longer_has_answers_none(till):
    assert await LightspeedRCustomers(till["client"]).update("9999", {"first_name": "Ghost"}) is None
