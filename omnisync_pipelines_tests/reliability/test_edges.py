"""The edges: secrets stay secret, and a misconfigured deployment stops before it writes.

Contract: with known secret values (commercetools client secret, the POS's credential, and every
access token the commercetools emulator issued), a full and a delta sync leave none of them in the
captured logs (Python logging, stdout/stderr, the Dagster event log), the API call log
(`api_calls`) or any other operational table, any text column of any DuckDB table, or the bytes of
the DuckDB and SQLite files. A missing credential or a location the systems do not know stops the
run before a single write reaches either emulator, with a message that names what to fix.
"""

import base64
import logging
import os
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from omnisync_pipelines import systems
from omnisync_pipelines.runs import run_job
from omnisync_pipelines_tests.reliability.harness import SANDBOX_POS, Rig

SECRETS = {"client_secret": "ct-SECRET-9f8e7d6c5b4a3921", "pos": "pos-TOKEN-1a2b3c4d5e6f7081"}
UNKNOWN_POS_LOCATION = "0a8b7c1e-0000-4000-8000-000000000000"


# fixtures ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=SANDBOX_POS)
def rig(tmp_path_factory, request):
    with Rig(tmp_path_factory.mktemp(f"edges-{request.param}"), secrets=SECRETS, pos=request.param) as box:
        yield box


@pytest.fixture(scope="module")
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def secret_values(rig: Rig) -> list[str]:
    ct = rig.ct.auth
    basic = base64.b64encode(f"{ct.client_id}:{ct.client_secret}".encode()).decode()
    return [SECRETS["client_secret"], SECRETS["pos"], basic, *ct.tokens]


def duckdb_texts(path: Path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        columns = con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type IN ('VARCHAR', 'JSON') OR data_type LIKE '%[]' OR data_type LIKE 'STRUCT%'"
        ).fetchall()
        texts = []
        for schema, table, column in columns:
            rows = con.execute(f'SELECT CAST("{column}" AS VARCHAR) FROM "{schema}"."{table}"').fetchall()
            texts.extend(f"{schema}.{table}.{column}: {value}" for (value,) in rows if value)
    return texts


def dagster_log_text(instance, run_ids: list[str]) -> str:
    from dagster._serdes import serialize_value

    return "\n".join(serialize_value(entry) for run_id in run_ids for entry in instance.all_logs(run_id))


def use_config(rig: Rig, change) -> str:
    path = Path(rig.env["OMNISYNC_CONFIG"])
    original = path.read_text()
    config = yaml.safe_load(original)
    change(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return original


# tests ---------------------------------------------------------------------------------------------
def test_secrets_never_reach_logs_the_call_log_or_duckdb(rig, instance, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    runs = [run_job("full_sync", instance=instance, quiet=False)]
    rig.play(seed=5, sales_per_store=3)
    rig.ct.expire_tokens()  # a fresh token mid-life: two issued tokens to look for
    runs.append(run_job("delta_sync", instance=instance, quiet=False))
    assert all(r.success for r in runs), [r.summary() for r in runs]
    captured = capfd.readouterr()
    ops = rig.ops
    places = {
        "python logging": caplog.text,
        "stdout/stderr": captured.out + captured.err,
        "dagster event log": dagster_log_text(instance, [r.run_id for r in runs]),
        "ops api_calls": ops.table_frame("api_calls").to_csv(),
        **{f"ops {t}": ops.table_frame(t).to_csv() for t in ("ledger", "rejected", "cursors", "inbox")},
        "duckdb text columns": "\n".join(duckdb_texts(rig.data_dir / "omnisync.duckdb")),
    }
    files = {name: (rig.data_dir / name).read_bytes() for name in ("omnisync.duckdb", "ops.sqlite")}
    tokens = secret_values(rig)
    assert len(tokens) >= 4 and len(places["ops api_calls"]) > 1000 and places["dagster event log"]
    leaks = [(place, token[:6]) for place, text in places.items() for token in tokens if token in text]
    leaks += [(name, token[:6]) for name, data in files.items() for token in tokens if token.encode() in data]
    assert not leaks, f"secrets found in: {leaks}"


def test_a_missing_credential_stops_the_run_before_any_write(rig, instance, monkeypatch):
    rig.play(seed=6, sales_per_store=3)  # work a run would write
    for name in ("OMNISYNC_CT_CLIENT_SECRET", *rig.pos_secret_variables):
        with monkeypatch.context() as env:
            env.delenv(name)
            since = len(rig.requests)
            with pytest.raises(dg.DagsterInvalidConfigError, match=f'"{name}" which is not set') as refused:
                run_job("delta_sync", instance=instance)  # the run is refused before its first step
            assert "must be set in this environment" in str(refused.value)
            assert rig.requests[since:] == []


@pytest.mark.parametrize("broken", ["unknown POS location", "unknown supply channel"])
def test_a_location_the_systems_do_not_know_stops_the_run_before_any_write(rig, instance, broken):
    rig.play(seed=7 if broken == "unknown POS location" else 8, sales_per_store=3)

    def change(config):
        first = config["locations"][0]
        if broken == "unknown POS location":
            first[rig.pos][systems.pos_plugin(rig.pos).location_id_field] = UNKNOWN_POS_LOCATION
        else:
            first["commercetools"]["supply_channel_key"] = "store-atlantis"

    original = use_config(rig, change)
    try:
        since = len(rig.requests)
        outcome = run_job("delta_sync", instance=instance)
    finally:
        Path(rig.env["OMNISYNC_CONFIG"]).write_text(original)
    wrong = UNKNOWN_POS_LOCATION if broken == "unknown POS location" else "store-atlantis"
    assert not outcome.success and wrong in outcome.summary(), outcome.summary()
    assert "locations" in outcome.summary()
    assert rig.writes(since) == [], rig.writes(since)


def test_after_the_configuration_is_fixed_the_next_run_catches_up(rig, instance):
    outcome = run_job("delta_sync", instance=instance)
    assert outcome.success, outcome.summary()
    assert os.environ["OMNISYNC_CT_CLIENT_SECRET"] == SECRETS["client_secret"]
