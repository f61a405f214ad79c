"""Every registered POS honours the contract (connectors/pos.py, sandbox/pos.py), checked the same way
for each: its configuration blocks, its secrets only through `EnvVar`, its connector built from the
configuration file and reading every entity from its emulator (served over a socket, a small world
loaded by its sandbox plugin) into canonical records that pass their schemas, and its webhooks.
A new POS gets this suite by registering."""

import asyncio

import dagster as dg
import httpx
import pytest
from pydantic import BaseModel

from omnisync_pipelines import systems
from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.connectors.base import Connector
from omnisync_pipelines.connectors.pos import Capabilities, PosPlugin
from omnisync_pipelines.connectors.registry import open_connector
from omnisync_pipelines.defs.specs import ENTITY_TABLES
from omnisync_pipelines.sandbox.scenario import build_world
from omnisync_pipelines.sandbox.serve import SandboxServer
from omnisync_pipelines_tests.conformance.served_pos import pos_only_settings

EMULATED = [pos for pos in systems.pos_ids() if systems.sandbox_plugin(pos) is not None]


@pytest.mark.parametrize("pos", systems.pos_ids())
def test_the_plugin_declares_what_the_house_reads(pos):
    plugin = systems.pos_plugin(pos)
    assert isinstance(plugin, PosPlugin) and plugin.system == pos and plugin.title
    assert isinstance(plugin.capabilities, Capabilities)
    assert issubclass(plugin.settings_model, BaseModel) and issubclass(plugin.location_model, BaseModel)
    assert plugin.location_id_field in plugin.location_model.model_fields
    assert plugin.webhooks is None or callable(plugin.webhooks.parse)


@pytest.mark.parametrize("pos", systems.pos_ids())
def test_secrets_reach_dagster_only_as_environment_variables(pos):
    resource = systems.pos_plugin(pos).credentials_resource({})
    assert isinstance(resource, dg.ConfigurableResource) and callable(resource.secrets)
    wired = [value for value in resource.__dict__.values() if isinstance(value, dg.EnvVar)]
    assert wired, f"{pos}: no field of the credentials resource comes from an EnvVar"
    with pytest.raises(KeyError):  # the CLI paths name the missing variable
        systems.pos_plugin(pos).secrets_from_env({})


@pytest.fixture(scope="module", params=EMULATED)
def served(request):
    """The POS's emulator over a socket with two stores of a small world loaded, and a configuration
    file's worth of settings for it."""
    pos, sandbox = request.param, systems.sandbox_plugin(request.param)
    emulator = sandbox.emulator(seed=21)
    server = SandboxServer().start({pos: emulator})
    world = build_world(21, stores=2, products=3, customers=6)

    async def load():
        async with httpx.AsyncClient(base_url=server.base_url(pos), timeout=30) as client:
            return await sandbox.load(world, list(world.stores), client, emulator)

    try:
        loaded = server.run(load(), timeout=60)
        base_url = server.base_url(pos)
        config, secrets = pos_only_settings(pos, base_url, emulator, world, loaded)
        yield pos, config, secrets, world
    finally:
        server.stop()


def test_the_connector_reads_every_entity_into_records_that_pass_their_schemas(served):
    pos, config, secrets, world = served

    async def read_all():
        async with open_connector(pos, config, secrets) as connector:
            assert isinstance(connector, Connector) and connector.system == pos
            verify = getattr(connector, "verify_locations", None)
            if verify is not None:
                await verify()
            return {entity: await connector.read(entity) for entity in ENTITY_TABLES}

    reads = asyncio.run(read_all())
    for entity, read in reads.items():
        for table in ENTITY_TABLES[entity]:
            schemas.validate(table, schemas.frame_from_records(table, read.tables.get(table, [])))
    stock = reads["stock"].tables["stock"]
    assert {(s.sku, s.location_key) for s in stock} >= {(v.sku, store.key) for v in world.variants for store in world.stores}
    assert {r.location_key for r in reads["locations"].tables["locations"] if r.location_key} == {s.key for s in world.stores}
    assert {c.sku for c in reads["catalog"].tables["catalog"]} >= {v.sku for v in world.variants}
    assert all(r.system == pos for table in reads["stock"].tables.values() for r in table)


def test_a_delta_read_from_the_cursor_of_a_full_read_brings_nothing_new(served):
    pos, config, secrets, _ = served

    async def twice():
        async with open_connector(pos, config, secrets) as connector:
            full = await connector.read("stock")
            return full, await connector.read("stock", since=full.cursor)

    full, delta = asyncio.run(twice())
    assert full.cursor is not None
    assert len(delta.tables.get("stock", [])) < len(full.tables["stock"])
