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

from omnisync_pipelines import systems as registry
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.faults import FaultPlan
from omnisync_pipelines.sandbox.loader import (
    LoadedWorld,
    PlayReport,
    assign_stores,
    expected_pos_stock,
    load_world,
    play_day,
    play_events,
    switch_store,
)
from omnisync_pipelines.sandbox.loader_commercetools import CommercetoolsLoader
from omnisync_pipelines.sandbox.scenario import build_world, trading_day
from omnisync_pipelines.sandbox.serve import SandboxServer

MAX_CATCH_UP_RUNS = 5
COMMERCETOOLS = registry.COMMERCETOOLS


class UnknownSystems(ValueError):
    """Systems asked for that the sandbox cannot serve; the message names the ones it can."""


def servable_systems() -> tuple[str, ...]:
    """commercetools and every registered POS that has an emulator."""
    return (COMMERCETOOLS, *servable_pos())


def servable_pos() -> tuple[str, ...]:
    return tuple(pos for pos in registry.pos_ids() if registry.sandbox_plugin(pos) is not None)


def check_systems(asked, pos_only: bool = False) -> None:
    """Raises `UnknownSystems` naming what the sandbox serves when `asked` holds anything else."""
    known = servable_pos() if pos_only else servable_systems()
    unknown = [s for s in asked if s not in known] or ([] if asked else [""])
    if unknown:
        what = "POS" if pos_only else "system" + ("s" if len(unknown) > 1 else "")
        raise UnknownSystems(f"unknown {what} {', '.join(map(repr, unknown))}; registered: {', '.join(known)}")


def start_sandbox(seed: int, host: str = "127.0.0.1", first_port: int = 0, systems: list[str] | None = None,
                  pos: tuple[str, ...] = (registry.DEFAULT_POS,), world=None,
                  installed: dict[str, str] | None = None) -> tuple[SandboxServer, LoadedWorld]:
    """Emulators on sockets with the seeded world loaded into whichever are served; returns (server,
    loaded world). `systems` default: commercetools and `pos`; the stores are spread over the POS
    served in turn. `world` default: the seeded demo world. `installed`: store -> a second POS already
    installed there (see `loader.switch_store`)."""
    if not systems:
        check_systems(pos, pos_only=True)
    served = list(dict.fromkeys(systems or (COMMERCETOOLS, *pos)))
    check_systems(served)
    emulators = {system: (CommercetoolsEmulator(seed=seed) if system == COMMERCETOOLS
                          else registry.sandbox_plugin(system).emulator(seed)) for system in served}
    ports = {system: first_port + i for i, system in enumerate(emulators)} if first_port else None
    server = SandboxServer(host=host).start(emulators, ports)
    try:
        loaded = server.run(load_served(world or build_world(seed), server, installed=installed), timeout=120)
    except BaseException:
        server.stop()
        raise
    return server, loaded


def served_pos(server: SandboxServer) -> list[str]:
    """The POS the server runs emulators of, in the order served."""
    return [s.system for s in server.served if s.system != COMMERCETOOLS]


def pos_sides(server: SandboxServer, clients: dict[str, httpx.AsyncClient]) -> dict:
    return {pos: (clients[pos], emulator_of(server, pos)) for pos in served_pos(server)}


class _Clients:
    """One httpx client per served system, for the duration of a load or a play."""

    def __init__(self, server: SandboxServer):
        self.clients = {s.system: httpx.AsyncClient(base_url=s.base_url, timeout=30) for s in server.served}

    async def __aenter__(self) -> dict[str, httpx.AsyncClient]:
        return self.clients

    async def __aexit__(self, *exc) -> None:
        for client in self.clients.values():
            await client.aclose()


async def load_served(world, server: SandboxServer, store_pos: dict[str, str] | None = None,
                      installed: dict[str, str] | None = None) -> LoadedWorld:
    async with _Clients(server) as clients:
        ct = clients.get(COMMERCETOOLS)
        ct_credentials = emulator_of(server, COMMERCETOOLS).credentials(server.base_url(COMMERCETOOLS)) if ct else {}
        return await load_world(world, ct, ct_credentials, pos_sides(server, clients), store_pos, installed)


async def play_served(day, loaded: LoadedWorld, server: SandboxServer) -> PlayReport:
    """A trading day: online orders in commercetools, each till event at the POS of its store."""
    async with _Clients(server) as clients:
        return await play_day(day, loaded, clients[COMMERCETOOLS], pos_sides(server, clients))


async def play_at_tills(events: list, loaded: LoadedWorld, server: SandboxServer) -> None:
    """Till events (sales, returns, ...), in order, each at the POS of its store."""
    async with _Clients(server) as clients:
        await play_events(events, loaded, pos_sides(server, clients))


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
    async with httpx.AsyncClient(base_url=server.base_url(COMMERCETOOLS), timeout=30) as ct:
        storefront = CommercetoolsLoader(ct, loaded.ct_credentials, loaded.channel_ids)
        return [await storefront.clerk_adjusts_inventory(sku, store, units) for sku, store, units in edits]


def emulator_of(server: SandboxServer, system: str):
    return next(s.emulator for s in server.served if s.system == system)


