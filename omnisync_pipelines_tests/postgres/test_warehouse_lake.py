"""Production shape: the warehouse is a DuckLake (catalog in PostgreSQL, Parquet on a shared path).

The story: a chain of four stores runs omnisync as production does: Dagster's runs and the
operational store in PostgreSQL, the warehouse a lake every run's machine attaches. After the
nightly full sync, each store sells at its till, and four `stock_sync` runs, one per store, start at
once in four processes, as Dagster's run launchers would start them on four machines. Each writes
its store's plan and push rows and the POS stock snapshot at the same time as the others. All four
succeed, every store's rows are there, commercetools ends at each till's count, and an analyst
reading the lake all the while never waits for a writer and never gets an error.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from omnisync_pipelines.runs import run_job
from omnisync_pipelines.store import lake, read_copy, warehouse
from omnisync_pipelines_tests.defs.conftest import Sandbox, environment
from omnisync_pipelines_tests.postgres import pg_server_url, require_pg_server, throwaway_database

pytestmark = [pytest.mark.postgres]

STORES = 4

RUN_ONE_STORE = """
import sys
from dagster._core.storage.tags import PARTITION_NAME_TAG
from omnisync_pipelines.runs import run_job
outcome = run_job("stock_sync", tags={PARTITION_NAME_TAG: sys.argv[1]})
print(outcome.summary())
sys.exit(0 if outcome.success else 1)
"""

ANALYST = """
import sys, time, json
from pathlib import Path
from omnisync_pipelines.store import lake
con = lake.connect_lake(sys.argv[1], sys.argv[2])
stop, queries, errors, slowest = Path(sys.argv[3]), 0, [], 0.0
while not stop.exists():
    started = time.monotonic()
    try:
        con.execute("SELECT location_key, count(*) FROM plan.{table} GROUP BY ALL").fetchall()
        queries += 1
    except Exception as exc:
        errors.append(str(exc).splitlines()[0])
    slowest = max(slowest, time.monotonic() - started)
    time.sleep(0.05)
print(json.dumps({"queries": queries, "errors": errors, "slowest": slowest}))
"""


def libpq(url) -> str:
    return f"postgres:dbname={url.database} host={url.host} port={url.port or 5432} user={url.username}"


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    url = pg_server_url()
    require_pg_server(url)
    with throwaway_database(url) as ops_db, throwaway_database(url) as dagster_db, throwaway_database(url) as lake_db:
        data_dir = tmp_path_factory.mktemp("omnisync_lake")
        box = Sandbox(data_dir, stores=STORES)
        box.env["OMNISYNC_OPS_URL"] = ops_db.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        box.env[lake.CATALOG_ENV] = libpq(lake_db)
        box.env[lake.DATA_PATH_ENV] = str(data_dir / "lake")
        home = Path(box.env["DAGSTER_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        production = yaml.safe_load((Path(__file__).parents[2] / "dagster.postgres.yaml").read_text())
        production["storage"] = {"postgres": {"postgres_url": dagster_db.render_as_string(hide_password=False)}}
        (home / "dagster.yaml").write_text(yaml.safe_dump(production))
        try:
            with environment(box.env):
                yield box
        finally:
            box.stop()


def plan_table(chain) -> str:
    return f"stock_{chain.pos}_to_commercetools"


def ct_levels(chain, store: str) -> dict[str, int]:
    channel = chain.loaded.channel_ids[store]
    return {e["sku"]: e["quantityOnStock"] for e in chain.ct.store.all("inventory-entry")
            if (e.get("supplyChannel") or {}).get("id") == channel}


def test_the_nightly_full_sync_writes_the_lake_and_publishes_the_analysts_copy(chain):
    assert run_job("full_sync").success
    con = warehouse.connect()
    try:
        assert con.execute("SELECT current_database()").fetchall() == [(lake.ALIAS,)]
        stores = con.execute(f"SELECT count(DISTINCT location_key) FROM plan.{plan_table(chain)}").fetchall()[0][0]
        assert stores == STORES
    finally:
        con.close()
    assert not Path(chain.env["OMNISYNC_DUCKDB_PATH"]).exists()  # no single file: every run attaches the lake
    copy = read_copy.analysts_path(chain.env["OMNISYNC_DUCKDB_PATH"])
    shell = subprocess.run([str(Path(sys.executable).with_name("duckdb")), "-readonly", "-csv", "-noheader", copy,
                            "-c", f"SELECT count(DISTINCT location_key) FROM plan.{plan_table(chain)}"],
                           capture_output=True, text=True, timeout=60)
    assert shell.stdout.strip() == str(STORES), shell.stderr


def test_four_stores_synced_at_once_from_four_processes_all_land(chain, tmp_path):
    stores = [store.key for store in chain.world.stores]
    sku = chain.world.variants[0].sku
    for n, store in enumerate(stores, start=1):
        chain.probe.adjust_count(sku, store, -n)  # each till sells

    stop = tmp_path / "stop"
    env = {**os.environ, **chain.env}
    analyst = subprocess.Popen(
        [sys.executable, "-c", ANALYST.replace("{table}", plan_table(chain)),
         chain.env[lake.CATALOG_ENV], chain.env[lake.DATA_PATH_ENV], str(stop)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs = [subprocess.Popen([sys.executable, "-c", RUN_ONE_STORE, store], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for store in stores]
    started = time.monotonic()
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    took = time.monotonic() - started
    stop.touch()
    reading, analyst_errors = analyst.communicate(timeout=60)

    assert [run.returncode for run in runs] == [0] * STORES, outputs
    for store in stores:
        assert ct_levels(chain, store)[sku] == chain.probe.count(sku, store)
    con = warehouse.connect()
    try:
        planned = dict(con.execute(
            f"SELECT location_key, count(*) FROM plan.{plan_table(chain)} GROUP BY ALL").fetchall())
        commits = con.execute(f"SELECT count(*) FROM ducklake_snapshots('{lake.ALIAS}')").fetchall()[0][0]
    finally:
        con.close()
    assert set(planned) == set(stores)
    seen = json.loads(reading.strip().splitlines()[-1])
    assert seen["errors"] == [] and seen["queries"] > 0, analyst_errors
    print(f"4 store runs at once: {took:.1f} s; lake snapshots {commits}; analyst queries {seen['queries']}, "
          f"slowest {seen['slowest']:.2f} s")
