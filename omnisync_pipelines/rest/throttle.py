"""Client-side throttles (one `acquire` method each) and a bound on parallel requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, TypeVar

from aiolimiter import AsyncLimiter

T = TypeVar("T")


class Throttle(Protocol):
    async def acquire(self, cost: float = 1) -> None: ...


class Unlimited:
    async def acquire(self, cost: float = 1) -> None:
        return None


class WindowBudget:
    """At most `max_requests` per `window_s` (X-Series' per-minute budget)."""

    def __init__(self, max_requests: float, window_s: float = 60.0):
        self.limiter = AsyncLimiter(max_requests, window_s)

    def has_capacity(self, cost: float = 1) -> bool:
        return self.limiter.has_capacity(cost)

    async def acquire(self, cost: float = 1) -> None:
        await self.limiter.acquire(cost)


class LeakyBucket:
    """A bucket of `capacity` units draining at `drip_per_s` (R-Series); a request adds its cost.

    `observe(level)` lets the client adopt the level the server reports, which also counts other
    clients of the same account.
    """

    def __init__(
        self,
        capacity: float,
        drip_per_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.capacity = capacity
        self.drip_per_s = drip_per_s
        self.level = 0.0
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = asyncio.Lock()

    def _drain(self) -> None:
        now = self._clock()
        self.level = max(0.0, self.level - (now - self._last) * self.drip_per_s)
        self._last = now

    def wait_time(self, cost: float = 1) -> float:
        self._drain()
        overflow = self.level + cost - self.capacity
        return max(0.0, overflow / self.drip_per_s)

    def observe(self, level: float) -> None:
        self._drain()
        self.level = max(self.level, level)

    async def acquire(self, cost: float = 1) -> None:
        if cost > self.capacity:
            raise ValueError(f"cost {cost} exceeds the bucket capacity {self.capacity}")
        async with self._lock:
            while (wait := self.wait_time(cost)) > 0:
                await self._sleep(wait)
            self.level += cost


class ConcurrencyLimit:
    """At most `n` requests in flight: `async with limit: ...` or `await limit.gather(coros)`."""

    def __init__(self, n: int):
        self.n = n
        self._semaphore = asyncio.Semaphore(n)

    async def __aenter__(self) -> ConcurrencyLimit:
        await self._semaphore.acquire()
        return self

    async def __aexit__(self, *exc_info) -> None:
        self._semaphore.release()

    async def run(self, awaitable: Awaitable[T]) -> T:
        async with self:
            return await awaitable

    async def gather(self, awaitables: Iterable[Awaitable[T]]) -> list[T]:
        return list(await asyncio.gather(*(self.run(a) for a in awaitables)))
