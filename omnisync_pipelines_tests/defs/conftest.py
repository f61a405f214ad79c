"""A running sandbox (commercetools and one POS over sockets, a small seeded world loaded) and the
environment a deployment would give omnisync: configuration file, secrets, state paths.

The `sandbox` fixture runs once per test module for each registered POS that has an emulator."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from omnisync_pipelines import systems
from omnisync_pipelines.demo import demo_environment, emulator_of, start_sandbox, write_config
from omnisync_pipelines.sandbox.scenario import build_world

SANDBOX_POS = [pos for pos in systems.pos_ids() if systems.sandbox_plugin(pos)]


class Sandbox:
    def __init__(self, data_dir: Path, seed: int = 3, pos: str = systems.DEFAULT_POS, stores: int = 2):
        self.pos = pos
        self.world = build_world(seed, stores=stores, products=3, customers=6)
        self.server, self.loaded = start_sandbox(seed, pos=(pos,), world=self.world)
        self.ct = emulator_of(self.server, systems.COMMERCETOOLS)
        self.pos_emulator = emulator_of(self.server, pos)
        self.probe = systems.sandbox_plugin(pos).probe(self.pos_emulator, self.loaded.pos[pos])
        self.data_dir = data_dir
        write_config(data_dir / "omnisync.yaml", self.server, self.loaded)
        self.env = demo_environment(data_dir, self.server)

    def stop(self) -> None:
        self.server.stop()


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """`values` set in os.environ for the runs, restored afterwards."""
    with pytest.MonkeyPatch.context() as env:
        for key, value in values.items():
            env.setenv(key, value)
        yield


@contextmanager
def running_sandbox(data_dir: Path, pos: str = systems.DEFAULT_POS) -> Iterator[Sandbox]:
    """A sandbox served over sockets, its environment set for the runs, both undone afterwards."""
    box = Sandbox(data_dir, pos=pos)
    try:
        with environment(box.env):
            yield box
    finally:
        box.stop()


@pytest.fixture(scope="module", params=SANDBOX_POS)
def sandbox(tmp_path_factory, request):
    with running_sandbox(tmp_path_factory.mktemp(f"omnisync-{request.param}"), pos=request.param) as box:
        yield box


@pytest.fixture(scope="module")
def instance(sandbox):
    """A Dagster instance of the module's sandbox (one per POS parameter: runs never mix two POS)."""
    with dg.instance_for_test() as test_instance:
        yield test_instance
