"""`omnisync demo`: a fresh sandbox world, a full sync, a trading day, a delta sync, a summary.

The emulators run over real sockets, the world is loaded through their public APIs, and the syncs
are real Dagster runs recorded in the instance under <data_dir>/dagster_home.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import yaml

from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
from omnisync_pipelines.sandbox.faults import FaultPlan
from omnisync_pipelines.sandbox.loader import load_world, play_day
from omnisync_pipelines.sandbox.loader_commercetools import CommercetoolsLoader
from omnisync_pipelines.sandbox.scenario import build_world, trading_day
from omnisync_pipelines.sandbox.serve import SandboxServer

MAX_CATCH_UP_RUNS = 5


def start_sandbox(seed: int, host: str = "127.0.0.1", first_port: int = 0, systems: list[str] | None = None):
    """Emulators on sockets with the seeded world loaded; returns (server, loaded world)."""
    emulators = {
        "commercetools": CommercetoolsEmulator(seed=seed),
        "lightspeed_x": LightspeedXEmulator(seed=seed),
    }
    if systems:
        unknown = set(systems) - set(emulators)
        if unknown:
            raise SystemExit(f"no emulator for {sorted(unknown)}; available: {sorted(emulators)}")
        emulators = {k: v for k, v in emulators.items() if k in systems}
    ports = {system: first_port + i for i, system in enumerate(emulators)} if first_port else None
    server = SandboxServer(host=host).start(emulators, ports)
    loaded = None
    if set(emulators) == {"commercetools", "lightspeed_x"}:
        world = build_world(seed)
        loaded = server.run(_load(world, server), timeout=120)
    return server, loaded


async def _load(world, server: SandboxServer):
    ct_emu = _emulator(server, "commercetools")
    lsx_emu = _emulator(server, "lightspeed_x")
    async with httpx.AsyncClient(base_url=server.base_url("commercetools"), timeout=30) as ct, \
            httpx.AsyncClient(base_url=server.base_url("lightspeed_x"), timeout=30) as lsx:
        loaded = await load_world(world, ct, ct_emu.credentials(server.base_url("commercetools")), lsx, lsx_emu)
    loaded.world = world
    return loaded


async def _play(day, loaded, server: SandboxServer):
    async with httpx.AsyncClient(base_url=server.base_url("commercetools"), timeout=30) as ct, \
            httpx.AsyncClient(base_url=server.base_url("lightspeed_x"), timeout=30) as lsx:
        return await play_day(day, loaded, ct, lsx, _emulator(server, "lightspeed_x"))


def back_office_edits(world, seed: int, edits: int = 3) -> list[tuple[str, str, int]]:
    """(sku, store, units) the back office will add in commercetools only: one edit per store."""
    rng = random.Random(seed)
    done = []
    for store in rng.sample([s.key for s in world.stores], min(edits, len(world.stores))):
        done.append((rng.choice(world.variants).sku, store, rng.choice((2, 3, 5))))
    return done


async def _back_office(loaded, server: SandboxServer, edits: list[tuple[str, str, int]]) -> list[int]:
    """Hand edits in commercetools that no till knows of: the drift the reconciliation must find.
    Returns each edited entry's new count."""
    async with httpx.AsyncClient(base_url=server.base_url("commercetools"), timeout=30) as ct:
        storefront = CommercetoolsLoader(ct, loaded.ct_credentials, loaded.channel_ids)
        return [await storefront.clerk_adjusts_inventory(sku, store, units) for sku, store, units in edits]


def _emulator(server: SandboxServer, system: str):
    return next(s.emulator for s in server.served if s.system == system)


def write_config(path: Path, server: SandboxServer, loaded, correction: dict[str, str] | None = None) -> None:
    ct_credentials = _emulator(server, "commercetools").credentials(server.base_url("commercetools"))
    lsx_credentials = _emulator(server, "lightspeed_x").credentials(server.base_url("lightspeed_x"))
    config = {
        "pos": "lightspeed_x",
        "systems": {
            "commercetools": {
                "api_url": ct_credentials["api_url"],
                "auth_url": ct_credentials["auth_url"],
                "project_key": ct_credentials["project_key"],
            },
            "lightspeed_x": {
                "base_url": lsx_credentials["base_url"],
                "domain_prefix": lsx_credentials["domain_prefix"],
                "registers": max(1, len(getattr(loaded, "register_ids", {}) or {}) or 1),
            },
        },
        "locations": loaded.location_map,
        "returns": {"reason_codes": {"size": "wrong-size", "damaged": "damaged", "changed_mind": "changed-mind"}},
    }
    if correction:
        config["reconciliation"] = {"correction": correction}
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def demo_environment(data_dir: Path, server: SandboxServer) -> dict[str, str]:
    ct_credentials = _emulator(server, "commercetools").credentials(server.base_url("commercetools"))
    lsx_credentials = _emulator(server, "lightspeed_x").credentials(server.base_url("lightspeed_x"))
    return {
        "OMNISYNC_CONFIG": str(data_dir / "omnisync.yaml"),
        "OMNISYNC_OPS_URL": f"sqlite:///{data_dir / 'ops.sqlite'}",
        "OMNISYNC_DUCKDB_PATH": str(data_dir / "omnisync.duckdb"),
        "OMNISYNC_CT_CLIENT_ID": ct_credentials["client_id"],
        "OMNISYNC_CT_CLIENT_SECRET": ct_credentials["client_secret"],
        "OMNISYNC_LSX_TOKEN": lsx_credentials["personal_token"],
        "DAGSTER_HOME": str((data_dir / "dagster_home").resolve()),
    }


