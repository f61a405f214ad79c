"""`omnisync webhooks register --url BASE [--types ...]` against the X-Series emulator served over sockets.

Contract: one subscription per type at `<BASE>/webhooks/lightspeed_x/<type>?token=<our secret>`
(`OMNISYNC_WEBHOOK_SECRET_LIGHTSPEED_X`), made through the connector with the deployment's
credentials; a second run creates nothing; the secret is never printed; the emulator's deliveries
to those URLs pass the real receiver's secret check. Without the secret, or with an unknown type,
nothing is registered.
"""

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from omnisync_pipelines.cli import app
from omnisync_pipelines.connectors.lightspeed_x.client import build_client
from omnisync_pipelines.connectors.lightspeed_x.settings import LightspeedXSettings
from omnisync_pipelines.connectors.lightspeed_x.subscriptions import register_webhooks
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
from omnisync_pipelines.sandbox.serve import SandboxServer
from omnisync_pipelines.sandbox.transport import EmulatorTransport
from omnisync_pipelines.store.inbox import Inbox
from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines.webhooks import create_webhook_app

SECRET = "hook secret/+&="  # characters that must be escaped in a query string
RECEIVER = "http://receiver"


@pytest.fixture
def served(tmp_path):
    emu = LightspeedXEmulator(seed=9)
    outlet = emu.seed_outlet("Berlin")
    emu.seed_register(outlet["id"], "R1")
    emu.seed_payment_type("Cash", "1")
    server = SandboxServer().start({"lightspeed_x": emu})
    config = tmp_path / "omnisync.yaml"
    config.write_text(yaml.safe_dump({
        "pos": "lightspeed_x",
        "systems": {"commercetools": {"api_url": "https://api.example", "auth_url": "https://auth.example",
                                      "project_key": "shop"},
                    "lightspeed_x": {"base_url": server.base_url("lightspeed_x"), "domain_prefix": "omnisync-sandbox"}},
        "locations": [{"key": "berlin", "commercetools": {"supply_channel_key": "store-berlin"},
                       "lightspeed_x": {"outlet_id": outlet["id"]}}],
    }))
    env = {"OMNISYNC_CONFIG": str(config), "OMNISYNC_LSX_TOKEN": emu.personal_token,
           "OMNISYNC_WEBHOOK_SECRET_LIGHTSPEED_X": SECRET}
    try:
        yield emu, env
    finally:
        server.stop()


def register(env: dict, *args: str):
    return CliRunner().invoke(app, ["webhooks", "register", "--url", RECEIVER, *args], env=env)


def subscriptions(emu) -> list[tuple[str, str]]:
    return sorted((w["type"], w["url"]) for w in emu.store.rows["webhooks"].values())


def test_registering_twice_subscribes_each_type_once_with_our_secret_in_the_url(served):
    emu, env = served

    first = register(env)

    assert first.exit_code == 0, first.output
    secret_in_url = "hook%20secret%2F%2B%26%3D"
    assert subscriptions(emu) == [
        (kind, f"{RECEIVER}/webhooks/lightspeed_x/{kind}?token={secret_in_url}")
        for kind in ("customer.update", "inventory.update", "product.update", "sale.update")]
    assert first.output.count(": created") == 4 and SECRET not in first.output and secret_in_url not in first.output

    again = register(env, "--types", "sale.update,product.update", "--types", "consignment.receive")

    assert again.exit_code == 0, again.output
    assert again.output.count("already registered") == 2 and again.output.count(": created") == 1
    assert len(subscriptions(emu)) == 5 and ("consignment.receive" in dict(subscriptions(emu)))


@pytest.mark.parametrize(("change", "args", "message"), [
    ({"OMNISYNC_WEBHOOK_SECRET_LIGHTSPEED_X": ""}, (), "OMNISYNC_WEBHOOK_SECRET_LIGHTSPEED_X is not set"),
    ({"OMNISYNC_LSX_TOKEN": ""}, (), "OMNISYNC_LSX_TOKEN is not set"),
    ({}, ("--types", "sale.create"), "unknown webhook type sale.create"),
])
def test_nothing_is_registered_without_the_secrets_or_with_an_unknown_type(served, change, args, message):
    emu, env = served
    refused = register({**env, **change}, *args)
    assert refused.exit_code == 2 and message in refused.output
    assert subscriptions(emu) == []


@pytest.mark.anyio
async def test_deliveries_to_the_registered_urls_pass_the_receivers_secret_check(tmp_path):
    emu = LightspeedXEmulator(seed=4)
    emu.webhook_type_field = False  # the type must come from the registered URL
    emu.seed_outlet("Berlin")
    inbox = Inbox(OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.sqlite'}"))
    client = build_client(LightspeedXSettings(domain_prefix="omnisync-sandbox", base_url="https://x.example",
                                              personal_token=emu.personal_token), transport=EmulatorTransport(emu.app))
    receiver = httpx.AsyncClient(transport=httpx.ASGITransport(create_webhook_app(inbox, {"lightspeed_x": SECRET})),
                                 base_url=RECEIVER)
    try:
        done = await register_webhooks(client, RECEIVER, SECRET, ["customer.update"])
        assert [(r.type, r.created) for r in done] == [("customer.update", True)]
        await client.create_customer({"first_name": "Ann", "email": "ann@example.com", "customer_code": "ANN-1"})
        assert await emu.deliver_webhooks(receiver) == 1 and emu.pending_webhooks == []
        assert [row["event_type"] for row in inbox.pending()] == ["customer.update"]
    finally:
        await receiver.aclose()
        await client.aclose()
