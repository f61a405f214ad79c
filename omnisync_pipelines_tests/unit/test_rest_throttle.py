"""Throttles: the leaky bucket waits exactly as long as the drip needs (fake clock); the window
budget admits `max_requests` then blocks; ConcurrencyLimit bounds what is in flight."""

import asyncio

import pytest

from omnisync_pipelines.rest.throttle import ConcurrencyLimit, LeakyBucket, Unlimited, WindowBudget


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.mark.anyio
async def test_leaky_bucket_waits_for_the_drip():
    clock = FakeClock()
    bucket = LeakyBucket(capacity=3, drip_per_s=1.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await bucket.acquire()
    assert clock.sleeps == []
    await bucket.acquire()
    assert clock.sleeps == [pytest.approx(1.0)]
    clock.now += 10  # drained completely
    await bucket.acquire(2)
    assert bucket.level == pytest.approx(2)
    assert len(clock.sleeps) == 1


@pytest.mark.anyio
async def test_leaky_bucket_adopts_the_server_level():
    clock = FakeClock()
    bucket = LeakyBucket(capacity=60, drip_per_s=2.0, clock=clock, sleep=clock.sleep)
    bucket.observe(59)
    await bucket.acquire(5)
    assert clock.sleeps == [pytest.approx(2.0)]
    with pytest.raises(ValueError):
        await bucket.acquire(61)


@pytest.mark.anyio
async def test_window_budget_admits_the_budget_then_blocks():
    budget = WindowBudget(3, 60)
    for _ in range(3):
        await budget.acquire()
    assert not budget.has_capacity()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(budget.acquire(), 0.05)


@pytest.mark.anyio
async def test_unlimited_and_concurrency_limit():
    await Unlimited().acquire(100)
    limit = ConcurrencyLimit(2)
    in_flight = peak = 0

    async def work(i):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        return i

    assert await limit.gather(work(i) for i in range(6)) == list(range(6))
    assert peak == 2
