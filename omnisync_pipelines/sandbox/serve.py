"""Serve emulators over real sockets (uvicorn), each on its own port, from a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field

import uvicorn


@dataclass
class ServedEmulator:
    system: str
    emulator: object
    base_url: str
    server: uvicorn.Server

    def describe(self) -> dict:
        return {"system": self.system, "base_url": self.base_url, "credentials": self.emulator.credentials(self.base_url)}


@dataclass
class SandboxServer:
    """Runs every emulator on one event loop in a daemon thread; `stop()` shuts them down."""

    host: str = "127.0.0.1"
    served: list[ServedEmulator] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    def start(self, emulators: dict[str, object], ports: dict[str, int] | None = None) -> SandboxServer:
        ports = ports or {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="omnisync-sandbox", daemon=True)
        self._thread.start()
        for system, emulator in emulators.items():
            port = ports.get(system) or _free_port(self.host)
            config = uvicorn.Config(emulator.app, host=self.host, port=port, log_level="critical", lifespan="off", access_log=False)
            server = uvicorn.Server(config)
            asyncio.run_coroutine_threadsafe(server.serve(), self._loop)
            self.served.append(ServedEmulator(system, emulator, f"http://{self.host}:{port}", server))
        deadline = time.monotonic() + 10
        while not all(s.server.started for s in self.served):
            if time.monotonic() > deadline:
                raise RuntimeError("sandbox emulators did not start within 10 s")
            time.sleep(0.02)
        return self

    def run(self, coro, timeout: float | None = None):
        """Run a coroutine on the sandbox's loop (e.g. webhook delivery) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def base_url(self, system: str) -> str:
        return next(s.base_url for s in self.served if s.system == system)

    def stop(self) -> None:
        for s in self.served:
            s.server.should_exit = True
        deadline = time.monotonic() + 5
        while any(s.server.started and not getattr(s.server, "_stopped", False) for s in self.served):
            if all(not s.server.started or s.server.should_exit for s in self.served) and time.monotonic() > deadline - 4.5:
                break
            time.sleep(0.05)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
