"""The X-Series budget: 300 x registers + 50 requests per 300-second window, per access token.
Over budget: 429 with Retry-After as an HTTP-date (RFC 1123), when the window frees."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from email.utils import formatdate


class WindowLimiter:
    def __init__(self, max_requests: Callable[[], int], window_s: float = 300.0, clock: Callable[[], float] = time.time):
        self.max_requests = max_requests
        self.window_s = window_s
        self.clock = clock
        self.windows: dict[str, tuple[float, int]] = {}  # token -> (window start, count)

    def check(self, token: str) -> tuple[bool, dict[str, str]]:
        now = self.clock()
        start, count = self.windows.get(token, (now, 0))
        if now - start >= self.window_s:
            start, count = now, 0
        limit = self.max_requests()
        reset = math.ceil(start + self.window_s)  # an HTTP-date has whole seconds: never name a time too early
        if count >= limit:
            headers = {"Retry-After": formatdate(reset, usegmt=True), "X-RateLimit-Limit": str(limit),
                       "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": formatdate(reset, usegmt=True)}
            return False, headers
        self.windows[token] = (start, count + 1)
        return True, {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(limit - count - 1),
                      "X-RateLimit-Reset": formatdate(reset, usegmt=True)}
