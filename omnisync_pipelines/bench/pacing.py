"""Rig time for a POS that budgets requests over time (a leaky bucket draining units a second): real
time plus every wait skipped.

A bucket draining 1 unit a second makes a full-size naive push wait minutes. The rigs measure calls
and units, not the waiting, so both halves of a rig run on one `RigClock` (the emulator's bucket,
timestamps and token expiry through `EmulatorBench.use_clock`; the connector's scheduler and retry
sleeps through `ConnectorBench.use_clock`): a sleep moves the clock to the moment it would end and
returns at once. The emulator sees the drip of every skipped second, so a client that sends before
its bucket has room still draws the 429 it would draw in real time. `skipped_s` is the time the
budget imposed: the run's time at the real drip rate is its real time plus that.

A jump waits for the requests in flight (`InFlight`, the rig's transport to the POS) to land first:
they were sent before the wait began, and would otherwise reach the emulator in a later second than
they were paced for.
"""

from __future__ import annotations

import asyncio
import time

import httpx


class RigClock:
    def __init__(self) -> None:
        self.skipped_s = 0.0
        self.in_flight = 0

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped_s

    def wall(self) -> float:
        """Epoch seconds, for an emulator's clock."""
        return time.time() + self.skipped_s

    async def sleep(self, seconds: float) -> None:
        """Wake at `now + seconds` (concurrent sleepers wake at the latest of their ends, not their sum)."""
        wake_at = self.monotonic() + seconds
        while self.in_flight:
            await asyncio.sleep(0)
        if seconds > 0:
            self.skipped_s = max(self.skipped_s, wake_at - time.monotonic())
        await asyncio.sleep(0)


class InFlight(httpx.AsyncBaseTransport):
    """Counts the requests in flight on `clock` (see `RigClock.sleep`)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, clock: RigClock):
        self.inner, self.clock = inner, clock

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.clock.in_flight += 1
        try:
            return await self.inner.handle_async_request(request)
        finally:
            self.clock.in_flight -= 1
