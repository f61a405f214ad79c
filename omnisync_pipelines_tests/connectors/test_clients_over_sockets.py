"""Both connectors against their emulators over real sockets (uvicorn), not only in-process:
token flows, paging and writes behave the same when bodies arrive as streams."""

import pytest

from omnisync_pipelines.connectors.commercetools.client import build_client as build_ct
from omnisync_pipelines.connectors.commercetools.settings import CommercetoolsSettings
from omnisync_pipelines.connectors.lightspeed_x.client import build_client as build_lsx
from omnisync_pipelines.connectors.lightspeed_x.settings import LightspeedXSettings
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
from omnisync_pipelines.sandbox.serve import SandboxServer

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def sandbox():
    ct, lsx = CommercetoolsEmulator(seed=5), LightspeedXEmulator(seed=5)
    outlet = lsx.seed_outlet("Berlin")
    lsx.seed_register(outlet["id"], "R1")
    server = SandboxServer().start({"commercetools": ct, "lightspeed_x": lsx})
    yield server, ct, lsx, outlet
    server.stop()


async def test_commercetools_token_and_writes_over_a_socket(sandbox):
    server, ct, _, _ = sandbox
    base = server.base_url("commercetools")
    creds = ct.credentials(base)
    client = build_ct(CommercetoolsSettings(api_url=base, auth_url=base, project_key=creds["project_key"],
                                            client_id=creds["client_id"], client_secret=creds["client_secret"]))
    try:
        channel = await client.create("channels", {"key": "store-berlin", "roles": ["InventorySupply"]})
        result = await client.apply_stock_delta("TEE-S", channel["id"], 4, "k1")
        assert (result.status, result.quantity_on_stock) == ("applied", 4)
        ct.expire_tokens()  # the next call is refused once, refreshes and goes through
        assert (await client.find_inventory_entry("TEE-S", channel["id"]))["quantityOnStock"] == 4
    finally:
        await client.aclose()


async def test_lightspeed_x_paging_over_a_socket(sandbox):
    server, _, lsx, outlet = sandbox
    base = server.base_url("lightspeed_x")
    client = build_lsx(LightspeedXSettings(domain_prefix="omnisync-sandbox", base_url=base,
                                           personal_token=lsx.credentials(base)["personal_token"], page_size=2))
    try:
        for i in range(5):
            await client.create_product({"name": f"Mug {i}"}, [{"sku": f"MUG-{i}", "price_excluding_tax": 5.0,
                                                               "inventory": [{"outlet_id": outlet["id"], "current_amount": i}]}])
        products, _ = await client.all("products")
        inventory, last = await client.all("inventory")
        assert sorted(p["sku"] for p in products) == [f"MUG-{i}" for i in range(5)]
        assert sorted(r["inventory_level"] for r in inventory) == [0, 1, 2, 3, 4]
        assert (await client.all("inventory", after=last))[0] == []
    finally:
        await client.aclose()
