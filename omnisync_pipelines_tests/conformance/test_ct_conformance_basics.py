"""Conformance: OAuth, channels and stores, error mapping, through the connector's client.

Contract, on both emulators: the client fetches one token and reuses it; channels filter by role;
stores resolve by key; a 404 reads as None (or NotFound); a validation 400 is a `BadRequest` carrying
commercetools' error codes, which a push turns into a rejected record with the reason.
Ours only: a wrong client secret is 401 `invalid_client`; the client-credentials token comes
without a refresh token.
"""

import dataclasses

import pytest

from omnisync_pipelines.rest.errors import BadRequest, NotFound, Unauthorized
from omnisync_pipelines_tests.conformance import setup
from omnisync_pipelines_tests.conformance.conftest import client_for

pytestmark = [pytest.mark.anyio, pytest.mark.conformance]


async def test_oauth_token_is_fetched_once_and_reused(ct, calls):
    await ct.channels()
    await ct.stores()
    auth = ct.session.auth
    assert auth.tokens_fetched == 1
    assert auth.token_is_fresh
    assert all(c["status"] == 200 for c in calls)


@pytest.mark.ours_only(reason="commercetools-mock 4.4.0 issues a token for any client id and secret")
async def test_wrong_client_secret_is_401_invalid_client(ct_server):
    client = client_for(dataclasses.replace(ct_server, client_secret="not-the-secret"))
    try:
        with pytest.raises(Unauthorized) as caught:
            await client.channels()
        assert caught.value.status == 401 and caught.value.body["error"] == "invalid_client"
    finally:
        await client.aclose()


@pytest.mark.ours_only(reason="commercetools-mock 4.4.0 adds a refresh_token to the client-credentials token")
async def test_client_credentials_token_has_no_refresh_token(ct):
    auth = ct.session.auth
    token = (await ct.session.http.send(auth.token_request())).json()
    assert token["token_type"] == "Bearer" and token["access_token"] and token["expires_in"] > 0
    assert "refresh_token" not in token  # the client-credentials flow has nothing to refresh with


async def test_channels_by_role_and_stores_by_key(ct, uid):
    supply = await setup.channel(ct, f"{uid}-supply", ["InventorySupply"])
    dist = await setup.channel(ct, f"{uid}-dist", ["ProductDistribution"])
    await setup.store(ct, f"{uid}-store", supply, dist)

    supply_keys = {c["key"] for c in await ct.channels("InventorySupply")}
    assert f"{uid}-supply" in supply_keys and f"{uid}-dist" not in supply_keys
    ids = await ct.channel_ids_by_key()
    assert ids[f"{uid}-supply"] == supply["id"] and ids[f"{uid}-dist"] == dist["id"]

    found = await ct.get_store(f"{uid}-store")
    assert found["supplyChannels"][0]["id"] == supply["id"]
    assert found["distributionChannels"][0]["id"] == dist["id"]
    assert f"{uid}-store" in {s["key"] for s in await ct.stores()}
    assert await ct.get_store(f"{uid}-missing") is None


async def test_not_found_is_typed(ct, uid):
    assert await ct.get_by_id("inventory", "00000000-0000-0000-0000-000000000000") is None
    with pytest.raises(NotFound) as caught:
        await ct.call("GET", ct.url("channels", f"key={uid}-nothing"))
    assert caught.value.status == 404
    assert caught.value.body["statusCode"] == 404
    assert caught.value.codes == ["ResourceNotFound"]


async def test_validation_error_is_a_typed_bad_request(ct, uid):
    with pytest.raises(BadRequest) as caught:
        await ct.create("channels", {"key": f"{uid}-bad", "roles": ["NoSuchRole"]})
    error = caught.value
    assert error.status == 400
    assert error.body["statusCode"] == 400 and error.body["message"]
    assert error.codes and error.codes[0] in ("InvalidJsonInput", "InvalidInput")


@pytest.mark.ours_only(reason="commercetools-mock 4.4.0 accepts duplicate keys (it checks only customer email and order number)")
async def test_duplicate_key_is_duplicate_field(ct, uid):
    await setup.channel(ct, f"{uid}-dup")
    with pytest.raises(BadRequest) as caught:
        await setup.channel(ct, f"{uid}-dup")
    assert "DuplicateField" in caught.value.codes
