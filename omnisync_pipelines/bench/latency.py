"""Benchmark 3, latency: webhook accepted -> commercetools inventory updated, p50/p99, fast lane
(`engine/fast_lane.py`, its polling loop running) vs the sensor lane (inbox sensor tick + the
`event_sync` run it requests), both against the sandbox emulators over loopback sockets.

Each sample is one till sale at the POS emulator; its webhook is delivered to the receiver (ASGI,
in process) and the clock starts when the receiver has answered 2xx; it stops when the fast lane
reports the batch applied, or when the event_sync run has finished. Targets: fast lane p99 ≤ 1 s,
sensor lane ≤ 30 s. A deployed sensor lane also waits for the events to settle
(OMNISYNC_INBOX_SETTLE_S, default 5 s) and for the next tick (every 30 s): added to the figures.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from omnisync_pipelines import systems
from omnisync_pipelines.bench.pos_hooks import connector_bench, emulator_bench
from omnisync_pipelines.bench.results import BenchResult, ratio
from omnisync_pipelines.bench.runner import Gap
from omnisync_pipelines.systems import COMMERCETOOLS, DEFAULT_POS

SECRET = "bench-secret"
RECEIVER = "http://receiver"
TICK_INTERVAL_S, SETTLE_S = 30, 5.0


@contextmanager
def _environment(env: dict):
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _Sandbox:
    """Both emulators on loopback sockets with a small world loaded, the deployment's configuration
    and environment written as the demo writes them, and the POS's bench hooks for its webhooks."""

    def __init__(self, data_dir: Path, pos: str, seed: int = 5):
        from omnisync_pipelines.demo import demo_environment, load_served, write_config
        from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
        from omnisync_pipelines.sandbox.scenario import build_world
        from omnisync_pipelines.sandbox.serve import SandboxServer

        self.pos, self.sandbox, self.hooks = pos, systems.sandbox_plugin(pos), emulator_bench(pos)
        self.ct, self.emulator = CommercetoolsEmulator(seed=seed), self.sandbox.emulator(seed=seed)
        self.server = SandboxServer().start({COMMERCETOOLS: self.ct, pos: self.emulator})
        self.world = build_world(seed, stores=2, products=3, customers=6)
        self.loaded = self.server.run(load_served(self.world, self.server), timeout=60)
        write_config(data_dir / "omnisync.yaml", self.server, self.loaded)
        self.env = {**demo_environment(data_dir, self.server), "OMNISYNC_INBOX_SETTLE_S": "0"}

    def ops(self):
        from omnisync_pipelines.store.ops import OpsStore

        return OpsStore.from_url(self.env["OMNISYNC_OPS_URL"])

    async def subscribe(self) -> None:
        async with httpx.AsyncClient(base_url=self.server.base_url(self.pos), timeout=30) as api:
            await self.hooks.subscribe(api, self.emulator, f"{RECEIVER}/webhooks/{self.pos}", SECRET)

    async def sell(self, index: int) -> None:
        """One unit of a variant sold at a till (played by the POS's sandbox plugin, as a day's sale)."""
        from omnisync_pipelines.sandbox.world import Sale, SaleLine

        variant = self.world.variants[index % len(self.world.variants)]
        store = self.world.stores[index % len(self.world.stores)]
        price = variant.price_at(store)
        sale = Sale(f"bench-{uuid.uuid4().hex[:8]}", datetime.now(UTC), store.key, (SaleLine(variant.sku, 1, price),),
                    (("cash", price),))
        async with httpx.AsyncClient(base_url=self.server.base_url(self.pos), timeout=30) as till:
            await self.sandbox.play([sale], self.loaded.pos[self.pos], self.world, till, self.emulator)

    async def deliver(self) -> float:
        """Delivers the queued webhooks; returns the moment the receiver had accepted them."""
        from omnisync_pipelines.store.inbox import Inbox
        from omnisync_pipelines.webhooks import create_webhook_app

        receiver = create_webhook_app(Inbox(self.ops()), {self.pos: SECRET})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(receiver), base_url=RECEIVER) as client:
            if await self.hooks.deliver_webhooks(self.emulator, client) < 1:
                raise RuntimeError("no webhook was delivered for the sale")
        return time.perf_counter()


