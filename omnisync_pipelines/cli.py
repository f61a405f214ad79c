"""`omnisync`: the demo, the sandbox, syncs and operator commands."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from omnisync_pipelines import systems
from omnisync_pipelines.live_sandbox import sandbox_ui
from omnisync_pipelines.store.tables import REJECTED_STATUSES

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Keep commercetools and your POS telling the same truth.")
sandbox_app = typer.Typer(no_args_is_help=True, help="The sandbox: emulators of the public APIs.")
rejected_app = typer.Typer(no_args_is_help=True, help="Records that could not be mapped or applied.")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(rejected_app, name="rejected")
webhooks_app = typer.Typer(no_args_is_help=True, help="The webhook receiver.")
app.add_typer(webhooks_app, name="webhooks")
fastlane_app = typer.Typer(no_args_is_help=True, help="The low-latency stock lane beside Dagster.")
app.add_typer(fastlane_app, name="fastlane")


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the sandbox world and its trading day.")] = 7,
    faults: Annotated[float, typer.Option(help="Share of API calls that fail (5xx, 429, dropped) during syncs.")] = 0.0,
    data_dir: Annotated[str, typer.Option(help="Where the demo leaves its DuckDB, ops store and Dagster home.")] = "data",
    pos: Annotated[str | None, typer.Option(
        help=f"The POS the stores trade on (default {systems.DEFAULT_POS}); several, comma-separated: the stores "
             "are spread over them in turn.")] = None,
) -> None:
    """Fresh sandbox world -> full_sync -> one trading day -> delta_sync -> summary."""
    from omnisync_pipelines.demo import check_systems, run_demo

    pos_ids = tuple(dict.fromkeys(p.strip() for p in (pos or systems.DEFAULT_POS).split(",") if p.strip()))
    _check_systems(lambda asked: check_systems(asked, pos_only=True), pos_ids)
    raise typer.Exit(run_demo(seed=seed, fault_rate=faults, data_dir=data_dir, echo=typer.echo, pos=pos_ids))


def _check_systems(check, asked) -> None:
    """One short error naming the systems there are, exit 2 (no traceback)."""
    from omnisync_pipelines.demo import UnknownSystems

    try:
        check(asked)
    except UnknownSystems as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def sync(
    mode: Annotated[str, typer.Argument(help="full or delta")],
) -> None:
    """Run full_sync or delta_sync against the systems in the configuration file (OMNISYNC_CONFIG)."""
    if mode not in ("full", "delta"):
        raise typer.BadParameter("expected 'full' or 'delta'", param_hint="MODE")
    raise typer.Exit(_run_with_progress(f"{mode}_sync"))


@app.command()
def reconcile() -> None:
    """Compare both systems now (every reconciliation table, drift history) and say what was found."""
    raise typer.Exit(_run_with_progress("reconcile", findings=True))


def _run_with_progress(job: str, findings: bool = False) -> int:
    """Check the setup (exit 2 naming what to fix), run `job` showing progress, then say what it did."""
    import sys

    from omnisync_pipelines.preflight import SetupProblem, check_setup
    from omnisync_pipelines.run_report import RunProgress, closing_summary, reconcile_findings
    from omnisync_pipelines.runs import run_job

    try:
        check_setup()
    except SetupProblem as exc:
        typer.echo(f"Error: {exc}", err=True)
        return 2
    typer.echo(f"{job}: started (the run is recorded in the Dagster instance at $DAGSTER_HOME)")
    with RunProgress(typer.echo, live=sys.stderr.isatty()) as progress:
        result = run_job(job, on_event=progress)
    for line in closing_summary(result) + (reconcile_findings(result) if findings else []):
        typer.echo(line)
    return 0 if result.success else 1


@app.command()
def bench(
    quick: Annotated[bool, typer.Option("--quick", help="Small sizes (CI): checks the harness, not the speed.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout: one object per benchmark.")] = False,
    only: Annotated[list[str] | None, typer.Option(help="Run only this benchmark (repeatable).")] = None,
    pos: Annotated[str | None, typer.Option(help=f"The POS to benchmark (default {systems.DEFAULT_POS}).")] = None,
) -> None:
    """Performance and scale benchmarks, each against a baseline measured in the same run."""
    from omnisync_pipelines.bench.cli import main

    raise typer.Exit(main(quick=quick, as_json=as_json, only=only, echo=typer.echo, pos=pos))


@sandbox_app.command("serve")
def sandbox_serve(
    system: Annotated[list[str] | None, typer.Option(
        help=f"Serve this system (repeatable; default {systems.COMMERCETOOLS} and {systems.DEFAULT_POS}). The seeded "
             "world is loaded into whichever are served; the stores are spread over the POS served in turn.")] = None,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="First port; each further emulator takes the next one. 0 = any free port.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the world loaded into the emulators.")] = 7,
    config: Annotated[Path | None, typer.Option(
        help="Also write the configuration file of a deployment against these emulators (systems, and each "
             "store's location with its commercetools keys and POS location id), before the lines are printed.")] = None,
) -> None:
    """Serve the emulators (with a seeded world loaded) until stopped; one JSON line per emulator."""
    from omnisync_pipelines.demo import check_systems, start_sandbox, write_config

    asked = [name.strip() for value in system or [] for name in value.split(",") if name.strip()]
    if asked:
        _check_systems(check_systems, asked)
    if config is not None and asked and systems.COMMERCETOOLS not in asked:
        typer.echo(f"--config needs {systems.COMMERCETOOLS} served too: add --system {systems.COMMERCETOOLS}", err=True)
        raise typer.Exit(2)
    sandbox, loaded = start_sandbox(seed=seed, host=host, first_port=port, systems=asked or None)
    if config is not None:
        write_config(config, sandbox, loaded)
    for served in sandbox.served:
        typer.echo(json.dumps(served.describe()), nl=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    sandbox.stop()


sandbox_app.command("ui")(sandbox_ui)


REJECTED_STATUS_CHOICES = (*REJECTED_STATUSES, "all")


@rejected_app.command("list")
def rejected_list(
    status: Annotated[str, typer.Option(help="|".join(REJECTED_STATUS_CHOICES))] = "open",
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout: every column of each record, payload included.")] = False,
) -> None:
    """Show rejected records with their reasons."""
    from omnisync_pipelines.operator_commands import rejected_table

    if status not in REJECTED_STATUS_CHOICES:
        typer.echo(f"Error: --status {status!r} is not one of {'|'.join(REJECTED_STATUS_CHOICES)}", err=True)
        raise typer.Exit(2)
    frame = _existing_ops_store().rejected_frame(None if status == "all" else status)
    if as_json:
        typer.echo(frame.to_json(orient="records", date_format="iso", indent=1) if len(frame) else "[]")
        return
    if not len(frame):
        typer.echo(f"no {status} rejected records")
        return
    typer.echo(rejected_table(frame))


def _existing_ops_store():
    """The operational store, or one short error (exit 2) when the one it names does not exist."""
    from omnisync_pipelines.operator_commands import OpsStoreMissing, existing_ops_store

    try:
        return existing_ops_store()
    except OpsStoreMissing as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None


@rejected_app.command("retry")
def rejected_retry(
    id: Annotated[list[int] | None, typer.Option("--id", help="Rejected record id (repeatable).")] = None,
    flow: Annotated[str | None, typer.Option(help="Every open or held record of this flow.")] = None,
    by: Annotated[str | None, typer.Option(help="Who asks (default: the OS user); kept in the audit trail.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why, e.g. the fix that was made.")] = None,
) -> None:
    """Retry open or held rejected records after a fix (job reprocess_rejected); each outcome is audited."""
    from omnisync_pipelines.operator_commands import actor_name, retry_rejected

    if not id and not flow:
        raise typer.BadParameter("name records with --id N (repeatable) or --flow FLOW")
    ops = _existing_ops_store()
    raise typer.Exit(0 if retry_rejected(id or [], flow, actor_name(by), reason, typer.echo, ops=ops) else 1)


@rejected_app.command("release")
def rejected_release(
    id: Annotated[int, typer.Option("--id", help="Rejected record id.")],
    reason: Annotated[str, typer.Option(help="Why the record is let through; kept in the audit trail.")],
    by: Annotated[str | None, typer.Option(help="Who releases (default: the OS user).")] = None,
) -> None:
    """Let a held or open record through as it is (the next push applies it); it is never retried."""
    from omnisync_pipelines.engine.reprocess import NothingToDo, release
    from omnisync_pipelines.operator_commands import actor_name

    ops = _existing_ops_store()
    try:
        release(ops, id, actor=actor_name(by), reason=reason)
    except NothingToDo as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"released rejected record {id}")


@fastlane_app.command("run")
def fastlane_run(
    poll: Annotated[float, typer.Option(help="Seconds between inbox polls when idle.")] = 0.2,
    once: Annotated[bool, typer.Option(help="Drain the inbox once and exit.")] = False,
) -> None:
    """Apply each webhook POS's sales and stock events from the inbox to commercetools within about a second."""
    from omnisync_pipelines.operator_commands import run_fast_lane_forever

    run_fast_lane_forever(poll, once, typer.echo)


