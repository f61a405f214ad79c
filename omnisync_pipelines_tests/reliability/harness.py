"""A sandbox rig for the reliability tests: commercetools and one POS over sockets, a small seeded
world, the deployment's environment, trading days played through the public APIs, syncs run until
quiescent, and the invariants read from the emulators' own state (not from omnisync's tables): the
POS's through its sandbox probe, so the rig runs against every registered POS that has an emulator."""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from omnisync_pipelines import systems
from omnisync_pipelines.demo import demo_environment, load_served, play_served, write_config
from omnisync_pipelines.engine.orders import orders_flow
from omnisync_pipelines.engine.returns import returns_flow
from omnisync_pipelines.engine.stock_plan import stock_flow
from omnisync_pipelines.runs import prepare_dagster_home, run_job
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.faults import FaultPlan
from omnisync_pipelines.sandbox.loader import expected_pos_stock
from omnisync_pipelines.sandbox.scenario import build_world, trading_day
from omnisync_pipelines.sandbox.serve import SandboxServer
from omnisync_pipelines.sandbox.world import OnlineOrder, Sale, StoreReturn, TradingDay
from omnisync_pipelines.store.ops import OpsStore

SANDBOX_POS = [pos for pos in systems.pos_ids() if systems.sandbox_plugin(pos)]


@dataclass
class Figures:
    """What a reliability run did, summed over examples (written to docs/reliability.md)."""

    faults: Counter = field(default_factory=Counter)
    runs: int = 0
    failed_runs: int = 0
    api_calls: int = 0
    days: int = 0
    sales: int = 0
    returns: int = 0
    lost: int = 0
    duplicated: int = 0

    def line(self) -> str:
        return (f"days {self.days}, POS sales {self.sales}, returns {self.returns}, Dagster runs {self.runs} "
                f"({self.failed_runs} failed under faults), API calls {self.api_calls}, faults injected "
                f"{sum(self.faults.values())} {dict(self.faults)}, records lost {self.lost}, duplicated {self.duplicated}")