def write_config(path: Path, server: SandboxServer, loaded: LoadedWorld, correction: dict[str, str] | None = None) -> None:
    """The configuration file of a deployment against the served emulators. One POS: it is the
    top-level `pos`; several: each location names its own."""
    ct_credentials = emulator_of(server, COMMERCETOOLS).credentials(server.base_url(COMMERCETOOLS))
    pos_ids = [pos for pos in served_pos(server) if pos in loaded.pos]
    single = pos_ids[0] if len(pos_ids) == 1 else None
    config = {"pos": single} if single else {}
    config["systems"] = {
        COMMERCETOOLS: {key: ct_credentials[key] for key in ("api_url", "auth_url", "project_key")},
        **{pos: registry.sandbox_plugin(pos).system_block(server.base_url(pos), emulator_of(server, pos)) for pos in pos_ids},
    }
    config["locations"] = [{k: v for k, v in location.items() if not (single and k == "pos")}
                           for location in loaded.location_map]
    config["returns"] = {"reason_codes": {"size": "wrong-size", "damaged": "damaged", "changed_mind": "changed-mind"}}
    if correction:
        config["reconciliation"] = {"correction": correction}
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def demo_environment(data_dir: Path, server: SandboxServer) -> dict[str, str]:
    ct_credentials = emulator_of(server, COMMERCETOOLS).credentials(server.base_url(COMMERCETOOLS))
    environment = {
        "OMNISYNC_CONFIG": str(data_dir / "omnisync.yaml"),
        "OMNISYNC_OPS_URL": f"sqlite:///{data_dir / 'ops.sqlite'}",
        "OMNISYNC_DUCKDB_PATH": str(data_dir / "omnisync.duckdb"),
        "OMNISYNC_CT_CLIENT_ID": ct_credentials["client_id"],
        "OMNISYNC_CT_CLIENT_SECRET": ct_credentials["client_secret"],
        # the emulators are local: a step that failed on an injected fault is retried seconds later
        "OMNISYNC_STEP_RETRY_DELAY_S": "3",
    }
    for pos in served_pos(server):
        environment.update(registry.sandbox_plugin(pos).environment(server.base_url(pos), emulator_of(server, pos)))
    environment["DAGSTER_HOME"] = str((data_dir / "dagster_home").resolve())
    return environment


def run_demo(seed: int, fault_rate: float, data_dir: str, echo: Callable[[str], None] = print,
             pos: tuple[str, ...] = (registry.DEFAULT_POS,)) -> int:
    from omnisync_pipelines.demo_report import converged, print_summary
    from omnisync_pipelines.runs import prepare_dagster_home, run_job

    started = time.monotonic()
    data = Path(data_dir)
    for name in ("omnisync.duckdb", "omnisync.duckdb.wal", "ops.sqlite", "ops.sqlite-wal", "ops.sqlite-shm", "omnisync.yaml"):
        (data / name).unlink(missing_ok=True)
    shutil.rmtree(data / "dagster_home", ignore_errors=True)
    prepare_dagster_home(data / "dagster_home")

    def step(text: str) -> None:
        echo(f"[{time.monotonic() - started:6.1f}s] {text}")

    step(f"building the sandbox world (seed {seed}) and starting the emulators")
    world = build_world(seed)
    moving = store_to_move(world, pos)  # a mixed estate: one store moves to the next POS mid-demo
    server, loaded = start_sandbox(seed, pos=pos, world=world, installed=dict([moving]) if moving else None)
    try:
        for served in server.served:
            step(f"  {served.system} emulator at {served.base_url}")
        if len(pos) > 1:
            step("  stores: " + ", ".join(f"{store} on {at}" for store, at in loaded.store_pos.items()))
        # the demo retailer trusts its tills: drift found in commercetools is set back to the POS count,
        # except at one store the back office edits, left on report_only so its drift stays for an analyst
        edits = back_office_edits(loaded.world, seed)
        watched = edits[0][1]
        correction = {store.key: "report_only" if store.key == watched else "correct_to_pos"
                      for store in loaded.world.stores}
        write_config(data / "omnisync.yaml", server, loaded, correction=correction)
        os.environ.update(demo_environment(data, server))
        for served in server.served:
            served.emulator.faults.configure(FaultPlan.uniform(fault_rate, seed=seed))

        step("full_sync: first alignment of both systems")
        outcomes = [_run_until_clean("full_sync", run_job, step)]
        step("playing one trading day at the stores and online")
        days = [trading_day(loaded.world, seed, day=1)]
        with _faults_paused(server):
            report = server.run(play_served(days[0], loaded, server), timeout=300)
            step(f"  {report.summary()}")
            for (sku, store, units), now in zip(edits, server.run(_back_office(loaded, server, edits)), strict=True):
                policy = "report_only: reported, left for an operator" if store == watched else "correct_to_pos"
                step(f"  back office: {units:+d} x {sku} at {store} in commercetools only (now {now}; {policy})")
        step("delta_sync: what changed since the cursors; drift found is corrected to the POS count where configured")
        outcomes.append(_run_until_clean("delta_sync", run_job, step))
        if moving:
            store, to_pos = moving
            step(f"store switch: {store} moves from {loaded.store_pos[store]} to {to_pos}")
            with _faults_paused(server):
                counted = switch_store(loaded, store, to_pos, {p: emulator_of(server, p) for p in pos})
            step(f"  staff counted {counted} units into the new tills; the configuration names {to_pos} for {store}")
            write_config(data / "omnisync.yaml", server, loaded, correction=correction)
            step("playing a second trading day, the moved store on its new tills")
            days.append(trading_day(loaded.world, seed, day=2))
            with _faults_paused(server):
                second = server.run(play_served(days[1], loaded, server), timeout=300)
            step(f"  {second.summary()}")
            report = PlayReport(report.posted + second.posted, expected_pos_stock(loaded.world, days))
            step("delta_sync: the new tills' first count aligns commercetools; the old POS no longer covers the store")
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


def store_to_move(world, pos: tuple[str, ...]) -> tuple[str, str] | None:
    """With several POS, the last store of the first POS moves to the second (the chain's migration)."""
    if len(pos) < 2:
        return None
    on_first = [store for store, at in assign_stores(world, pos).items() if at == pos[0]]
    return (on_first[-1], pos[1]) if len(on_first) > 1 else None


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