def _percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"samples": len(samples), "p50_ms": round(statistics.median(ordered) * 1000, 1), "p99_ms": round(p99 * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


async def _fast_lane_samples(box: _Sandbox, count: int) -> list[float]:
    from omnisync_pipelines.config import load_config
    from omnisync_pipelines.engine.fast_lane import open_fast_lane, run_fast_lane
    from omnisync_pipelines.store.inbox import Inbox

    env = box.env
    secrets = {COMMERCETOOLS: {"client_id": env["OMNISYNC_CT_CLIENT_ID"], "client_secret": env["OMNISYNC_CT_CLIENT_SECRET"]},
               box.pos: systems.pos_plugin(box.pos).secrets_from_env(env)}
    ops = box.ops()
    applied: asyncio.Queue = asyncio.Queue()
    stop = False
    samples = []
    async with open_fast_lane(load_config(env["OMNISYNC_CONFIG"]), secrets, ops, pos=box.pos) as lane:
        loop = asyncio.create_task(run_fast_lane(
            lane, Inbox(ops), poll_s=0.05, stop=lambda: stop,
            on_batch=lambda batch: applied.put_nowait((time.perf_counter(), batch)),
        ))
        try:
            for index in range(count):
                await box.sell(index)
                accepted = await box.deliver()
                while True:
                    at, batch = await asyncio.wait_for(applied.get(), timeout=30)
                    if batch.stats is not None and batch.stats.applied:
                        break
                samples.append(at - accepted)
        finally:
            stop = True
            await loop
    return samples


def _sensor_lane_samples(box: _Sandbox, count: int, instance) -> list[float]:
    import dagster as dg

    from omnisync_pipelines.defs.events import inbox_sensor
    from omnisync_pipelines.defs.resources import OmnisyncResource
    from omnisync_pipelines.runs import QUIET, load_definitions
    from omnisync_pipelines.store.inbox import Inbox

    env = box.env
    resource = OmnisyncResource(config_path=env["OMNISYNC_CONFIG"], ops_url=env["OMNISYNC_OPS_URL"],
                                duckdb_path=env["OMNISYNC_DUCKDB_PATH"])
    job = load_definitions().resolve_job_def("event_sync")
    cursor = str(Inbox(box.ops()).last_id())
    samples = []
    for index in range(count):
        box.server.run(box.sell(100 + index))
        accepted = box.server.run(box.deliver())
        # exited at once: an open context would keep the instance it opened current for Dagster's loads
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"omnisync": resource}) as context:
            result = inbox_sensor(context)
        if not result.run_requests:
            raise RuntimeError(f"the inbox sensor requested no run: {result.skip_reason}")
        for request in result.run_requests:
            run = job.execute_in_process(instance=instance, run_config=QUIET, raise_on_error=False,
                                         tags={**request.tags, "dagster/run_key": request.run_key})
            if not run.success:
                raise RuntimeError("the event_sync run failed")
        samples.append(time.perf_counter() - accepted)
        cursor = result.cursor
    return samples


def run(quick: bool = False, pos: str = DEFAULT_POS) -> list[BenchResult]:
    import dagster as dg

    from omnisync_pipelines.runs import run_job

    if not systems.pos_plugin(pos).capabilities.fast_lane:
        raise Gap(f"{pos} has no fast lane (its changes are polled by delta runs)")
    live_read = connector_bench(pos).notes["live_read"]
    fast_count, sensor_count = (5, 1) if quick else (30, 3)
    with tempfile.TemporaryDirectory(prefix="omnisync-bench-latency-") as tmp:
        box = _Sandbox(Path(tmp), pos)
        try:
            with _environment(box.env), dg.instance_for_test() as instance:
                outcome = run_job("full_sync", instance=instance)
                if not outcome.success:
                    raise RuntimeError(outcome.summary())
                box.server.run(box.subscribe())
                fast = _percentiles(box.server.run(_fast_lane_samples(box, fast_count), timeout=300))
                sensor = _percentiles(_sensor_lane_samples(box, sensor_count, instance))
        finally:
            box.server.stop()
    sensor["deployed_adds_s"] = f"settle {SETTLE_S:g} + up to the {TICK_INTERVAL_S} s tick interval"
    return [BenchResult(
        name="latency",
        title="latency webhook accepted -> commercetools inventory updated",
        figures={"lane": "fast lane (poll 50 ms)", **fast},
        baseline={"lane": "sensor lane (tick + event_sync run, settle 0)", **sensor},
        ratio=ratio(sensor["p50_ms"], fast["p50_ms"]),
        ratio_meaning="sensor-lane p50 / fast-lane p50",
        target="fast lane p99 ≤ 1 s on loopback emulators; sensor lane ≤ 30 s",
        met=None if quick else fast["p99_ms"] <= 1000 and sensor["p99_ms"] <= 30_000,
        bounds=f"fast lane: the inbox poll interval plus {live_read} and one commercetools "
               "write per changed count; sensor lane: Dagster run start-up and the event_sync assets, then settle "
               "and tick interval when deployed",
    )]
