"""`omnisync sandbox ui` as an operator runs it: the emulators and `dagster dev` against them, a job
launched the way the UI launches it, and Ctrl-C leaving nothing behind.

One live sandbox for the module (it takes ~20 s to come up); the tests run in file order and the last
one stops it. Every wait has a timeout, so a hang fails a test instead of blocking the suite.
"""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from omnisync_pipelines import systems

COMMAND = [sys.executable, "-m", "omnisync_pipelines.cli", "sandbox", "ui"]
UP_TIMEOUT = 240
RUN_TIMEOUT = 420
STOP_TIMEOUT = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def proc_stat(pid) -> list[str] | None:
    """/proc/<pid>/stat fields after the command name ([state, ppid, pgrp, session, ...]); None if gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return None if fields[0] in "ZX" else fields


def all_processes() -> dict[int, list[str]]:
    return {int(p.name): fields for p in Path("/proc").iterdir() if p.name.isdigit() if (fields := proc_stat(p.name))}


def descendants(root: int) -> dict[int, tuple[str, str]]:
    """pid -> (start time, process group) of every process below `root`."""
    processes, found, frontier = all_processes(), {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, fields in processes.items():
            if int(fields[1]) == parent and pid not in found:
                found[pid] = (fields[19], fields[2])
                frontier.append(pid)
    return found


class LiveSandbox:
    def __init__(self, data_dir: Path, port: int):
        self.port, self.data_dir, self.log = port, data_dir, data_dir.parent / "sandbox-ui.log"
        self.url = f"http://127.0.0.1:{port}"
        self.repository_at_start: dict = {}
        with self.log.open("w") as log:
            self.process = subprocess.Popen([*COMMAND, "--port", str(port), "--data-dir", str(data_dir)],
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._seen: dict[int, tuple[str, str]] = {}  # every descendant ever seen, recorded by a watcher
        self._lock, self._stopped = threading.Lock(), threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stopped.wait(0.5):
            self.record()

    def record(self) -> dict[int, tuple[str, str]]:
        """Every descendant seen so far: pid -> (start time, process group)."""
        found = descendants(self.process.pid)
        with self._lock:
            self._seen.update(found)
            return dict(self._seen)

    def stop_watching(self) -> None:
        self._stopped.set()
        self._watcher.join(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def emulator_ports(self) -> dict[str, int]:
        return {system: int(port) for system, port in re.findall(r"(\w+) emulator: http://127\.0\.0\.1:(\d+)", self.output())}

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def repository(self) -> dict | None:
        data = self.graphql("""{ repositoriesOrError { ... on RepositoryConnection { nodes {
            name location { name } jobs { name } sensors { name } schedules { name } } } } }""")
        nodes = data["repositoriesOrError"].get("nodes") or []
        return nodes[0] if nodes else None

    def wait_until_up(self) -> dict:
        deadline = time.monotonic() + UP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"sandbox ui exited with {self.process.returncode}:\n{self.output()[-4000:]}")
            try:
                repository = self.repository()
                if repository and repository["jobs"]:
                    return repository
            except (httpx.HTTPError, AssertionError):
                pass
            time.sleep(1)
        pytest.fail(f"the Dagster UI did not list the repository within {UP_TIMEOUT} s:\n{self.output()[-4000:]}")

    def kill_everything(self) -> None:
        """Last resort when a test failed before the command stopped what it started."""
        self.stop_watching()
        for pid, (started, _) in {**self.record(), self.process.pid: (None, None)}.items():
            fields = proc_stat(pid)
            if fields and (started is None or fields[19] == started):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    sandbox = LiveSandbox(tmp_path_factory.mktemp("live") / "sandbox", free_port())
    try:
        sandbox.repository_at_start = sandbox.wait_until_up()
        yield sandbox
    finally:
        if sandbox.process.poll() is None or any(proc_stat(pid) for pid in sandbox.record()):
            sandbox.kill_everything()


def test_the_ui_lists_the_jobs_the_run_failure_sensor_and_the_schedules(live):
    assert httpx.get(f"{live.url}/server_info", timeout=10).status_code == 200
    repository = live.repository_at_start
    assert {"full_sync", "delta_sync", "reconcile"} <= {job["name"] for job in repository["jobs"]}
    assert "run_failure_alert" in {sensor["name"] for sensor in repository["sensors"]}
    assert {"delta_sync_every_5_minutes", "full_sync_nightly", "reconcile_daily"} <= {
        schedule["name"] for schedule in repository["schedules"]}
    assert set(live.emulator_ports()) == {systems.COMMERCETOOLS, systems.DEFAULT_POS}
    for name in ("omnisync.yaml", "sandbox.env", "dagster_home/dagster.yaml"):
        assert (live.data_dir / name).is_file(), name
    env_file = (live.data_dir / "sandbox.env").read_text()
    assert env_file.startswith("#") and "sandbox-only" in env_file.splitlines()[0].lower()
    assert f"OMNISYNC_CONFIG={live.data_dir / 'omnisync.yaml'}" in env_file.splitlines()


LAUNCH = """mutation($params: ExecutionParams!) { launchPipelineExecution(executionParams: $params) {
    __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } } ... on InvalidSubsetError { message } } }"""
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
FAILURES = """query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events {
    __typename ... on ExecutionStepFailureEvent { stepKey error { message } } } } } }"""


def launch(live: LiveSandbox, job: str) -> str:
    """The launchpad's launch of `job` with no partition chosen; returns the run id."""
    repository = live.repository_at_start
    params = {"selector": {"repositoryLocationName": repository["location"]["name"],
                           "repositoryName": repository["name"], "jobName": job},
              "mode": "default", "runConfigData": "{}", "executionMetadata": {"tags": []}}
    launched = live.graphql(LAUNCH, {"params": params})["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def wait_for_run(live: LiveSandbox, run_id: str, until: set[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while (status := live.graphql(STATUS, {"id": run_id})["runOrError"]["status"]) not in until:
        assert time.monotonic() < deadline, f"run {run_id} still {status} after {timeout} s"
        time.sleep(1)
    return status


def test_full_sync_launched_from_the_ui_without_choosing_partitions_succeeds(live):
    run_id = launch(live, "full_sync")
    status = wait_for_run(live, run_id, FINISHED, RUN_TIMEOUT)
    events = live.graphql(FAILURES, {"id": run_id})["logsForRun"]["events"]
    failed = [f"{event['stepKey']}: {event['error']['message'].strip()}" for event in events if event.get("error")]
    assert status == "SUCCESS", f"full_sync {status}: {failed}"


def test_ctrl_c_stops_dagster_dev_its_children_and_the_emulators_and_exits_0(live):
    emulator_ports = live.emulator_ports()
    wait_for_run(live, launch(live, "full_sync"), {"STARTED", *FINISHED}, 120)  # a run in progress at Ctrl-C
    seen = live.record()
    groups = {group for _, group in seen.values()}
    assert len(seen) >= 4, f"expected dagster dev, its webserver, daemon and code server: {seen}"
    assert str(live.process.pid) not in groups, "dagster dev must run in a process group of its own"

    live.process.send_signal(signal.SIGINT)
    assert live.process.wait(timeout=STOP_TIMEOUT) == 0, live.output()[-4000:]
    seen = live.record()
    live.stop_watching()

    assert not port_open(live.port)
    assert not [system for system, port in emulator_ports.items() if port_open(port)]
    left = [pid for pid, (started, _) in seen.items() if (fields := proc_stat(pid)) and fields[19] == started]
    assert not left, f"processes left behind: {left}"
    assert not [pid for pid, fields in all_processes().items() if fields[2] in groups]


def test_an_unknown_pos_and_a_busy_port_are_one_line_errors_exit_2(tmp_path):
    unknown = subprocess.run([*COMMAND, "--pos", "no_such_pos", "--data-dir", str(tmp_path / "a")],
                             capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2
    assert unknown.stderr.strip().count("\n") == 0 and "no_such_pos" in unknown.stderr, unknown.stderr
    assert "registered:" in unknown.stderr and "Traceback" not in unknown.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = subprocess.run([*COMMAND, "--port", str(port), "--data-dir", str(tmp_path / "b")],
                               capture_output=True, text=True, timeout=120)
    assert taken.returncode == 2
    assert taken.stderr.strip().count("\n") == 0 and str(port) in taken.stderr, taken.stderr
    assert not (tmp_path / "b").exists(), "a usage error must not touch the data dir"
