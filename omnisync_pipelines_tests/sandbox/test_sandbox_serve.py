"""The sandbox loads the seeded world into whichever systems it serves, and a world spread over
several POS trades at each store on that store's POS.

Contract (issue 17): `omnisync sandbox serve --system commercetools` serves a commercetools project
holding the world's catalog, channels and customers (not an empty one); a POS served alone holds its
side; the demo's stores are spread over the POS given, in turn; with several POS the configuration
names each location's POS (no top-level `pos`), and it validates; a till event reaches the POS of
its store, a transfer between stores on two POS is booked by both.
"""

import json
import subprocess
import sys
from datetime import timedelta

import httpx
import pytest
import yaml

from omnisync_pipelines import systems
from omnisync_pipelines.config import load_config
from omnisync_pipelines.demo import demo_environment, emulator_of, play_at_tills, start_sandbox, write_config
from omnisync_pipelines.sandbox.loader import assign_stores
from omnisync_pipelines.sandbox.scenario import build_world
from omnisync_pipelines.sandbox.world import Sale, SaleLine, Transfer

POS = systems.DEFAULT_POS
TWIN = "twin_pos"  # a stand-in second POS: the default POS's plugins under another id


def serve(*args: str) -> tuple[subprocess.Popen, dict]:
    """`omnisync sandbox serve ARGS --port 0` as a child; returns it and the JSON line of each emulator."""
    child = subprocess.Popen([sys.executable, "-m", "omnisync_pipelines.cli", "sandbox", "serve", *args, "--port", "0",
                              "--seed", "5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    described = {}
    for line in child.stdout:
        record = json.loads(line)
        described[record["system"]] = record
        if len(described) == len([a for a in args if a != "--system"]):
            break
    return child, described


def test_commercetools_served_alone_holds_the_seeded_catalog():
    child, described = serve("--system", systems.COMMERCETOOLS)
    try:
        assert set(described) == {systems.COMMERCETOOLS}
        record = described[systems.COMMERCETOOLS]
        credentials = record["credentials"]
        with httpx.Client(base_url=record["base_url"], timeout=30) as http:
            token = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                              auth=(credentials["client_id"], credentials["client_secret"])).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            project = credentials["project_key"]
            products = http.get(f"/{project}/products", headers=headers).json()
            channels = http.get(f"/{project}/channels", headers=headers).json()
        world = build_world(5)
        assert products["total"] == len({v.product_key for v in world.variants}) > 0
        assert {c["key"] for c in channels["results"]} == {s.channel_key for s in world.stores}
    finally:
        child.terminate()
        child.wait(timeout=15)
    assert child.returncode == 0


def test_an_unknown_system_is_one_short_error_naming_the_registered_ones():
    result = subprocess.run([sys.executable, "-m", "omnisync_pipelines.cli", "sandbox", "serve", "--system", "nope"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: unknown system 'nope'; registered: {', '.join((systems.COMMERCETOOLS, *systems.pos_ids()))}"]


def test_a_pos_served_alone_holds_its_side_of_the_world():
    world = build_world(5, stores=2, products=2, customers=3)
    server, loaded = start_sandbox(5, systems=[POS], world=world)
    try:
        probe = systems.sandbox_plugin(POS).probe(emulator_of(server, POS), loaded.pos[POS])
        assert loaded.channel_ids == {} and loaded.store_pos == {s.key: POS for s in world.stores}
        assert {(v.sku, s.key): probe.count(v.sku, s.key) for v in world.variants for s in world.stores} == world.stock
        assert all(set(location) == {"key", "country", "pos", POS} for location in loaded.location_map)
    finally:
        server.stop()


def test_stores_are_spread_over_the_pos_in_turn():
    world = build_world(5)
    assert assign_stores(world, ["a", "b"]) == {"berlin": "a", "munich": "b", "hamburg": "a", "london": "b"}
    assert assign_stores(world, ["a"]) == dict.fromkeys(["berlin", "munich", "hamburg", "london"], "a")
    assert assign_stores(world, []) == {}


# a world on two POS ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_pos(tmp_path_factory):
    sandbox = type(systems.sandbox_plugin(POS))()
    sandbox.system = TWIN
    systems.register_pos(TWIN, systems.pos_plugin(POS), sandbox)
    try:
        world = build_world(5, stores=3, products=2, customers=3)
        server, loaded = start_sandbox(5, pos=(POS, TWIN), world=world)
        try:
            path = tmp_path_factory.mktemp("two_pos") / "omnisync.yaml"
            write_config(path, server, loaded)
            yield server, loaded, path
        finally:
            server.stop()
    finally:
        systems.unregister_pos(TWIN)


def test_a_world_on_two_pos_writes_a_configuration_naming_each_locations_pos(two_pos):
    server, loaded, path = two_pos
    raw = yaml.safe_load(path.read_text())
    assert "pos" not in raw and set(raw["systems"]) == {systems.COMMERCETOOLS, POS, TWIN}
    assert [(loc["key"], loc["pos"]) for loc in raw["locations"]] == [("berlin", POS), ("munich", TWIN), ("hamburg", POS)]
    assert all(set(loc) == {"key", "country", "pos", "commercetools", loc["pos"]} for loc in raw["locations"])
    config = load_config(path)
    assert config.pos_systems == (POS, TWIN)
    assert [loc.key for loc in config.locations_of(TWIN)] == ["munich"]
    assert demo_environment(path.parent, server)["OMNISYNC_CONFIG"] == str(path)


def test_a_till_event_reaches_the_pos_of_its_store_and_a_transfer_both(two_pos):
    server, loaded, _ = two_pos
    world = loaded.world
    probes = {pos: systems.sandbox_plugin(pos).probe(emulator_of(server, pos), loaded.pos[pos]) for pos in (POS, TWIN)}
    sku = world.variants[0].sku
    before = {store.key: probes[loaded.store_pos[store.key]].count(sku, store.key) for store in world.stores}
    at = world.start + timedelta(days=1)
    price = world.variant(sku).price_at(world.store("munich"))
    sale = Sale("two-pos-sale", at, "munich", (SaleLine(sku, 1, price),), (("cash", price),))
    transfer = Transfer("two-pos-transfer", at + timedelta(minutes=5), "berlin", "munich", ((sku, 2),))
    server.run(play_at_tills([sale, transfer], loaded, server))

    assert loaded.sale_ids["two-pos-sale"] in {s["id"] for s in probes[TWIN].sales(store="munich")}
    assert not probes[POS].sales(store="munich")
    assert probes[POS].count(sku, "berlin") == before["berlin"] - 2
    assert probes[TWIN].count(sku, "munich") == before["munich"] - 1 + 2
    assert probes[POS].count(sku, "hamburg") == before["hamburg"]
