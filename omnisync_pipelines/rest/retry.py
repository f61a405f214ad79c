"""Retry decisions and delays, on tenacity.

What is retried: timeouts, connection errors, 408, 429, 5xx, and 409 only where the caller says a
plain resend is safe. An explicit server hint wins: `x-should-retry` over the status rules, and a
Retry-After (seconds, HTTP-date, or `retry-after-ms`) under the cap over the backoff. Otherwise the
delay is exponential with jitter; the jitter has its own function so tests can pin it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from omnisync_pipelines.rest.errors import ApiStatusError, ApiTransportError

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
Decision = Callable[[BaseException], bool | None]  # True/False decides, None passes to the next rule
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 20.0
    retry_after_cap: float = 60.0


def parse_retry_after(
    header_value: str | None, now: datetime | None = None, *, ms_value: str | None = None
) -> float | None:
    """Seconds to wait, from `retry-after-ms` (preferred) or `Retry-After` (seconds or HTTP-date)."""
    if ms_value is not None:
        try:
            millis = float(ms_value)
            if millis >= 0:
                return millis / 1000.0
        except ValueError:
            pass
    if header_value is None:
        return None
    value = header_value.strip()
    try:
        seconds = float(value)
        return seconds if seconds >= 0 else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_after_from_headers(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    return parse_retry_after(headers.get("retry-after"), now, ms_value=headers.get("retry-after-ms"))


def server_says(exc: BaseException) -> bool | None:
    """The server's own `x-should-retry: true|false` header, where it sends one."""
    if isinstance(exc, ApiStatusError):
        hint = exc.headers.get("x-should-retry")
        if hint in ("true", "false"):
            return hint == "true"
    return None


def transport_failures(exc: BaseException) -> bool | None:
    return True if isinstance(exc, ApiTransportError) else None


def status_rules(retry_conflicts: bool) -> Decision:
    def decide(exc: BaseException) -> bool | None:
        if not isinstance(exc, ApiStatusError):
            return None
        if exc.status == 409:
            return retry_conflicts
        return exc.status in RETRYABLE_STATUSES or exc.status >= 500

    return decide


def decision_chain(retry_conflicts: bool = False, retry_transport: bool = True) -> list[Decision]:
    # retry_transport=False: a create the API does not deduplicate, whose answer was lost, must not be
    # sent again blindly (it may have been applied); the caller looks for it instead
    return [server_says, transport_failures if retry_transport else _never, status_rules(retry_conflicts)]


def _never(exc: BaseException) -> bool | None:
    return False if isinstance(exc, ApiTransportError) else None


def is_retryable(exc: BaseException, *, retry_conflicts: bool = False, retry_transport: bool = True) -> bool:
    for decide in decision_chain(retry_conflicts, retry_transport):
        verdict = decide(exc)
        if verdict is not None:
            return verdict
    return False


def backoff_delay(attempt: int, policy: RetryPolicy) -> float:
    """Exponential backoff before retry number `attempt` (1-based), without jitter."""
    return min(policy.base_delay * 2 ** (attempt - 1), policy.max_delay)


def jittered(delay: float, rng: random.Random) -> float:
    """Spread retries of many clients: a delay between 75% and 100% of `delay`."""
    return delay * (1 - 0.25 * rng.random())


def delay_for(exc: BaseException | None, attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None and 0 <= retry_after <= policy.retry_after_cap:
        return retry_after
    return jittered(backoff_delay(attempt, policy), rng)


@dataclass
class Retrier:
    """Builds a tenacity `AsyncRetrying` for one logical request."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return delay_for(exc, state.attempt_number, self.policy, self.rng)

    def retrying(self, *, retry_conflicts: bool = False, retry_transport: bool = True) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_attempt(self.policy.max_attempts),
            wait=self.wait,
            retry=retry_if_exception(
                lambda exc: is_retryable(exc, retry_conflicts=retry_conflicts, retry_transport=retry_transport)),
            sleep=self.sleep,
            reraise=True,
        )
