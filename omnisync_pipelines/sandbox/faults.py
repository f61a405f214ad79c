"""Fault injection for the emulators, as ASGI middleware.

Knobs are plain attributes of `FaultPlan`, settable per test or from `omnisync demo --faults RATE`.
Each emulator passes a `shape` callable that writes the throttle/error response in its own
system's format (X-Series 429 with an HTTP-date Retry-After, commercetools 503 OverCapacity, ...).
"""

from __future__ import annotations

import asyncio
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
    outage_until: float | None = None  # time.monotonic() deadline: every request fails until then
    only_writes: bool = False  # apply rate-based faults only to POST/PUT/PATCH/DELETE
    seed: int = 0
    injected: dict[str, int] = field(default_factory=dict)  # what was injected, by kind
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @classmethod
    def uniform(cls, rate: float, seed: int = 0) -> FaultPlan:
        """The mix `omnisync demo --faults RATE` uses: RATE split over the kinds of fault."""
        return cls(
            latency_s=0.0,
            error_rate=rate * 0.4,
            throttle_rate=rate * 0.4,
            drop_rate=rate * 0.2,
            retry_after_s=0.2,
            seed=seed,
        )

    def configure(self, other: FaultPlan) -> FaultPlan:
        """Take every knob of `other` (the emulators keep their own plan object); returns self."""
        for name in ("latency_s", "error_rate", "throttle_rate", "throttle_burst", "retry_after_s", "timeout_rate",
                     "hang_s", "drop_rate", "outage_until", "only_writes"):
            setattr(self, name, getattr(other, name))
        return self

    def outage(self, seconds: float) -> None:
        self.outage_until = time.monotonic() + seconds

    def clear(self) -> None:
        self.error_rate = self.throttle_rate = self.timeout_rate = self.drop_rate = 0.0
        self.throttle_burst = 0
        self.latency_s = 0.0
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
        if self.only_writes and method in ("GET", "HEAD"):
            return None
        roll = self._rng.random()
        for kind, rate in (
            ("error", self.error_rate),
            ("throttle", self.throttle_rate),
            ("timeout", self.timeout_rate),
            ("drop", self.drop_rate),
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
        if kind is None:
            await self.app(scope, receive, send)
            return
        plan._count(kind)
        if kind == "timeout":
            await asyncio.sleep(plan.hang_s)
            raise DroppedConnection("request hung past the client's timeout")
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
