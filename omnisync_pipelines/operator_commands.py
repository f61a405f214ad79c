"""What `omnisync rejected retry|release` and `omnisync fastlane run` do, behind the CLI's options."""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import signal
import threading
from collections.abc import Callable

from omnisync_pipelines.store.ops import OpsStore


def actor_name(given: str | None) -> str:
    if given:
        return given
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "operator")


def retry_rejected(ids: list[int], flow: str | None, actor: str, reason: str | None, echo: Callable[[str], None]) -> bool:
    """Queue the records, then run `reprocess_rejected` as a real Dagster run (DAGSTER_HOME)."""
    from omnisync_pipelines.engine.reprocess import queue_retry
    from omnisync_pipelines.runs import QUIET, dagster_instance, load_definitions

    queued = queue_retry(OpsStore.from_url(), ids=ids or None, flow=flow, actor=actor, reason=reason)
    if not queued:
        echo("nothing to retry: no open or held record matches (released and resolved records are never retried)")
        return True
    echo(f"queued {len(queued)} rejected records for retry: {', '.join(map(str, queued))}")
    instance = dagster_instance()  # without one the records stay queued for the next reprocess_rejected run
    job = load_definitions().resolve_job_def("reprocess_rejected")
    run_config = {**QUIET, "ops": {"reprocess_rejected_records": {"config": {"actor": actor}}}}
    with instance:
        result = job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False)
    if not result.success:
        echo(f"reprocess_rejected FAILED (run {result.run_id[:8]}); the records stay queued")
        return False
    outcome = result.output_for_node("reprocess_rejected_records")
    echo(f"reprocess_rejected succeeded (run {result.run_id[:8]}): {len(outcome['applied'])} applied "
         f"{outcome['applied']}, {len(outcome['still_rejected'])} still rejected {outcome['still_rejected']}, "
         f"{len(outcome['unsupported'])} left to their flow's next run")
    return True


def run_fast_lane_forever(poll_s: float, once: bool, echo: Callable[[str], None]) -> None:
    """Secrets from OMNISYNC_CT_CLIENT_ID / OMNISYNC_CT_CLIENT_SECRET and the X-Series personal token
    or OAuth variables (`connectors.lightspeed_x.credentials`)."""
    from omnisync_pipelines.config import load_config
    from omnisync_pipelines.connectors.lightspeed_x.credentials import secrets_from_env
    from omnisync_pipelines.engine.fast_lane import drain_inbox, open_fast_lane, run_fast_lane
    from omnisync_pipelines.store.inbox import Inbox
    from omnisync_pipelines.store.ops import CallLogBuffer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ops = OpsStore.from_url()
    config = load_config(os.environ.get("OMNISYNC_CONFIG", "omnisync.yaml"))
    secrets = {
        "commercetools": {"client_id": os.environ["OMNISYNC_CT_CLIENT_ID"], "client_secret": os.environ["OMNISYNC_CT_CLIENT_SECRET"]},
        "lightspeed_x": secrets_from_env(),
    }
    stop = threading.Event()
    if not once:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    call_log = CallLogBuffer(ops, batch=20)

    async def main() -> None:
        async with open_fast_lane(config, secrets, ops, call_log=call_log) as lane:
            if once:
                batch = await drain_inbox(lane, Inbox(ops))
                echo(batch.summary() if batch else "fast lane: no unprocessed events")
                return
            echo(f"fast lane: applying X-Series stock events from the inbox every {poll_s:g}s until stopped")
            await run_fast_lane(lane, Inbox(ops), poll_s=poll_s, stop=stop.is_set, on_batch=lambda _: call_log.flush())

    try:
        asyncio.run(main())
    finally:
        call_log.flush()