def write_figures(section: str, figures: dict) -> None:
    """Merge one test module's figures into the JSON file `$OMNISYNC_RELIABILITY_FIGURES` names (when
    set), under `section`, with when they were taken and the machine's load average then. Modules
    may run on different xdist workers at once, hence the lock around read-merge-write."""
    target = os.environ.get("OMNISYNC_RELIABILITY_FIGURES")
    if not target:
        return
    with open(target, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        text = handle.read()
        merged = json.loads(text) if text.strip() else {}
        merged[section] = {**figures, "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(merged, indent=2, sort_keys=True))


def required_secrets(pos: str, env: dict) -> tuple[str, ...]:
    """The variables the POS's credentials resource must find set (an optional one, such as a refresh
    token once the token file holds its successor, is not among them)."""
    resource = systems.pos_plugin(pos).credentials_resource(env)
    return tuple(value.env_var_name for name, value in resource.__dict__.items()
                 if isinstance(value, dg.EnvVar) and type(resource).model_fields[name].is_required())


class Rig:
    """`secrets`: commercetools `client_id` / `client_secret`, and `pos`: the POS credential, when a
    test wants values of its own to look for."""

    def __init__(self, data_dir: Path, seed: int = 3, stores: int = 2, products: int = 3, customers: int = 6,
                 secrets: dict | None = None, pos: str = systems.DEFAULT_POS):
        secrets = secrets or {}
        self.pos = pos
        self.orders_flow, self.returns_flow, self.stock_flow = orders_flow(pos), returns_flow(pos), stock_flow(pos)
        plugin = systems.sandbox_plugin(pos)
        self.ct = CommercetoolsEmulator(seed=seed, **{k: v for k, v in secrets.items() if k in ("client_id", "client_secret")})
        self.pos_emulator = plugin.emulator(seed, secret=secrets.get("pos"))
        self.requests: list[tuple[str, str, str]] = []  # (system, method, path) of every request that reached an emulator
        self.ct.app = _Recorder(self.ct.app, systems.COMMERCETOOLS, self.requests)
        self.pos_emulator.app = _Recorder(self.pos_emulator.app, pos, self.requests)
        self.server = SandboxServer().start({systems.COMMERCETOOLS: self.ct, pos: self.pos_emulator})
        self.world = build_world(seed, stores=stores, products=products, customers=customers)
        self.loaded = self.server.run(load_served(self.world, self.server), timeout=60)
        self.probe = plugin.probe(self.pos_emulator, self.loaded.pos[pos])
        self.data_dir = data_dir
        write_config(data_dir / "omnisync.yaml", self.server, self.loaded)
        self.env = demo_environment(data_dir, self.server)
        prepare_dagster_home(Path(self.env["DAGSTER_HOME"]))  # the crash children run as `omnisync sync` does
        self.pos_secret_variables = required_secrets(pos, self.env)
        self.days: list[TradingDay] = []
        self._saved_env: dict = {}

    # environment ---------------------------------------------------------------------------------
    def __enter__(self) -> Rig:
        self._saved_env = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        return self

    def __exit__(self, *exc) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self.server.stop()

    @property
    def ops(self) -> OpsStore:
        return OpsStore.from_url(self.env["OMNISYNC_OPS_URL"])

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        with duckdb.connect(str(self.data_dir / "omnisync.duckdb"), read_only=True) as con:
            return con.execute(sql, params or []).df()

    # the world's activity (never under faults: tills and storefront are not what is tested) ---------
    def play(self, seed: int, sales_per_store: int = 4) -> TradingDay:
        now = replace(self.world, stock=self.expected_stock())
        day = trading_day(now, seed, day=len(self.days) + 1, sales_per_store=sales_per_store)
        self.server.run(play_served(day, self.loaded, self.server), timeout=120)
        self.days.append(day)
        return day

    def expected_stock(self) -> dict[tuple[str, str], int]:
        return expected_pos_stock(self.world, self.days)

    # faults ----------------------------------------------------------------------------------------
    def set_faults(self, ct: FaultPlan | None, pos: FaultPlan | None) -> None:
        for emulator, plan in ((self.ct, ct), (self.pos_emulator, pos)):
            emulator.faults.configure(plan or FaultPlan())
            if plan is None:
                emulator.faults.clear()

    def injected(self) -> Counter:
        total = Counter()
        for name, emulator in ((systems.COMMERCETOOLS, self.ct), (self.pos, self.pos_emulator)):
            total.update({f"{name}:{k}": v for k, v in emulator.faults.injected.items()})
        return total

    # syncing -----------------------------------------------------------------------------------------
    def sync(self, job: str, instance):
        return run_job(job, instance=instance)

    def sync_until_quiescent(self, job: str, instance, max_runs: int = 4) -> list:
        """Run `job` until a run succeeds with no ledger entry left `retrying` and no stock count still
        claimed (a claimed count is deferred by the run, not done: it is not quiet yet) (bounded)."""
        outcomes = []
        for _ in range(max_runs):
            outcomes.append(run_job(job, instance=instance))
            if outcomes[-1].success and not self.retrying() and not self.stock_claims():
                return outcomes
            job = "delta_sync"
        raise AssertionError(f"not quiescent after {max_runs} runs: {[o.summary() for o in outcomes]}; "
                             f"retrying: {self.retrying()[:10]}; stock counts claimed: {self.stock_claims()[:10]}")

    def retrying(self) -> list[str]:
        ledger = self.ops.table_frame("ledger")
        return ledger[ledger["status"] == "retrying"]["idempotency_key"].tolist() if len(ledger) else []

    def stock_claims(self) -> list[str]:
        """(SKU, location) counts a stock push holds (or a killed one left behind, until the next push takes them over)."""
        claims = self.ops.table_frame("stock_claims")
        return [f"{c.sku}@{c.location_key} ({c.claimed_by})" for c in claims.itertuples()]

    # the truth, read from the emulators ---------------------------------------------------------------
    def ct_inventory(self) -> dict[tuple[str, str], int]:
        """Per (SKU, store): a count never written is 0 (no entry needed)."""
        stores = {cid: key for key, cid in self.loaded.channel_ids.items()}
        held = {k: 0 for k in self.world.stock}
        for entry in self.ct.store.all("inventory-entry"):
            store = stores.get((entry.get("supplyChannel") or {}).get("id"))
            if store is not None:
                held[(entry["sku"], store)] = held.get((entry["sku"], store), 0) + int(entry["quantityOnStock"])
        return held

    def ct_orders(self) -> list[dict]:
        return self.ct.store.all("order")

    def pos_sale_ids(self) -> dict[str, str]:
        """event id -> the POS's sale id of every till sale played (not returns)."""
        sales = {e.event_id for d in self.days for e in d.events if isinstance(e, Sale)}
        return {k: v for k, v in self.loaded.sale_ids.items() if k in sales}

    def pos_return_ids(self) -> dict[str, str]:
        returns = {e.event_id for d in self.days for e in d.events if isinstance(e, StoreReturn)}
        return {k: v for k, v in self.loaded.sale_ids.items() if k in returns}

    def online_orders(self) -> list[OnlineOrder]:
        return [e for d in self.days for e in d.events if isinstance(e, OnlineOrder)]

    def writes(self, since: int = 0) -> list[tuple[str, str, str]]:
        """Write requests that reached an emulator (token requests are not writes to the data)."""
        return [r for r in self.requests[since:] if r[1] not in ("GET", "HEAD") and "token" not in r[2]]


class _Recorder:
    """ASGI middleware in front of an emulator: notes every request that reaches it."""

    def __init__(self, app, system: str, requests: list):
        self.app, self.system, self.requests = app, system, requests

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.requests.append((self.system, scope["method"], scope["path"]))
        await self.app(scope, receive, send)
