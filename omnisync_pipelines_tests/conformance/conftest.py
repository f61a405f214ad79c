"""Servers for the commercetools conformance suite.

Every test runs once per server: ours (`CommercetoolsEmulator` over a real socket through
`SandboxServer`) and the independent `@labdigital/commercetools-mock` 4.4.0 (a node subprocess,
started once per session from `ct_mock_server.mjs`). `OMNISYNC_CT_CONFORMANCE_URL` replaces both with
one running server (API and `/oauth/token` on that base URL; project key and client from
`OMNISYNC_CT_CONFORMANCE_PROJECT_KEY` / `_CLIENT_ID` / `_CLIENT_SECRET`, defaults those of
`omnisync sandbox serve`); tests marked `ours_only` run there only with
`OMNISYNC_CT_CONFORMANCE_KIND=ours`.

Without node or `npm ci`'s node_modules the third-party server is skipped locally, and fails the
run in CI (`CI` set), so CI cannot pass without checking both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from omnisync_pipelines.connectors.commercetools.client import CommercetoolsClient, build_client
from omnisync_pipelines.connectors.commercetools.settings import CommercetoolsSettings
from omnisync_pipelines.rest.retry import RetryPolicy

ROOT = Path(__file__).resolve().parents[2]
MOCK_SCRIPT = Path(__file__).with_name("ct_mock_server.mjs")
MOCK_PACKAGE = ROOT / "node_modules" / "@labdigital" / "commercetools-mock"
MOCK_PROJECT = "omnisync-conformance"
EXTERNAL_URL = os.environ.get("OMNISYNC_CT_CONFORMANCE_URL")


@dataclass(frozen=True)
class CtServer:
    kind: str  # "ours", "labd" or "external"
    base_url: str
    project_key: str
    client_id: str
    client_secret: str
    emulator: object | None = None  # ours only: the CommercetoolsEmulator (fault plan, clock)

    @property
    def is_ours(self) -> bool:
        return self.kind == "ours" or (self.kind == "external" and os.environ.get("OMNISYNC_CT_CONFORMANCE_KIND") == "ours")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the conformance suite against both emulators)", pytrace=False)
    pytest.skip(reason)


def _start_mock() -> tuple[subprocess.Popen, int]:
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed: cannot run @labdigital/commercetools-mock")
    if not MOCK_PACKAGE.is_dir():
        _unavailable("node_modules/@labdigital/commercetools-mock missing: run `npm ci` (make test does)")
    proc = subprocess.Popen(
        [node, str(MOCK_SCRIPT), "0"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline()  # blocks until ready or the process dies
    try:
        port = json.loads(line)["port"]
    except (ValueError, KeyError, TypeError):
        proc.kill()
        raise RuntimeError(f"commercetools-mock did not start: {line!r} {proc.stderr.read()[-2000:]}") from None
    return proc, port


def _server_kinds() -> list[str]:
    return ["external"] if EXTERNAL_URL else ["ours", "labd"]


@pytest.fixture(scope="session", params=_server_kinds())
def ct_server(request):
    if request.param == "external":
        yield CtServer(
            "external",
            EXTERNAL_URL.rstrip("/"),
            os.environ.get("OMNISYNC_CT_CONFORMANCE_PROJECT_KEY", "omnisync-sandbox"),
            os.environ.get("OMNISYNC_CT_CONFORMANCE_CLIENT_ID", "sandbox-client"),
            os.environ.get("OMNISYNC_CT_CONFORMANCE_CLIENT_SECRET", "sandbox-secret"),
        )
    elif request.param == "ours":
        from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
        from omnisync_pipelines.sandbox.serve import SandboxServer

        emulator = CommercetoolsEmulator(project_key="omnisync-conformance", seed=3)
        server = SandboxServer().start({"commercetools": emulator})
        try:
            yield CtServer("ours", server.base_url("commercetools"), emulator.project_key,
                           emulator.auth.client_id, emulator.auth.client_secret, emulator)
        finally:
            server.stop()
    else:
        proc, port = _start_mock()
        try:
            yield CtServer("labd", f"http://127.0.0.1:{port}", MOCK_PROJECT, "conformance-client", "conformance-secret")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(autouse=True)
def _ours_only(request):
    marker = request.node.get_closest_marker("ours_only")
    if marker is not None and not request.getfixturevalue("ct_server").is_ours:
        pytest.skip(f"ours only: {marker.kwargs.get('reason') or (marker.args[0] if marker.args else '')}")


def settings_for(server: CtServer, **overrides) -> CommercetoolsSettings:
    return CommercetoolsSettings(
        api_url=server.base_url,
        auth_url=server.base_url,
        project_key=server.project_key,
        client_id=server.client_id,
        client_secret=SecretStr(server.client_secret),
        **overrides,
    )


def client_for(server: CtServer, calls: list | None = None, **overrides) -> CommercetoolsClient:
    settings = settings_for(server, **overrides)
    http = httpx.AsyncClient(timeout=10.0)
    retry = RetryPolicy(max_attempts=5, base_delay=0.05, max_delay=0.5, retry_after_cap=5.0)
    return build_client(settings, http=http, call_log=calls.append if calls is not None else None, retry=retry)


@pytest.fixture
def calls() -> list[dict]:
    return []


@pytest.fixture
async def ct(ct_server, calls):
    client = client_for(ct_server, calls)
    yield client
    await client.aclose()


@pytest.fixture
def uid() -> str:
    """A prefix that keeps each test's records apart on the shared per-session server."""
    return uuid.uuid4().hex[:10]
