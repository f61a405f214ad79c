"""What `omnisync rejected retry|release` and `omnisync fastlane run` do, behind the CLI's options."""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from omnisync_pipelines.store.ops import OpsStore


class OpsStoreMissing(Exception):
    """The operational store a command would read does not exist (wrong folder, or OMNISYNC_OPS_URL unset)."""


def existing_ops_store() -> OpsStore:
    """The operational store of `OMNISYNC_OPS_URL`; a SQLite file that is not there is an operator's
    mistake (run from another folder), not an empty store to create and report nothing from."""
    from sqlalchemy import make_url

    from omnisync_pipelines.store.ops import DEFAULT_OPS_URL, ops_url_from_env

    url = ops_url_from_env()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.exists():
            named = "OMNISYNC_OPS_URL" if os.environ.get("OMNISYNC_OPS_URL") else f"OMNISYNC_OPS_URL unset, default {DEFAULT_OPS_URL}"
            raise OpsStoreMissing(f"no operational store at {path.resolve()} ({named}): run from the deployment's "
                                  "folder or set OMNISYNC_OPS_URL to its store")
    return OpsStore.from_url(url)


def rejected_table(frame, width: int = 60) -> str:
    """The rejected records as a table a terminal shows: one line each, long reasons cut to `width`."""
    from tabulate import tabulate

    rows = [[r.id, r.flow, r.record_ref, r.field, _cut(r.reason, width), r.status, r.attempts,
             r.updated_at.strftime("%Y-%m-%d %H:%M") if r.updated_at is not None else ""]
            for r in frame.itertuples()]
    return tabulate(rows, headers=["id", "flow", "record", "field", "reason", "status", "attempts", "updated (UTC)"],
                    tablefmt="simple")


def _cut(text: str | None, width: int) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def actor_name(given: str | None) -> str:
    if given:
        return given
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "operator")


def retry_rejected(ids: list[int], flow: str | None, actor: str, reason: str | None, echo: Callable[[str], None],
                   ops: OpsStore | None = None) -> bool:
    """Queue the records, then run `reprocess_rejected` as a real Dagster run (DAGSTER_HOME)."""
    from omnisync_pipelines.engine.reprocess import queue_retry
    from omnisync_pipelines.runs import dagster_instance, run_job

    queued = queue_retry(ops or OpsStore.from_url(), ids=ids or None, flow=flow, actor=actor, reason=reason)
    if not queued:
        echo("nothing to retry: no open or held record matches (released and resolved records are never retried)")
        return True
    echo(f"queued {len(queued)} rejected records for retry: {', '.join(map(str, queued))}")
    instance = dagster_instance()  # without one the records stay queued for the next reprocess_rejected run
    run_config = {"ops": {"reprocess_rejected_records": {"config": {"actor": actor}}}}
    with instance:
        result = run_job("reprocess_rejected", instance=instance, run_config=run_config)
    if not result.success:
        echo(f"reprocess_rejected FAILED (run {result.run_id[:8]}); the records stay queued")
        return False
    outcome = result.outputs["reprocess_rejected_records"]["record_ids"]
    echo(f"reprocess_rejected succeeded (run {result.run_id[:8]}): {len(outcome['applied'])} applied "
         f"{outcome['applied']}, {len(outcome['still_rejected'])} still rejected {outcome['still_rejected']}, "
         f"{len(outcome['unsupported'])} left to their flow's next run")
    return True


def secrets_from_env(config, env=os.environ) -> dict[str, dict]:
    """Each system's secrets, read from the environment as the Dagster resources read them: commercetools
    from OMNISYNC_CT_CLIENT_ID / OMNISYNC_CT_CLIENT_SECRET, each configured POS through its plugin."""
    from omnisync_pipelines.systems import pos_plugin

    def required(name: str) -> str:
        if not env.get(name):
            raise KeyError(name)
        return env[name]

    secrets = {"commercetools": {"client_id": required("OMNISYNC_CT_CLIENT_ID"),
                                 "client_secret": required("OMNISYNC_CT_CLIENT_SECRET")}}
    for pos in config.pos_systems:
        secrets[pos] = pos_plugin(pos).secrets_from_env(env)
    return secrets


def register_webhooks(url: str, types: list[str] | None, pos: str | None, echo: Callable[[str], None],
                      env=os.environ) -> int:
    """`omnisync webhooks register`: each configured POS with webhooks (or `pos`) subscribes the receiver."""
    from omnisync_pipelines.config import ConfigError, load_config
    from omnisync_pipelines.systems import UnknownSystem, pos_plugin

    try:
        wanted = [pos] if pos else list(load_config(env.get("OMNISYNC_CONFIG", "omnisync.yaml")).pos_systems)
        plugins = [pos_plugin(name) for name in wanted]
    except (ConfigError, UnknownSystem) as exc:
        echo(str(exc))
        return 2
    with_hooks = [p for p in plugins if p.webhooks is not None and p.webhooks.register is not None]
    if not with_hooks:
        echo(f"{', '.join(wanted)}: no webhooks to register (polled by the delta runs instead)")
        return 2
    codes = []
    for plugin in with_hooks:
        echo(f"{plugin.system}:")
        codes.append(plugin.webhooks.register(url, types, echo, env=env))
    return max(codes)


def run_fast_lane_forever(poll_s: float, once: bool, echo: Callable[[str], None]) -> None:
    """Secrets from the environment (`secrets_from_env`); one lane per configured POS that has one."""
    from omnisync_pipelines.config import ConfigError, load_config
    from omnisync_pipelines.engine.fast_lane import (
        drain_inboxes,
        lane_systems,
        open_fast_lanes,
        run_fast_lanes,
    )
    from omnisync_pipelines.store.inbox import Inbox
    from omnisync_pipelines.store.ops import CallLogBuffer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ops = OpsStore.from_url()
    try:
        config = load_config(os.environ.get("OMNISYNC_CONFIG", "omnisync.yaml"))
        if not lane_systems(config):
            raise SystemExit(f"no configured POS has a fast lane ({', '.join(config.pos_systems)}: their delta runs poll)")
        secrets = secrets_from_env(config)
    except ConfigError as exc:
        raise SystemExit(str(exc)) from None
    except KeyError as exc:
        raise SystemExit(f"environment variable {exc.args[0]} is not set: the fast lane needs every configured "
                         "system's secrets") from None
    stop = threading.Event()
    if not once:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    call_log = CallLogBuffer(ops, batch=20)

    async def main() -> None:
        async with open_fast_lanes(config, secrets, ops, call_log=call_log) as lanes:
            if once:
                batches = await drain_inboxes(lanes, Inbox(ops))
                echo("\n".join(b.summary() for b in batches) if batches else "fast lane: no unprocessed events")
                return
            echo(f"fast lane: applying {', '.join(lane.pos_system for lane in lanes)} stock events from the inbox "
                 f"every {poll_s:g}s until stopped")
            await run_fast_lanes(lanes, Inbox(ops), poll_s=poll_s, stop=stop.is_set, on_batch=lambda _: call_log.flush())

    try:
        asyncio.run(main())
    finally:
        call_log.flush()
