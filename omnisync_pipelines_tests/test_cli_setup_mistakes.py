"""An operator's setup mistake, met before any run starts: one short message naming the file, key or
variable to fix, exit code 2, no traceback and no failed run in the instance."""

import copy
import os
import shutil
import subprocess

import pytest
import yaml

from omnisync_pipelines_tests.test_cli import OMNISYNC, ROOT
from omnisync_pipelines_tests.unit.test_config import GOOD


def good_setup(tmp_path) -> dict[str, str]:
    (tmp_path / "dagster_home").mkdir()
    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster_home" / "dagster.yaml")
    (tmp_path / "omnisync.yaml").write_text(yaml.safe_dump(GOOD))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNISYNC_", "DAGSTER_"))}
    return {**env, "DAGSTER_HOME": str(tmp_path / "dagster_home"), "OMNISYNC_CONFIG": str(tmp_path / "omnisync.yaml"),
            "OMNISYNC_OPS_URL": f"sqlite:///{tmp_path / 'ops.sqlite'}", "OMNISYNC_DUCKDB_PATH": str(tmp_path / "w.duckdb"),
            "OMNISYNC_CT_CLIENT_ID": "client", "OMNISYNC_CT_CLIENT_SECRET": "secret"}


def typo_in_a_key(tmp_path, env):
    raw = copy.deepcopy(GOOD)
    raw["locatons"] = raw.pop("locations")
    (tmp_path / "omnisync.yaml").write_text(yaml.safe_dump(raw))


MISTAKES = {
    "no DAGSTER_HOME": (lambda tmp, env: env.pop("DAGSTER_HOME"), "DAGSTER_HOME is not set"),
    "a DAGSTER_HOME without dagster.yaml": (lambda tmp, env: (tmp / "dagster_home" / "dagster.yaml").unlink(), "holds no dagster.yaml"),
    "a DAGSTER_HOME that does not exist": (lambda tmp, env: env.update(DAGSTER_HOME=str(tmp / "nowhere")), "is not an existing directory"),
    "no configuration file": (lambda tmp, env: env.update(OMNISYNC_CONFIG=str(tmp / "missing.yaml")), "missing.yaml: configuration file not found"),
    "a typo in a key": (typo_in_a_key, "locatons"),
    "a file that is not YAML": (lambda tmp, env: (tmp / "omnisync.yaml").write_text("pos: [unclosed"), "not valid YAML"),
    "an empty secret": (lambda tmp, env: env.update(OMNISYNC_CT_CLIENT_SECRET=""), "OMNISYNC_CT_CLIENT_SECRET is not set or empty"),
    "the POS's secret missing": (lambda tmp, env: None, "is not set or empty"),
}


@pytest.mark.parametrize("command", [["sync", "delta"], ["reconcile"]], ids=" ".join)
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_setup_mistake_is_one_message_and_exit_2(tmp_path, mistake, command):
    env = good_setup(tmp_path)
    make, named = MISTAKES[mistake]
    make(tmp_path, env)

    finished = subprocess.run([*OMNISYNC, *command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    assert finished.returncode == 2, finished.stdout + finished.stderr
    assert named in finished.stderr
    assert finished.stderr.startswith("Error: ")
    assert len(finished.stderr.strip().splitlines()) <= 3, finished.stderr
    assert "Traceback" not in finished.stderr + finished.stdout
    assert "started" not in finished.stdout  # no run was made
