"""commercetools emulator: token flow, scopes, query parameters, predicates, faults."""

from __future__ import annotations

import httpx
import pytest

from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.emulators.commercetools.predicates import PredicateError, compile_predicate
from omnisync_pipelines.sandbox.transport import EmulatorTransport

BASE = "http://ct.test"
P = "/omnisync-sandbox"


def http(emu: CommercetoolsEmulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=EmulatorTransport(emu.app), base_url=BASE)


async def token(client: httpx.AsyncClient, scope: str | None = None, secret: str = "sandbox-secret") -> httpx.Response:
    data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    return await client.post("/oauth/token", data=data, auth=("sandbox-client", secret))


async def authed(emu: CommercetoolsEmulator, scope: str | None = None) -> httpx.AsyncClient:
    async with http(emu) as auth_client:
        access = (await token(auth_client, scope)).json()["access_token"]
    client = http(emu)
    client.headers["Authorization"] = f"Bearer {access}"
    return client


@pytest.mark.anyio
async def test_token_flow_and_bad_credentials():
    emu = CommercetoolsEmulator()
    async with http(emu) as client:
        good = await token(client)
        assert good.status_code == 200
        body = good.json()
        assert body["expires_in"] == 172800
        assert body["token_type"] == "Bearer"
        assert body["scope"] == "manage_project:omnisync-sandbox"
        bad = await token(client, secret="wrong")
        assert bad.status_code == 401
        assert bad.json()["error"] == "invalid_client"
        assert bad.json()["message"] == "Please provide valid client credentials using HTTP Basic Authentication."
        assert bad.json()["errors"][0]["code"] == "invalid_client"


@pytest.mark.anyio
async def test_missing_bad_and_expired_tokens_are_401_and_refresh_works():
    emu = CommercetoolsEmulator()
    async with http(emu) as client:
        assert (await client.get(f"{P}/channels")).status_code == 401
        bad = await client.get(f"{P}/channels", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        assert bad.json()["errors"][0]["code"] == "invalid_token"
        assert bad.json()["error"] == "invalid_token"
        access = (await token(client)).json()["access_token"]
        headers = {"Authorization": f"Bearer {access}"}
        assert (await client.get(f"{P}/channels", headers=headers)).status_code == 200
        emu.expire_tokens()
        assert (await client.get(f"{P}/channels", headers=headers)).status_code == 401
        fresh = (await token(client)).json()["access_token"]
        assert (await client.get(f"{P}/channels", headers={"Authorization": f"Bearer {fresh}"})).status_code == 200


@pytest.mark.anyio
async def test_scopes_view_cannot_write_and_other_resources_forbidden():
    emu = CommercetoolsEmulator()
    async with await authed(emu, "view_products:omnisync-sandbox") as client:
        assert (await client.get(f"{P}/inventory")).status_code == 200
        denied = await client.post(f"{P}/inventory", json={"sku": "A", "quantityOnStock": 1})
        assert denied.status_code == 403
        assert denied.json()["errors"][0]["code"] == "insufficient_scope"
        assert (await client.get(f"{P}/orders")).status_code == 403
        assert (await client.get("/other-project/inventory")).status_code == 403


async def _seed_channels(client: httpx.AsyncClient, n: int) -> list[dict]:
    created = []
    for i in range(n):
        response = await client.post(f"{P}/channels", json={"key": f"ch-{i:02d}", "roles": ["InventorySupply"]})
        assert response.status_code == 201, response.text
        created.append(response.json())
    return created


@pytest.mark.anyio
async def test_offset_paging_and_limits():
    emu = CommercetoolsEmulator()
    async with await authed(emu) as client:
        await _seed_channels(client, 7)
        keys = []
        for offset in (0, 3, 6):
            page = (await client.get(f"{P}/channels", params={"limit": 3, "offset": offset, "sort": "key desc"})).json()
            assert page["limit"] == 3 and page["offset"] == offset and page["total"] == 7
            keys += [r["key"] for r in page["results"]]
        assert keys == [f"ch-{i:02d}" for i in range(6, -1, -1)]
        default = (await client.get(f"{P}/channels")).json()
        assert default["limit"] == 20 and default["count"] == 7
        too_big = await client.get(f"{P}/channels", params={"limit": 501})
        assert too_big.status_code == 400 and too_big.json()["errors"][0]["code"] == "InvalidInput"
        assert (await client.get(f"{P}/channels", params={"offset": 10001})).status_code == 400
        no_total = (await client.get(f"{P}/channels", params={"withTotal": "false"})).json()
        assert "total" not in no_total


@pytest.mark.anyio
async def test_id_cursor_deep_paging_visits_every_row_once_in_id_order():
    emu = CommercetoolsEmulator(seed=3)
    async with await authed(emu) as client:
        created = await _seed_channels(client, 11)
        seen, last = [], None
        while True:
            params = [("sort", "id asc"), ("limit", "4"), ("withTotal", "false")]
            if last:
                params.append(("where", f'id > "{last}"'))
            page = (await client.get(f"{P}/channels", params=params)).json()
            seen += [r["id"] for r in page["results"]]
            if page["count"] < 4:
                break
            last = page["results"][-1]["id"]
        assert seen == sorted(c["id"] for c in created)


@pytest.mark.anyio
@pytest.mark.parametrize("sort", ["nonsense!!", "key sideways", "key asc extra", "name.en asc asc", ".key asc"])
async def test_invalid_sort_expression_is_400_invalid_input(sort):
    emu = CommercetoolsEmulator()
    async with await authed(emu) as client:
        await _seed_channels(client, 2)
        refused = await client.get(f"{P}/channels", params={"sort": sort})
        assert refused.status_code == 400, sort
        assert refused.json()["errors"][0]["code"] == "InvalidInput"
        assert "sort" in refused.json()["message"]


@pytest.mark.anyio
async def test_valid_sort_paths_sort():
    emu = CommercetoolsEmulator()
    async with await authed(emu) as client:
        await _seed_channels(client, 3)
        for sort in ("key desc", "name.en DESC", "custom.fields.store_no asc", "key"):
            page = await client.get(f"{P}/channels", params=[("sort", sort), ("sort", "id asc")])
            assert page.status_code == 200, sort
        keys = [c["key"] for c in (await client.get(f"{P}/channels", params={"sort": "key desc"})).json()["results"]]
        assert keys == ["ch-02", "ch-01", "ch-00"]


def test_ids_are_deterministic_per_seed():
    a, b = CommercetoolsEmulator(seed=5), CommercetoolsEmulator(seed=5)
    assert [a.store.new_id() for _ in range(3)] == [b.store.new_id() for _ in range(3)]
    assert CommercetoolsEmulator(seed=6).store.new_id() != CommercetoolsEmulator(seed=5).store.new_id()


ENTRY = {
    "id": "b1", "sku": "TEE-S", "quantityOnStock": 5, "restockableInDays": 2, "active": True,
    "supplyChannel": {"typeId": "channel", "id": "ch-ber"},
    "lastModifiedAt": "2024-05-02T10:00:00.000Z",
    "custom": {"fields": {"posSaleId": "S-1", "tags": ["a", "b"]}},
    "masterData": {"current": {"name": {"en": "Tee"}, "masterVariant": {"sku": "TEE-S"},
                               "variants": [{"sku": "TEE-M"}, {"sku": "TEE-L"}]}},
}


@pytest.mark.parametrize(
    ("predicate", "expected"),
    [
        ('sku = "TEE-S"', True),
        ('sku="TEE-M"', False),
        ('sku != "TEE-M"', True),
        ("quantityOnStock > 4", True),
        ("quantityOnStock >= 6", False),
        ("quantityOnStock < 6 and restockableInDays <= 2", True),
        ("active = true", True),
        ("active = false", False),
        ('sku in ("A", "TEE-S")', True),
        ('sku not in ("A", "TEE-S")', False),
        ("quantityOnStock in (4, 5)", True),
        ('quantityOnStock in ("5")', True),  # a text literal against a number compares as a number
        ('lastModifiedAt in ("2024-05-02T10:00:00Z")', True),  # times compare as instants, not text
        ('sku in ("tee-s")', False),
        ("key is defined", False),
        ("key is not defined", True),
        ('sku = "X" or quantityOnStock = 5', True),
        ('not (sku = "TEE-S")', False),
        ('(sku = "X" or sku = "TEE-S") and quantityOnStock = 5', True),
        ('supplyChannel(id="ch-ber")', True),
        ('supplyChannel(id="ch-ham")', False),
        ('sku = "TEE-S" and supplyChannel(id = "ch-ber")', True),
        ('custom(fields(posSaleId="S-1"))', True),
        ('custom(fields(tags contains "b"))', True),
        ('custom(fields(tags contains all ("a", "c")))', False),
        ('masterData(current(name(en="Tee")))', True),
        ('masterData(current(variants(sku="TEE-L")))', True),
        ('masterData(current(variants(sku="TEE-S")))', False),
        ('masterData(current(masterVariant(sku="TEE-S")))', True),
        ('lastModifiedAt > "2024-05-01T00:00:00.000Z"', True),
        ('lastModifiedAt > "2024-05-02T10:00:00Z"', False),
        ('lastModifiedAt >= "2024-05-02T10:00:00Z"', True),
        ('id > "a"', True),
        ('id > "c"', False),
        ("sku = :sku", True),
        ("sku in :skus", True),
    ],
)
def test_predicates(predicate: str, expected: bool):
    variables = {"sku": ["TEE-S"], "skus": ["X", "TEE-S"]}
    assert compile_predicate(predicate, variables)(ENTRY) is expected


@pytest.mark.parametrize("predicate", ["", 'sku = "x" and', 'sku == "x"', 'sku("x"', "sku = :missing", 'sku ~ "a"'])
def test_invalid_predicates_raise(predicate: str):
    with pytest.raises(PredicateError):
        compile_predicate(predicate, {})


@pytest.mark.anyio
async def test_where_over_http_is_anded_and_bad_where_is_400():
    emu = CommercetoolsEmulator()
    async with await authed(emu) as client:
        await _seed_channels(client, 5)
        params = [("where", 'key in ("ch-01", "ch-02", "ch-03")'), ("where", 'key != "ch-02"'), ("sort", "key asc")]
        page = (await client.get(f"{P}/channels", params=params)).json()
        assert [r["key"] for r in page["results"]] == ["ch-01", "ch-03"]
        assert page["total"] == 2
        with_var = await client.get(f"{P}/channels", params={"where": "key = :k", "var.k": "ch-04"})
        assert [r["key"] for r in with_var.json()["results"]] == ["ch-04"]
        bad = await client.get(f"{P}/channels", params={"where": 'key = "x" and'})
        assert bad.status_code == 400
        assert bad.json()["errors"][0]["code"] == "InvalidInput"
        assert bad.json()["message"].startswith("Malformed parameter: where:")


@pytest.mark.anyio
async def test_throttle_burst_then_normal_and_error_shape():
    emu = CommercetoolsEmulator()
    async with await authed(emu) as client:
        emu.faults.throttle_burst = 2
        emu.faults.retry_after_s = 3
        for _ in range(2):
            throttled = await client.get(f"{P}/channels")
            assert throttled.status_code == 503
            assert throttled.headers["retry-after"] == "3"
            assert throttled.json()["errors"][0]["code"] == "OverCapacity"
            assert throttled.json()["statusCode"] == 503
        assert (await client.get(f"{P}/channels")).status_code == 200
        emu.faults.error_rate = 1.0
        statuses = [(await client.get(f"{P}/channels")).status_code for _ in range(2)]
        assert statuses == [502, 500]
        emu.faults.clear()
        assert (await client.get(f"{P}/channels")).status_code == 200
        assert emu.faults.injected == {"throttle": 2, "error": 2}
