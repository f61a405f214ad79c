"""Retry decisions: what is retried, how long to wait, and that jitter is deterministic under a seed.

Contract (docs/contracts.md, rest/retry.py): timeouts, connection errors, 408, 429 and 5xx are
retried, 409 only when the caller allows it; an explicit Retry-After under the cap wins over the
exponential backoff; `x-should-retry` wins over the status rules.
"""

import random
from datetime import UTC, datetime

import httpx
import pytest

from omnisync_pipelines.rest.errors import (
    ApiConnectionError,
    ApiStatusError,
    ApiTimeout,
    error_class_for,
)
from omnisync_pipelines.rest.retry import (
    RetryPolicy,
    backoff_delay,
    delay_for,
    is_retryable,
    jittered,
    parse_retry_after,
    retry_after_from_headers,
)

NOW = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)

# ---------------------------------------------------------------- fixtures


def status_exc(status: int, headers: dict | None = None, retry_after: float | None = None) -> ApiStatusError:
    request = httpx.Request("GET", "https://api.example.com/x")
    response = httpx.Response(status, headers=headers or {}, request=request)
    return error_class_for(status)(
        "x", system="t", method="GET", url="u", status=status, retry_after=retry_after, response=response
    )


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize(
    ("value", "ms", "expected"),
    [
        ("3", None, 3.0),
        ("0.5", None, 0.5),
        (" 7 ", None, 7.0),
        ("Wed, 01 May 2024 10:00:30 GMT", None, 30.0),
        ("Wed, 01 May 2024 09:59:00 GMT", None, 0.0),  # a date in the past: go now
        (None, "1500", 1.5),
        ("9", "250", 0.25),  # the millisecond header is the more precise one
        ("soon", None, None),
        ("", None, None),
        ("-4", None, None),
        (None, None, None),
        (None, "abc", None),
    ],
)
def test_parse_retry_after(value, ms, expected):
    assert parse_retry_after(value, NOW, ms_value=ms) == expected


def test_retry_after_from_headers_reads_both_names():
    assert retry_after_from_headers(httpx.Headers({"Retry-After": "2"}), NOW) == 2.0
    assert retry_after_from_headers(httpx.Headers({"retry-after-ms": "20"}), NOW) == 0.02


@pytest.mark.parametrize(
    ("exc", "retry_conflicts", "expected"),
    [
        (ApiTimeout("t", system="s", method="GET", url="u"), False, True),
        (ApiConnectionError("c", system="s", method="GET", url="u"), False, True),
        (status_exc(408), False, True),
        (status_exc(429), False, True),
        (status_exc(500), False, True),
        (status_exc(502), False, True),
        (status_exc(503), False, True),
        (status_exc(599), False, True),
        (status_exc(409), False, False),
        (status_exc(409), True, True),
        (status_exc(400), False, False),
        (status_exc(401), False, False),
        (status_exc(403), False, False),
        (status_exc(404), False, False),
        (status_exc(422), False, False),
        (status_exc(503, {"x-should-retry": "false"}), False, False),
        (status_exc(400, {"x-should-retry": "true"}), False, True),
        (ValueError("not ours"), False, False),
    ],
)
def test_is_retryable(exc, retry_conflicts, expected):
    assert is_retryable(exc, retry_conflicts=retry_conflicts) is expected


@pytest.mark.parametrize(("attempt", "expected"), [(1, 0.2), (2, 0.4), (3, 0.8), (10, 20.0)])
def test_backoff_is_exponential_and_capped(attempt, expected):
    assert backoff_delay(attempt, RetryPolicy()) == pytest.approx(expected)


def test_jitter_is_deterministic_under_a_seed_and_bounded():
    first = [jittered(1.0, random.Random(7)) for _ in range(3)]
    again = [jittered(1.0, random.Random(7)) for _ in range(3)]
    assert first == again
    rng = random.Random(1)
    assert all(0.75 <= jittered(1.0, rng) <= 1.0 for _ in range(200))


@pytest.mark.parametrize(
    ("retry_after", "expected_exact"),
    [(3.0, 3.0), (0.0, 0.0), (60.0, 60.0), (61.0, None), (None, None)],
)
def test_retry_after_under_the_cap_wins_over_backoff(retry_after, expected_exact):
    policy = RetryPolicy(base_delay=1.0, retry_after_cap=60.0)
    delay = delay_for(status_exc(429, retry_after=retry_after), 1, policy, random.Random(0))
    if expected_exact is None:
        assert 0.75 <= delay <= 1.0  # over the cap or absent: backoff with jitter
    else:
        assert delay == expected_exact
