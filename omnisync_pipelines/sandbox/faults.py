"""Fault injection for the emulators, as ASGI middleware.

Knobs are plain attributes of `FaultPlan`, settable per test or from `omnisync demo --faults RATE`.
Each emulator passes a `shape` callable that writes the throttle/error response in its own
system's format (X-Series 429 with an HTTP-date Retry-After, commercetools 503 OverCapacity, ...).

Kinds: added latency, 5xx (`error`), throttles (429/503 with Retry-After; `throttle_burst` for a
burst of N in a row), `timeout` (the request hangs past the client's timeout), `drop` (connection
dropped mid-response, the write applied half the time), an outage window (every request fails),
`conflict` (a write answered 409 ConcurrentModification, as a stale version is, without applying
it) and `truncate` (a read's JSON body cut short with a consistent Content-Length, as a broken
proxy would deliver it). `injected` counts what was injected, by kind.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# shape(kind, retry_after_seconds) -> (status, headers, body); kind is "throttle" or "error"
Shape = Callable[[str, float], tuple[int, list[tuple[bytes, bytes]], bytes]]


class DroppedConnection(Exception):
    """Raised inside the app to make the server drop the connection mid-response."""


@dataclass
class FaultPlan:
    latency_s: float = 0.0  # added to every request
    error_rate: float = 0.0  # share of requests answered with a 5xx
    throttle_rate: float = 0.0  # share of requests answered with a throttle response (429 or 503)
    throttle_burst: int = 0  # the next N requests are throttled, then it resets to 0
    retry_after_s: float = 1.0  # what throttle responses ask the client to wait
    timeout_rate: float = 0.0  # share of requests that hang for hang_s (the client times out)
    hang_s: float = 30.0
    drop_rate: float = 0.0  # share of requests whose connection is dropped mid-response
    conflict_rate: float = 0.0  # share of writes answered 409 ConcurrentModification (not applied)
    truncate_rate: float = 0.0  # share of reads (GET) whose JSON body arrives cut short
    outage_until: float | None = None  # time.monotonic() deadline: every request fails until then
    only_writes: bool = False  # apply rate-based faults only to POST/PUT/PATCH/DELETE
    budget: int | None = None  # stop rate-based faults after this many (e.g. "the next 2 requests")
    seed: int = 0
    injected: dict[str, int] = field(default_factory=dict)  # what was injected, by kind
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @classmethod
    def uniform(cls, rate: float, seed: int = 0) -> FaultPlan:
        """The mix `omnisync demo --faults RATE` uses: RATE split over the kinds of fault (timeouts
        and outage windows cost wall-clock time, so they are set per test instead)."""
        return cls(
            latency_s=0.0,
            error_rate=rate * 0.3,
            throttle_rate=rate * 0.3,
            drop_rate=rate * 0.2,
            conflict_rate=rate * 0.1,
            truncate_rate=rate * 0.1,
            retry_after_s=0.2,
            seed=seed,
        )

    def configure(self, other: FaultPlan) -> FaultPlan:
        """Take every knob of `other` and its seed (the emulators keep their own plan object); returns self.

        The random sequence is taken where `other` has it: a plan that has decided nothing yet starts at
        its seed's first draw, so the same seed gives the same fault schedule; a plan saved with
        `FaultPlan().configure(plan)` and configured back later carries on where it stopped.
        """
        for name in ("latency_s", "error_rate", "throttle_rate", "throttle_burst", "retry_after_s", "timeout_rate",
                     "hang_s", "drop_rate", "conflict_rate", "truncate_rate", "outage_until", "only_writes", "budget",
                     "seed"):
            setattr(self, name, getattr(other, name))
        self._rng.setstate(other._rng.getstate())
        return self

    def outage(self, seconds: float) -> None:
        self.outage_until = time.monotonic() + seconds

    def clear(self) -> None:
        self.error_rate = self.throttle_rate = self.timeout_rate = self.drop_rate = 0.0
        self.conflict_rate = self.truncate_rate = 0.0
        self.throttle_burst = 0
        self.latency_s = 0.0
        self.budget = None
        self.outage_until = None

    def _count(self, kind: str) -> None:
        self.injected[kind] = self.injected.get(kind, 0) + 1

    def decide(self, method: str) -> str | None:
        """Which fault (if any) this request gets."""
        if self.outage_until is not None:
            if time.monotonic() < self.outage_until:
                return "outage"
            self.outage_until = None
        if self.throttle_burst > 0:
            self.throttle_burst -= 1
            return "throttle"
        reading = method in ("GET", "HEAD")
        if self.only_writes and reading:
            return None
        if self.budget is not None and sum(self.injected.values()) >= self.budget:
            return None
        roll = self._rng.random()
        for kind, rate in (
            ("error", self.error_rate),
            ("throttle", self.throttle_rate),
            ("timeout", self.timeout_rate),
            ("drop", self.drop_rate),
            ("conflict", 0.0 if reading else self.conflict_rate),
            ("truncate", self.truncate_rate if reading else 0.0),
        ):
            if roll < rate:
                return kind
            roll -= rate
        return None


class FaultMiddleware:
    def __init__(self, app: ASGIApp, plan: FaultPlan, shape: Shape, exempt_paths: tuple[str, ...] = ()):
        self.app = app
        self.plan = plan
        self.shape = shape
        self.exempt_paths = exempt_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_paths):
            await self.app(scope, receive, send)
            return
        plan = self.plan
        if plan.latency_s:
            await asyncio.sleep(plan.latency_s)
        kind = plan.decide(scope["method"])
        if kind == "conflict" and "token" in scope["path"]:  # a token request has no version to be stale
            kind = None
        if kind is None:
            await self.app(scope, receive, send)
            return
        plan._count(kind)
        if kind == "timeout":
            await asyncio.sleep(plan.hang_s)
            raise DroppedConnection("request hung past the client's timeout")
        if kind == "truncate":
            await self.app(scope, receive, _Truncating(send))
            return
        if kind == "conflict":
            status, headers, body = _conflict()
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if kind == "drop":
            # Let the write happen half the time before the connection drops: the client cannot
            # tell whether its request was applied, which is exactly the case to survive.
            if plan._rng.random() < 0.5:
                await self.app(scope, receive, _discard)
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
            raise DroppedConnection("connection dropped mid-response")
        status, headers, body = self.shape("throttle" if kind == "throttle" else "error", plan.retry_after_s)
        if kind == "outage":
            status, headers, body = self.shape("error", plan.retry_after_s)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _discard(message: dict) -> None:
    return None


def _conflict() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """409 as commercetools words a stale version (no currentVersion: the client must re-read)."""
    message = "Object has a different version than expected."
    body = json.dumps({"statusCode": 409, "message": message,
                       "errors": [{"code": "ConcurrentModification", "message": message}]}).encode()
    return 409, [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())], body


class _Truncating:
    """Collects the app's response and sends the first half of its body, Content-Length to match."""

    def __init__(self, send: Send):
        self.send = send
        self.start: dict | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            return
        self.chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = b"".join(self.chunks)
        cut = body[: max(1, len(body) // 2)] if len(body) > 1 else body
        headers = [(k, v) for k, v in (self.start or {}).get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(cut)).encode()))
        await self.send({**(self.start or {"type": "http.response.start", "status": 200}), "headers": headers})
        await self.send({"type": "http.response.body", "body": cut})
