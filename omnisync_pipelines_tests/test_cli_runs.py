"""`omnisync sync` and `omnisync reconcile` as an operator sees them at a terminal: a line per asset
as it finishes with the records it read or wrote, a closing summary of what the run did, what a
reconcile found; and each run recorded in the instance the UI reads, under the code location's name."""

import os
import re
import subprocess

import dagster as dg
import pytest

from omnisync_pipelines.runs import LOCATION_NAME, prepare_dagster_home
from omnisync_pipelines_tests.defs.conftest import Sandbox
from omnisync_pipelines_tests.test_cli import OMNISYNC


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    sandbox = Sandbox(tmp_path_factory.mktemp("cli-runs"))
    prepare_dagster_home(sandbox.data_dir / "dagster_home")
    try:
        yield sandbox
    finally:
        sandbox.stop()


def omnisync(box, *command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **box.env}
    return subprocess.run([*OMNISYNC, *command], cwd=box.data_dir, env=env, capture_output=True, text=True, timeout=600)


def test_a_full_sync_shows_each_asset_as_it_finishes_and_what_the_run_did(box):
    finished = omnisync(box, "sync", "full")

    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    out = finished.stdout
    assert out.startswith("full_sync: started")
    assert re.search(r"^  ✓ commercetools/catalog  rows \d+", out, re.M), out
    assert re.search(r"^  ✓ push/stock_\S+ \[\S+\]  ", out, re.M), out  # one line per store pushed
    assert re.search(r"^full_sync succeeded \(run [0-9a-f]{8}, \d+ materializations, [\d.]+ s\)$", out, re.M), out
    assert re.search(r"^  \d+ records read from the systems$", out, re.M), out
    assert re.search(r"^    push/stock_\S+ \[\S+\]: \d+ applied$", out, re.M), out
    assert "Traceback" not in finished.stderr


def test_the_run_is_in_the_instance_the_ui_reads(box):
    with dg.DagsterInstance.from_config(str(box.data_dir / "dagster_home")) as instance:
        [run] = instance.get_runs(filters=dg.RunsFilter(job_name="full_sync"))
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.remote_job_origin.repository_origin.code_location_origin.location_name == LOCATION_NAME


def test_reconcile_says_what_it_found(box):
    finished = omnisync(box, "reconcile")

    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    findings = finished.stdout[finished.stdout.index("\nFindings\n"):]
    assert re.search(r"^  stock: \d+ match, \d+ explained, 0 drift \(0 above threshold\)", findings, re.M), findings
    assert re.search(r"^  orders: ", findings, re.M), findings
    assert re.search(r"^  customers: ", findings, re.M), findings