@webhooks_app.command("serve")
def webhooks_serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8090,
) -> None:
    """Receive webhooks into the inbox (secrets from OMNISYNC_WEBHOOK_SECRET_<SYSTEM>, store from OMNISYNC_OPS_URL)."""
    import logging

    import uvicorn

    from omnisync_pipelines.store.inbox import Inbox
    from omnisync_pipelines.store.ops import OpsStore
    from omnisync_pipelines.webhooks import create_webhook_app, secrets_from_env

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    secrets = secrets_from_env()
    if not secrets:
        typer.echo("no OMNISYNC_WEBHOOK_SECRET_<SYSTEM> set: every delivery will be refused", err=True)
    typer.echo(f"receiving webhooks for: {', '.join(sorted(secrets)) or 'none'} on http://{host}:{port}/webhooks/<system>")
    webhook_app = create_webhook_app(Inbox(OpsStore.from_url()), secrets)
    # uvicorn's access log prints the query string, which may carry a POS's webhook token: keep it off.
    uvicorn.run(webhook_app, host=host, port=port, access_log=False, log_level="info")


@webhooks_app.command("register")
def webhooks_register(
    url: Annotated[str, typer.Option(help="The receiver's public base URL (where `omnisync webhooks serve` is reached).")],
    types: Annotated[list[str] | None, typer.Option(
        help="Webhook types (repeatable or comma-separated); default: the ones omnisync acts on.")] = None,
    pos: Annotated[str | None, typer.Option(help="The POS to subscribe (default: every configured POS that has webhooks).")] = None,
) -> None:
    """Subscribe the receiver to each POS's webhooks with our secret (OMNISYNC_WEBHOOK_SECRET_<POS>); idempotent."""
    from omnisync_pipelines.operator_commands import register_webhooks

    raise typer.Exit(register_webhooks(url, types, pos, typer.echo))


if __name__ == "__main__":
    app()
