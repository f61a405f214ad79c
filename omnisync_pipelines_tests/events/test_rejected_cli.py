"""`omnisync rejected list|retry|release` on a prepared operational store (no sandbox).

Contract: `list` shows the records of one status (open by default, `all` for every one) with
flow, record, field, reason and attempts, and says so when there are none; `release` lets an open
record through, naming who and why in the audit trail, and refuses (exit 1, on stderr) a record
that is not open, held or queued, or does not exist; `retry` needs --id or --flow, says "nothing
to retry" for released records, and otherwise queues the records and runs the real
`reprocess_rejected` job (DAGSTER_HOME), whose outcome it prints: records of a flow it does not
retry itself go back to `open` for their flow's next run, with the audit trail to show it.
"""

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnisync_pipelines.canonical.models import Rejection
from omnisync_pipelines.cli import app
from omnisync_pipelines.store.audit import frame, rejected_audit
from omnisync_pipelines.store.ops import OpsStore

STOCK_FLOW = "stock_lightspeed_x_to_commercetools"
CUSTOMERS_FLOW = "customers_lightspeed_x_to_commercetools"
CONFIG = """\
pos: lightspeed_x
systems:
  commercetools: {api_url: "http://127.0.0.1:9", auth_url: "http://127.0.0.1:9", project_key: shop}
  lightspeed_x: {base_url: "http://127.0.0.1:9", domain_prefix: shop}
locations:
  - key: berlin
    commercetools: {supply_channel_key: store-berlin, store_key: berlin}
    lightspeed_x: {outlet_id: outlet-berlin}
"""


# fixtures -----------------------------------------------------------------------------------------
@pytest.fixture
def ops(tmp_path, monkeypatch) -> OpsStore:
    """A store with two rejected stock movements and one rejected customer, as a day's runs leave them."""
    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    monkeypatch.setenv("OMNISYNC_OPS_URL", url)
    store = OpsStore.from_url(url)
    store.add_rejections(STOCK_FLOW, [
        Rejection("lightspeed_x", "stock", "GHOST-1@berlin", "sku", "SKU 'GHOST-1' is not in the commercetools catalog", "{}"),
        Rejection("lightspeed_x", "stock", "GHOST-2@berlin", "sku", "SKU 'GHOST-2' is not in the commercetools catalog", "{}"),
    ])
    store.add_rejections(CUSTOMERS_FLOW, [
        Rejection("lightspeed_x", "customers", "cust-7", "email", "customer cust-7: 'anna@' is not an email address", "{}"),
    ])
    return store


@pytest.fixture
def deployment(tmp_path, monkeypatch, ops) -> OpsStore:
    """What `retry` needs besides the store: configuration, secrets, a Dagster home."""
    (tmp_path / "omnisync.yaml").write_text(CONFIG)
    (tmp_path / "dagster_home").mkdir()
    shutil.copy(Path(__file__).resolve().parents[2] / "dagster.yaml", tmp_path / "dagster_home")
    monkeypatch.setenv("OMNISYNC_CONFIG", str(tmp_path / "omnisync.yaml"))
    monkeypatch.setenv("OMNISYNC_DUCKDB_PATH", str(tmp_path / "omnisync.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    for name in ("OMNISYNC_CT_CLIENT_ID", "OMNISYNC_CT_CLIENT_SECRET", "OMNISYNC_LSX_TOKEN"):
        monkeypatch.setenv(name, "unused-nothing-is-called")
    return ops


def omnisync(*args: str):
    return CliRunner().invoke(app, ["rejected", *args])


def id_of(ops: OpsStore, record_ref: str) -> int:
    records = ops.rejected_frame()
    return int(records.loc[records["record_ref"] == record_ref, "id"].iloc[0])


def status_of(ops: OpsStore, record_ref: str) -> str:
    records = ops.rejected_frame()
    return records.loc[records["record_ref"] == record_ref, "status"].iloc[0]


# tests --------------------------------------------------------------------------------------------
def test_list_shows_the_open_records_with_their_reasons(ops):
    result = omnisync("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["id", "flow", "record", "field", "reason", "status", "attempts", "updated", "(UTC)"]
    assert len(lines) == 2 + 3  # header, rule, one line per open record
    ghost = next(line for line in lines if "GHOST-1@berlin" in line)
    assert STOCK_FLOW in ghost and "not in the commercetools catalog" in ghost and " open " in ghost
    assert any("cust-7" in line and "not an email address" in line for line in lines)

    empty = omnisync("list", "--status", "held")
    assert empty.exit_code == 0 and empty.output.strip() == "no held rejected records"


def test_release_lets_a_record_through_once_and_says_who_and_why(ops):
    ghost = id_of(ops, "GHOST-2@berlin")
    result = omnisync("release", "--id", str(ghost), "--reason", "store-only line, never sold online", "--by", "ops-ben")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"released rejected record {ghost}"
    assert status_of(ops, "GHOST-2@berlin") == "released"
    [row] = frame(ops, rejected_audit).to_dict("records")
    assert (row["rejected_id"], row["action"], row["actor"], row["reason"]) == (
        ghost, "released", "ops-ben", "store-only line, never sold online")

    listed = omnisync("list", "--status", "all").output
    assert "released" in next(line for line in listed.splitlines() if "GHOST-2@berlin" in line)
    assert "GHOST-2@berlin" not in omnisync("list").output

    again = omnisync("release", "--id", str(ghost), "--reason", "twice")
    assert again.exit_code == 1 and f"rejected record {ghost} is released" in again.output
    missing = omnisync("release", "--id", "999", "--reason", "typo")
    assert missing.exit_code == 1 and "no rejected record 999" in missing.output
    assert len(frame(ops, rejected_audit)) == 1


def test_retry_needs_records_and_never_takes_a_released_one(ops):
    refused = omnisync("retry")
    assert refused.exit_code == 2 and "--id" in refused.output
    ghost = id_of(ops, "GHOST-2@berlin")
    assert omnisync("release", "--id", str(ghost), "--reason", "store-only").exit_code == 0
    result = omnisync("retry", "--id", str(ghost), "--by", "ops-anna")
    assert result.exit_code == 0 and "nothing to retry" in result.output
    assert status_of(ops, "GHOST-2@berlin") == "released"
    assert list(frame(ops, rejected_audit)["action"]) == ["released"]


def test_retry_runs_the_reprocess_job_and_reports_its_outcome(deployment):
    ops = deployment
    customer = id_of(ops, "cust-7")
    result = omnisync("retry", "--flow", CUSTOMERS_FLOW, "--by", "ops-anna", "--reason", "email fixed at the till")
    assert result.exit_code == 0, result.output
    assert f"queued 1 rejected records for retry: {customer}" in result.output
    assert "reprocess_rejected succeeded" in result.output
    assert "0 applied [], 0 still rejected [], 1 left to their flow's next run" in result.output
    record = ops.rejected_frame().set_index("id").loc[customer]
    assert record["status"] == "open" and record["attempts"] == 2
    assert status_of(ops, "GHOST-1@berlin") == "open"  # another flow: not queued, untouched
    trail = frame(ops, rejected_audit)
    assert list(zip(trail["action"], trail["outcome"].fillna(""), trail["actor"], strict=True)) == [
        ("retry_requested", "", "ops-anna"), ("retried", "unsupported_flow", "ops-anna")]
    assert trail["reason"].iloc[0] == "email fixed at the till"
