"""The R-Series leaky bucket (docs introduction/rate-limiting.md, changelog 2026.03.17).

Per (account, client): bucket 90 (+10 per register beyond the first), drip 1/s (+0.5/s per register
beyond the first). The first request that takes the level past the size passes; later ones get 429
until the level is back at or under the size; a blocked request adds nothing. Retry-After is whole
seconds until the level is back at the size (the docs' sample: level 92.57/90 at drip 1 → 3). Beside
it the burst limiter: fixed 1-s windows, `burst_limit` requests each (the docs' sample: 20 for 90).
"""

from __future__ import annotations

import math
from collections.abc import Callable


def fmt(number: float) -> str:
    return (f"{number:.2f}".rstrip("0").rstrip(".")) or "0"


class LeakyBucket:
    def __init__(self, clock: Callable[[], float], registers: int = 1, burst_limit: int | None = 20):
        extra = max(0, registers - 1)
        self.size = 90 + 10 * extra
        self.drip = 1 + 0.5 * extra
        self.burst_limit = burst_limit
        self.clock = clock
        self.level = 0.0
        self.last = clock()
        self.window = (math.floor(self.last), 0)  # (second, requests in it)

    def _drain(self) -> float:
        now = self.clock()
        self.level = max(0.0, self.level - (now - self.last) * self.drip)
        self.last = now
        return now

    def current(self) -> float:
        self._drain()
        return self.level

    def take(self, cost: float) -> tuple[bool, dict[str, str]]:
        now = self._drain()
        second, count = self.window
        if math.floor(now) != second:
            second, count = math.floor(now), 0
        blocked = None
        if self.burst_limit is not None and count >= self.burst_limit:
            blocked, retry = "api-burst-limiter", 1
        elif self.level > self.size:
            blocked, retry = "api-leaky-bucket", max(1, math.ceil((self.level - self.size) / self.drip))
        if blocked is None:
            self.level += cost
            count += 1
        self.window = (second, count)
        headers = {"X-LS-API-Bucket-Level": f"{fmt(self.level)}/{self.size}",
                   "X-LS-API-Drip-Rate": fmt(self.drip), "X-LS-API-Request-Cost": fmt(cost)}
        if self.burst_limit is not None:
            headers["X-LS-API-Burst-Level"] = f"{count}/{self.burst_limit}"
        if blocked:
            headers.update({"X-LS-API-RateLimit-Type": blocked, "Retry-After": str(retry)})
        return blocked is None, headers
