"""A running sandbox (both emulators over sockets, a small seeded world loaded) and the
environment a deployment would give omnisync: configuration file, secrets, state paths."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from omnisync_pipelines.demo import _load, demo_environment, write_config
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
from omnisync_pipelines.sandbox.scenario import build_world
from omnisync_pipelines.sandbox.serve import SandboxServer


class Sandbox:
    def __init__(self, data_dir: Path, seed: int = 3):
        self.ct = CommercetoolsEmulator(seed=seed)
        self.lsx = LightspeedXEmulator(seed=seed)
        self.server = SandboxServer().start({"commercetools": self.ct, "lightspeed_x": self.lsx})
        self.world = build_world(seed, stores=2, products=3, customers=6)
        self.loaded = self.server.run(_load(self.world, self.server), timeout=60)
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
def running_sandbox(data_dir: Path) -> Iterator[Sandbox]:
    """A sandbox served over sockets, its environment set for the runs, both undone afterwards."""
    box = Sandbox(data_dir)
    try:
        with environment(box.env):
            yield box
    finally:
        box.stop()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with running_sandbox(tmp_path_factory.mktemp("omnisync")) as box:
        yield box


@pytest.fixture(scope="module")
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance
