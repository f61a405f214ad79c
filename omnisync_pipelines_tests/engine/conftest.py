"""Shared by the engine tests: an operational store of their own, and a commercetools client talking
to an emulator in-process over HTTP (the same client production builds, another transport)."""

import pytest

from omnisync_pipelines.connectors.commercetools.client import CommercetoolsClient, build_client
from omnisync_pipelines.connectors.commercetools.settings import CommercetoolsSettings
from omnisync_pipelines.rest.retry import RetryPolicy
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport
from omnisync_pipelines.store.ops import OpsStore

BASE = "http://ct.test"


@pytest.fixture
def ops(tmp_path):
    return OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.sqlite'}")


async def emulated_commercetools(emulator: CommercetoolsEmulator, supply_channels: tuple[str, ...] = ()) -> CommercetoolsClient:
    """A client of `emulator` whose project has these InventorySupply channels; the caller closes it."""
    creds = emulator.credentials(BASE)
    settings = CommercetoolsSettings(api_url=BASE, auth_url=BASE, project_key=creds["project_key"],
                                     client_id=creds["client_id"], client_secret=creds["client_secret"])
    client = build_client(settings, transport=EmulatorTransport(emulator.app),
                          retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    for key in supply_channels:
        await client.create("channels", {"key": key, "roles": ["InventorySupply"]})
    return client
