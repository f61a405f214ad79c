"""`omnisync sandbox ui`: the sandbox's emulators with the seeded world, and the Dagster UI against them.

One command for an operator who wants to look around: it serves the emulators (the world of `--seed`
loaded, the stores on `--pos`), writes `<data-dir>/omnisync.yaml` and `<data-dir>/sandbox.env`,
prepares a Dagster home under the data dir, and runs `dagster dev` (webserver, daemon, code server)
with that environment, so every job, sensor and schedule can be launched and watched against the
sandbox. Ctrl-C or SIGTERM stops dagster dev and everything below it, then the emulators, and exits 0.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import psutil
import typer

from omnisync_pipelines import systems

DEFAULT_DATA_DIR = "data/sandbox"  # beside, not over, the demo's files in data/
HOST = "127.0.0.1"
STOP_GRACE_SECONDS = 30.0  # how long a run in progress at Ctrl-C may take to finish before it is killed
STATE = ("omnisync.duckdb", "omnisync.duckdb.wal", "omnisync.analysts.duckdb", "omnisync.analysts.duckdb.wal",
         "ops.sqlite", "ops.sqlite-wal", "ops.sqlite-shm", "omnisync.yaml", "sandbox.env")
WORKSPACE_YAML = Path(__file__).parent.parent / "workspace.yaml"  # the repo's code location, as `dagster dev` there


class UsageError(ValueError):
    """A bad option the operator can fix (one short message, exit 2)."""


def prepare_data_dir(data_dir: Path) -> None:
    """A fresh state for a fresh world: the previous sandbox's warehouse, ops store, configuration and
    Dagster instance go (only those files: the directory may hold others)."""
    from omnisync_pipelines.runs import prepare_dagster_home

    data_dir.mkdir(parents=True, exist_ok=True)
    for name in STATE:
        (data_dir / name).unlink(missing_ok=True)
    shutil.rmtree(data_dir / "dagster_home", ignore_errors=True)
    prepare_dagster_home(data_dir / "dagster_home")


def sandbox_environment(data_dir: Path, server) -> dict[str, str]:
    """The demo's environment (configuration, state paths, the emulators' credentials, DAGSTER_HOME),
    every path absolute so the env file works from any folder."""
    from omnisync_pipelines.demo import demo_environment

    environment = demo_environment(data_dir, server)
    environment["OMNISYNC_ANALYSTS_DUCKDB_PATH"] = str(data_dir / "omnisync.analysts.duckdb")
    return environment


def write_env_file(path: Path, environment: dict[str, str]) -> None:
    lines = ["# Environment of the omnisync sandbox (`omnisync sandbox ui`). SANDBOX-ONLY credentials of the",
             "# local emulators, valid while that command runs; no real system's secrets. In another shell:",
             f"#   set -a; . {shlex.quote(str(path))}; set +a",
             *(f"{key}={shlex.quote(value)}" for key, value in environment.items())]
    path.touch(mode=0o600)
    path.write_text("\n".join(lines) + "\n")


def child_environment(environment: dict[str, str]) -> dict[str, str]:
    """This process's environment without any OMNISYNC_* setting from the shell (a production warehouse,
    token or URL must not leak into the sandbox), except the schedules' OMNISYNC_CRON_*, plus the sandbox's."""
    inherited = {key: value for key, value in os.environ.items()
                 if not key.startswith("OMNISYNC_") or key.startswith("OMNISYNC_CRON_")}
    return {**inherited, **environment}


def check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            raise UsageError(f"port {port} on {HOST} is in use; choose another with --port") from None


def ui_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class DagsterDev:
    """`dagster dev` in a session of its own (a Ctrl-C at the terminal reaches this process only, which
    then stops it in order). Its descendants are recorded while it runs, so one that left the process
    group, or whose parent died first, is still found and killed when it outlives the grace period."""

    def __init__(self, port: int, environment: dict[str, str], cwd: Path):
        target = ["-w", str(WORKSPACE_YAML)] if WORKSPACE_YAML.exists() else ["-m", "omnisync_pipelines.definitions"]
        command = [sys.executable, "-m", "dagster", "dev", *target, "--host", HOST, "--port", str(port)]
        self.process = subprocess.Popen(command, env=environment, cwd=cwd, start_new_session=True)
        self.known: dict[int, float] = {}  # pid -> its start time (a pid may be reused)

    def record_descendants(self) -> None:
        self.known.update(_descendants(self.process.pid))

    def stop(self, grace: float = STOP_GRACE_SECONDS, hurry: threading.Event | None = None,
             echo: Callable[[str], None] = print) -> None:
        """SIGINT to dagster dev (it stops its webserver, daemon and code server in order), then SIGTERM to
        what is left of its process group (a run in progress, a code server waiting for it, log tailers),
        then SIGKILL to whatever is still there after `grace`."""
        deadline = time.monotonic() + grace
        self.record_descendants()
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGINT)
        self._wait(lambda: self.process.poll() is not None, deadline, hurry)
        self._signal_all(signal.SIGTERM)
        self._wait(lambda: not self._alive(), min(deadline, time.monotonic() + 3), hurry)
        if self._alive() and not (hurry and hurry.is_set()):
            echo(f"waiting up to {max(0, deadline - time.monotonic()):.0f} s for a run in progress to end "
                 "(Ctrl-C again: kill it now)")
            self._wait(lambda: not self._alive(), deadline, hurry)
        self._signal_all(signal.SIGKILL)
        self.process.wait(timeout=10)

    def _wait(self, done: Callable[[], bool], deadline: float, hurry: threading.Event | None) -> None:
        while not done() and time.monotonic() < deadline and not (hurry and hurry.is_set()):
            self.record_descendants()
            time.sleep(0.2)

    def _signal_all(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)
        for pid in self._alive_known():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def _alive(self) -> bool:
        return self.process.poll() is None or bool(self._alive_known()) or _group_alive(self.process.pid)

    def _alive_known(self) -> list[int]:
        return [pid for pid, started in self.known.items() if _start_time(pid) == started]


def _start_time(pid: int) -> float | None:
    """When the process started (None when gone or a zombie): tells it from a later one given its pid."""
    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process.create_time()
    except psutil.Error:
        return None


def _descendants(root: int) -> dict[int, float]:
    try:
        children = psutil.Process(root).children(recursive=True)
    except psutil.Error:
        return {}
    return {child.pid: started for child in children if (started := _start_time(child.pid)) is not None}


def _group_alive(pgid: int) -> bool:
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                return True
        except (OSError, psutil.Error):
            continue
    return False


def run_live_sandbox(seed: int, pos: tuple[str, ...], port: int, data_dir: str,
                     echo: Callable[[str], None] = print) -> int:
    """Serve the sandbox and the Dagster UI until SIGINT/SIGTERM (exit 0) or until dagster dev exits
    by itself (its exit code)."""
    from omnisync_pipelines.demo import check_systems, start_sandbox, write_config

    check_systems(pos, pos_only=True)
    check_port_free(port)
    stop, hurry = threading.Event(), threading.Event()

    def on_signal(*_) -> None:
        (hurry if stop.is_set() else stop).set()  # a second Ctrl-C: no more waiting

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    data = Path(data_dir).resolve()
    prepare_data_dir(data)
    echo(f"starting the emulators with the world of seed {seed} ...")
    server, loaded = start_sandbox(seed, host=HOST, pos=pos)
    try:
        if stop.is_set():
            return 0
        write_config(data / "omnisync.yaml", server, loaded)
        environment = sandbox_environment(data, server)
        write_env_file(data / "sandbox.env", environment)
        dev = DagsterDev(port, child_environment(environment), cwd=data)
        url = f"http://{HOST}:{port}"
        for served in server.served:
            echo(f"  {served.system} emulator: {served.base_url}")
        echo(f"  configuration: {data / 'omnisync.yaml'}")
        echo(f"  environment:   {data / 'sandbox.env'}  (set -a; . {data / 'sandbox.env'}; set +a)")
        echo(f"  Dagster UI:    {url}  (starting; dagster dev's own log follows)")
        echo("  Ctrl-C stops everything")
        ready = False
        while dev.process.poll() is None and not stop.wait(1.0):
            dev.record_descendants()
            if not ready and (ready := ui_answers(url)):
                echo(f"Dagster UI ready: {url}  (Ctrl-C stops everything)")
        if dev.process.poll() is not None:
            dev.stop(grace=5, echo=echo)  # anything it left behind
            code = dev.process.returncode
            echo(f"dagster dev {f'exited with code {code}' if code >= 0 else f'was killed by signal {-code}'}; "
                 "stopping the emulators")
            return code if code >= 0 else 128 - code  # as a shell reports a process killed by a signal
        echo("stopping dagster dev and the emulators ...")
        dev.stop(hurry=hurry, echo=echo)
        return 0
    finally:
        server.stop()


def sandbox_ui(
    seed: Annotated[int, typer.Option(help="Seed of the world loaded into the emulators.")] = 7,
    pos: Annotated[str | None, typer.Option(
        help=f"The POS the stores trade on (default {systems.DEFAULT_POS}); several, comma-separated: the stores "
             "are spread over them in turn.")] = None,
    port: Annotated[int, typer.Option(help=f"Port of the Dagster UI on {HOST}.")] = 3000,
    data_dir: Annotated[str, typer.Option(
        help="Where the sandbox keeps its configuration, env file, DuckDB, ops store and Dagster home "
             "(reset at each start).")] = DEFAULT_DATA_DIR,
) -> None:
    """Serve the emulators with the seeded world and the Dagster UI (dagster dev) against them, until Ctrl-C."""
    from omnisync_pipelines.demo import UnknownSystems

    pos_ids = tuple(dict.fromkeys(p.strip() for p in (pos or systems.DEFAULT_POS).split(",") if p.strip()))
    try:
        code = run_live_sandbox(seed, pos_ids, port, data_dir, echo=typer.echo)
    except (UnknownSystems, UsageError) as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


if __name__ == "__main__":
    typer.run(sandbox_ui)