def run_demo(seed: int, fault_rate: float, data_dir: str, echo: Callable[[str], None] = print) -> int:
    from omnisync_pipelines.demo_report import converged, print_summary
    from omnisync_pipelines.runs import run_job

    started = time.monotonic()
    data = Path(data_dir)
    for name in ("omnisync.duckdb", "omnisync.duckdb.wal", "ops.sqlite", "ops.sqlite-wal", "ops.sqlite-shm", "omnisync.yaml"):
        (data / name).unlink(missing_ok=True)
    shutil.rmtree(data / "dagster_home", ignore_errors=True)
    (data / "dagster_home").mkdir(parents=True, exist_ok=True)
    instance_yaml = Path(__file__).parent.parent / "dagster.yaml"
    if instance_yaml.exists():
        shutil.copy(instance_yaml, data / "dagster_home" / "dagster.yaml")

    def step(text: str) -> None:
        echo(f"[{time.monotonic() - started:6.1f}s] {text}")

    step(f"building the sandbox world (seed {seed}) and starting the emulators")
    server, loaded = start_sandbox(seed)
    try:
        for served in server.served:
            step(f"  {served.system} emulator at {served.base_url}")
        # the demo retailer trusts its tills: drift found in commercetools is set back to the POS count,
        # except at one store the back office edits, left on report_only so its drift stays for an analyst
        edits = back_office_edits(loaded.world, seed)
        watched = edits[0][1]
        write_config(data / "omnisync.yaml", server, loaded,
                     correction={store.key: "report_only" if store.key == watched else "correct_to_pos"
                                 for store in loaded.world.stores})
        os.environ.update(demo_environment(data, server))
        for served in server.served:
            served.emulator.faults.configure(FaultPlan.uniform(fault_rate, seed=seed))

        step("full_sync: first alignment of both systems")
        outcomes = [_run_until_clean("full_sync", run_job, step)]
        step("playing one trading day at the stores and online")
        with _faults_paused(server):
            report = server.run(_play(trading_day(loaded.world, seed, day=1), loaded, server), timeout=300)
            step(f"  {report.summary() if hasattr(report, 'summary') else report}")
            for (sku, store, units), now in zip(edits, server.run(_back_office(loaded, server, edits)), strict=True):
                policy = "report_only: reported, left for an operator" if store == watched else "correct_to_pos"
                step(f"  back office: {units:+d} x {sku} at {store} in commercetools only (now {now}; {policy})")
        step("delta_sync: what changed since the cursors; drift found is corrected to the POS count where configured")
        outcomes.append(_run_until_clean("delta_sync", run_job, step))
        step("reconcile: both systems read fresh and compared once more")
        outcomes.append(_run_until_clean("reconcile", run_job, step))
        with _faults_paused(server):
            reported = {(sku, store): units for sku, store, units in edits if store == watched}
            ok = converged(data, report, echo=step, reported=reported)
        print_summary(data, outcomes, server, echo=echo)
        step(f"demo finished: {'converged' if ok else 'NOT converged'}")
        return 0 if ok else 1
    finally:
        server.stop()


def _run_until_clean(job: str, run_job, step):
    outcome = run_job(job)
    step(f"  {outcome.summary()}")
    runs = 1
    while not outcome.success and runs < MAX_CATCH_UP_RUNS:
        step("  a run failed; the next delta_sync resumes from the ledger and cursors")
        outcome = run_job("delta_sync")
        step(f"  {outcome.summary()}")
        runs += 1
    return outcome


class _faults_paused:
    """The world's own activity (tills, storefront) is not what faults are testing."""

    def __init__(self, server: SandboxServer):
        self.server = server
        self.saved: list[dict] = []

    def __enter__(self):
        for served in self.server.served:
            plan = served.emulator.faults
            self.saved.append(FaultPlan().configure(plan))
            plan.clear()
        return self

    def __exit__(self, *exc):
        for served, saved in zip(self.server.served, self.saved, strict=True):
            served.emulator.faults.configure(saved)
