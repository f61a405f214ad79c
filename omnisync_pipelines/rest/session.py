"""`ApiSession`: one place where a connector's requests are throttled, retried, logged and typed.

A logical request gets one correlation id (sent as `X-Correlation-ID`, the same on every retry);
every attempt, failed or not, goes to `call_log` with redacted bodies.
"""

from __future__ import annotations

import asyncio
import json as json_module
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from omnisync_pipelines.rest.errors import (
    ApiConnectionError,
    ApiStatusError,
    CodesOf,
    status_error,
    transport_error,
)
from omnisync_pipelines.rest.redact import redact_body, redact_url
from omnisync_pipelines.rest.retry import Retrier, RetryPolicy, Sleep
from omnisync_pipelines.rest.throttle import Throttle, Unlimited

CallLog = Callable[[dict], None]
CORRELATION_HEADER = "X-Correlation-ID"


class ApiSession:
    def __init__(
        self,
        system: str,
        http: httpx.AsyncClient,
        *,
        auth: httpx.Auth | None = None,
        throttle: Throttle | None = None,
        retry: RetryPolicy | None = None,
        call_log: CallLog | None = None,
        error_codes: CodesOf | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        max_body_chars: int = 2048,
    ):
        self.system = system
        self.http = http
        self.auth = auth
        self.throttle = throttle or Unlimited()
        self.retry = retry or RetryPolicy()
        self.call_log = call_log
        self.error_codes = error_codes
        self.max_body_chars = max_body_chars
        self._retrier = Retrier(self.retry, sleep, rng or random.Random())

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        retry_conflicts: bool = False,
        retry_transport: bool = True,
    ) -> httpx.Response:
        correlation_id = uuid.uuid4().hex
        request = self.http.build_request(
            method,
            path,
            params=params,
            json=json,
            data=data,
            headers={**(headers or {}), CORRELATION_HEADER: correlation_id},
        )
        logged_request = redact_body(json if json is not None else data, self.max_body_chars)
        async for attempt in self._retrier.retrying(retry_conflicts=retry_conflicts, retry_transport=retry_transport):
            with attempt:
                return await self._attempt(request, attempt.retry_state.attempt_number, correlation_id, logged_request)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _attempt(
        self, request: httpx.Request, attempt: int, correlation_id: str, logged_request: str | None
    ) -> httpx.Response:
        await self.throttle.acquire()
        started = time.perf_counter()
        entry = {
            "system": self.system,
            "method": request.method,
            "path": _path_of(request.url),
            "attempt": attempt,
            "correlation_id": correlation_id,
            "request_body": logged_request,
        }
        try:
            response = await self.http.send(request, auth=self.auth or httpx.USE_CLIENT_DEFAULT)
        except ApiStatusError as exc:  # raised by the auth flow (token endpoint refused)
            self._log(entry, started, status=exc.status, error=str(exc), response_body=exc.body)
            raise
        except httpx.TransportError as exc:
            error = transport_error(self.system, request, exc)
            self._log(entry, started, status=None, error=str(error))
            raise error from exc
        await response.aread()
        failure = status_error(self.system, response, self.error_codes) if response.status_code >= 400 else None
        if failure is None and _broken_json(response):  # a body cut short on the way: as if the connection dropped
            url = redact_url(str(request.url))
            failure = ApiConnectionError(f"{self.system} {request.method} {url}: the JSON body is cut short or malformed "
                                         f"({len(response.content)} bytes)", system=self.system, method=request.method, url=url)
        self._log(
            entry,
            started,
            status=response.status_code,
            error=str(failure) if failure else None,
            response_body=response.content,
        )
        if failure is not None:
            raise failure
        return response

    def _log(self, entry: dict, started: float, *, status: int | None, error: str | None, response_body=None) -> None:
        if self.call_log is None:
            return
        self.call_log(
            {
                **entry,
                "status": status,
                "latency_ms": int((time.perf_counter() - started) * 1000),
                "error": error,
                "response_body": redact_body(response_body, self.max_body_chars),
            }
        )

    async def aclose(self) -> None:
        await self.http.aclose()


def _broken_json(response: httpx.Response) -> bool:
    if not response.content or "json" not in response.headers.get("content-type", ""):
        return False
    try:
        json_module.loads(response.content)
    except ValueError:
        return True
    return False


def _path_of(url: httpx.URL) -> str:
    query = url.query.decode() if url.query else ""
    return redact_url(url.path + (f"?{query}" if query else ""))
