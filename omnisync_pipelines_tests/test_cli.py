"""`omnisync` as an operator runs it: the sandbox served over real sockets, the rejected-records
list on a fresh install, and a sync started before the Dagster instance is configured."""

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from omnisync_pipelines.canonical.models import Rejection
from omnisync_pipelines.cli import app
from omnisync_pipelines.runs import DagsterHomeMissing, run_job
from omnisync_pipelines.store.ops import OpsStore

SCRIPT = Path(sys.executable).parent / "omnisync"
ROOT = Path(__file__).resolve().parents[1]
OMNISYNC = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "omnisync_pipelines.cli"]


def lines_of(stream) -> queue.Queue:
    """Lines of a child's stdout as they arrive, so a hung child fails the test instead of hanging it."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


@pytest.fixture
def served(tmp_path):
    """`omnisync sandbox serve --port 0 --config omnisync.yaml` as a child process; yields the JSON
    line of each emulator."""
    child = subprocess.Popen([*OMNISYNC, "sandbox", "serve", "--port", "0", "--seed", "5", "--config", "omnisync.yaml"],
                             cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = lines_of(child.stdout)
        described = {}
        for _ in range(2):
            try:
                record = json.loads(lines.get(timeout=120))
            except queue.Empty:
                child.kill()
                pytest.fail(f"sandbox printed no line within 120 s: {child.stderr.read()[-2000:]}")
            described[record["system"]] = record
        yield described
        child.terminate()  # SIGTERM: the command stops its servers and exits cleanly
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_sandbox_serve_prints_one_line_per_emulator_and_speaks_their_auth(served):
    assert set(served) == {"commercetools", "lightspeed_x"}
    for system, record in served.items():
        host, port = record["base_url"].removeprefix("http://").split(":")
        assert (host, port != "0") == ("127.0.0.1", True), record  # --port 0: any free port
        assert record["credentials"], system
    assert served["commercetools"]["base_url"] != served["lightspeed_x"]["base_url"]

    ct = served["commercetools"]["credentials"]
    products = f"{ct['api_url']}/{ct['project_key']}/products"
    assert httpx.get(products).status_code == 401
    granted = httpx.post(f"{ct['auth_url']}/oauth/token", data={"grant_type": "client_credentials"},
                         auth=(ct["client_id"], ct["client_secret"]))
    assert granted.status_code == 200
    listed = httpx.get(products, headers={"Authorization": f"Bearer {granted.json()['access_token']}"})
    assert listed.status_code == 200 and listed.json()["total"] > 0  # the seeded world is loaded

    lsx = served["lightspeed_x"]["credentials"]
    outlets = f"{lsx['base_url']}/api/2.0/outlets"
    assert httpx.get(outlets).status_code == 401
    assert httpx.get(outlets, headers={"Authorization": "Bearer not-the-token"}).status_code == 401
    listed = httpx.get(outlets, headers={"Authorization": f"Bearer {lsx['personal_token']}"})
    assert listed.status_code == 200 and len(listed.json()["data"]) >= 2


def test_sandbox_serve_writes_the_configuration_that_maps_each_store_to_its_emulator_locations(served, tmp_path):
    """The written file is a valid configuration: every store's POS location id is one the served
    POS lists, and its commercetools keys name the store and channel the sandbox created."""
    from omnisync_pipelines.config import load_config

    config = load_config(tmp_path / "omnisync.yaml")
    ct = served["commercetools"]["credentials"]
    assert config.systems.commercetools.api_url == ct["api_url"]
    lsx = served["lightspeed_x"]["credentials"]
    outlets = httpx.get(f"{lsx['base_url']}/api/2.0/outlets",
                        headers={"Authorization": f"Bearer {lsx['personal_token']}"}).json()["data"]
    names = {outlet["id"]: outlet["name"] for outlet in outlets}
    token = httpx.post(f"{ct['auth_url']}/oauth/token", data={"grant_type": "client_credentials"},
                       auth=(ct["client_id"], ct["client_secret"])).json()["access_token"]
    stores = httpx.get(f"{ct['api_url']}/{ct['project_key']}/stores", params={"expand": "supplyChannels[*]"},
                       headers={"Authorization": f"Bearer {token}"}).json()["results"]
    channels = {store["key"]: store["supplyChannels"][0]["obj"]["key"] for store in stores}
    assert len(config.locations) == len(stores) >= 2
    for location in config.locations:
        assert channels[location.commercetools.store_key] == location.commercetools.supply_channel_key
        assert location.lightspeed_x.outlet_id in names, location.key


def test_rejected_list_on_a_fresh_ops_store_says_there_is_nothing(tmp_path):
    ops_url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    OpsStore.from_url(ops_url).engine.dispose()
    outcome = CliRunner().invoke(app, ["rejected", "list"], env={"OMNISYNC_OPS_URL": ops_url})
    assert outcome.exit_code == 0, outcome.output
    assert outcome.output.strip() == "no open rejected records"

    # and once a till sale with an unknown SKU was rejected, the same command shows it with its reason
    OpsStore.from_url(ops_url).add_rejections("stock_lightspeed_x_to_commercetools", [Rejection(
        system="lightspeed_x", entity="stock", record_ref="GHOST-1@berlin", field="sku",
        reason="unknown SKU 'GHOST-1': not in the commercetools catalog", payload="{}")])
    outcome = CliRunner().invoke(app, ["rejected", "list"], env={"OMNISYNC_OPS_URL": ops_url})
    assert outcome.exit_code == 0, outcome.output
    assert "GHOST-1@berlin" in outcome.output and "not in the commercetools catalog" in outcome.output


def test_sync_without_dagster_home_says_so_in_one_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    finished = subprocess.run([*OMNISYNC, "sync", "delta"], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
    assert finished.returncode == 2
    assert finished.stderr.startswith("Error: DAGSTER_HOME is not set"), finished.stderr
    assert "export DAGSTER_HOME=" in finished.stderr
    assert "Traceback" not in finished.stderr + finished.stdout


def test_a_dagster_home_that_is_not_a_directory_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    with pytest.raises(DagsterHomeMissing, match=r"DAGSTER_HOME=.*dagster_home is not an existing directory"):
        run_job("delta_sync")


def test_rejected_list_from_the_wrong_folder_names_the_store_it_looked_for(tmp_path):
    """Run where no ops store is, it says so (exit 2) instead of creating an empty one and reporting nothing."""
    env = {k: v for k, v in os.environ.items() if k != "OMNISYNC_OPS_URL"}
    for command in (["rejected", "list"], ["rejected", "release", "--id", "1", "--reason", "x"]):
        finished = subprocess.run([*OMNISYNC, *command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert finished.returncode == 2, finished.stderr
        assert finished.stderr.strip().splitlines() == [
            f"Error: no operational store at {tmp_path.resolve() / 'data' / 'ops.sqlite'} (OMNISYNC_OPS_URL unset, "
            "default sqlite:///data/ops.sqlite): run from the deployment's folder or set OMNISYNC_OPS_URL to its store"]
        assert not (tmp_path / "data").exists()


def test_rejected_list_takes_only_the_statuses_the_store_knows(tmp_path):
    from omnisync_pipelines.store.tables import REJECTED_STATUSES

    ops_url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    OpsStore.from_url(ops_url).engine.dispose()
    outcome = CliRunner().invoke(app, ["rejected", "list", "--status", "retry"], env={"OMNISYNC_OPS_URL": ops_url})
    assert outcome.exit_code == 2
    choices = "|".join((*REJECTED_STATUSES, "all"))
    assert f"is not one of {choices}" in outcome.output
    help_text = CliRunner().invoke(app, ["rejected", "list", "--help"], env={"COLUMNS": "200"}).output
    assert choices in help_text
    for doc in ("README.md", "docs/operations.md"):  # the docs name the same list
        assert f"--status {choices}".replace("|", "\\|" if doc == "README.md" else "|") in (ROOT / doc).read_text()


def test_rejected_list_is_a_table_one_line_per_record_and_json_on_request(tmp_path):
    ops_url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    long_reason = "unknown SKU 'GHOST-1': not in the commercetools catalog; " + "the till sold it under a code " * 10
    OpsStore.from_url(ops_url).add_rejections("stock_lightspeed_x_to_commercetools", [
        Rejection(system="lightspeed_x", entity="stock", record_ref=f"GHOST-{n}@berlin", field="sku",
                  reason=long_reason, payload='{"count": 3}') for n in range(3)])
    table = CliRunner().invoke(app, ["rejected", "list"], env={"OMNISYNC_OPS_URL": ops_url}).output.splitlines()
    assert table[0].split() == ["id", "flow", "record", "field", "reason", "status", "attempts", "updated", "(UTC)"]
    assert len(table) == 2 + 3 and all(len(line) < 200 for line in table)  # header, rule, one line each
    assert "GHOST-2@berlin" in table[-1] and "…" in table[-1]

    listed = json.loads(CliRunner().invoke(app, ["rejected", "list", "--json"], env={"OMNISYNC_OPS_URL": ops_url}).output)
    assert [r["record_ref"] for r in listed] == ["GHOST-0@berlin", "GHOST-1@berlin", "GHOST-2@berlin"]
    assert listed[0]["reason"] == long_reason and listed[0]["payload"] == '{"count": 3}'
