"""A two-store X-Series shop on the emulator, for the catalog-target tests: Berlin and Munich at 19 %
VAT, tills in Berlin, omnisync's client on it (every call logged) and a throwaway ops store; and the
catalog items and store prices those tests plan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from omnisync_pipelines.connectors.lightspeed_x.client import build_client
from omnisync_pipelines.connectors.lightspeed_x.connector import LightspeedXConnector
from omnisync_pipelines.connectors.lightspeed_x.settings import LightspeedXSettings
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport
from omnisync_pipelines.store.ops import OpsStore

BASE = "https://omnisync-sandbox.retail.lightspeed.app"


@asynccontextmanager
async def two_store_shop(tmp_path, *, seed: int, tills: int = 1, **settings) -> AsyncIterator[dict]:
    """{emu, client, calls, ops, tax, outlets (location key -> outlet id), reader (the connector)};
    `tills` raises the request budget (300 × tills + 50 per 5 minutes); `settings` go to the client."""
    emu = LightspeedXEmulator(seed=seed)
    tax = emu.seed_tax("VAT", 0.19)
    berlin = emu.seed_outlet("Berlin", default_tax_id=tax["id"])
    munich = emu.seed_outlet("Munich", default_tax_id=tax["id"])
    for till in range(tills):
        emu.seed_register(berlin["id"], f"R{till + 1}")
    calls: list[dict] = []
    client = build_client(
        LightspeedXSettings(domain_prefix="omnisync-sandbox", base_url=BASE, registers=tills,
                            personal_token=emu.credentials(BASE)["personal_token"], **settings),
        transport=EmulatorTransport(emu.app), call_log=calls.append,
    )
    ops = OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    outlets = {"berlin": berlin["id"], "munich": munich["id"]}
    try:
        yield {"emu": emu, "client": client, "calls": calls, "ops": ops, "tax": tax, "outlets": outlets,
               "reader": LightspeedXConnector(client, {v: k for k, v in outlets.items()})}
    finally:
        await client.aclose()
        ops.engine.dispose()


def item(sku: str, name: str = "Tee", barcode: str | None = None) -> dict:
    return {"sku": sku, "product_key": sku.rsplit("-", 1)[0].lower(), "name": name, "barcode": barcode,
            "attributes": {"size": sku.rsplit("-", 1)[1]}, "tax_category": None, "active": True}


def prices(berlin: int, munich: int | None = None) -> dict:
    return {"berlin": {"currency": "EUR", "amount": berlin},
            "munich": {"currency": "EUR", "amount": berlin if munich is None else munich}}
