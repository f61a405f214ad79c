"""Typed API errors: "could not talk" (transport) versus "the server said no" (status).

Every error carries the system, the request method and (redacted) URL; status errors also carry the
parsed body, the server's request id, its Retry-After and the system-specific error codes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from omnisync_pipelines.rest.redact import redact_url

CodesOf = Callable[[Any], list[str]]
REQUEST_ID_HEADERS = ("x-correlation-id", "x-request-id", "request-id", "x-amzn-requestid")


class ApiError(Exception):
    def __init__(self, message: str, *, system: str, method: str, url: str):
        super().__init__(message)
        self.system = system
        self.method = method
        self.url = url


class ApiTransportError(ApiError):
    """No usable answer: the connection failed or the server did not answer in time."""


class ApiTimeout(ApiTransportError):
    pass


class ApiConnectionError(ApiTransportError):
    pass


class ApiStatusError(ApiError):
    """The server answered with a 4xx/5xx status."""

    def __init__(
        self,
        message: str,
        *,
        system: str,
        method: str,
        url: str,
        status: int,
        body: Any = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        codes: list[str] | None = None,
        response: httpx.Response | None = None,
    ):
        super().__init__(message, system=system, method=method, url=url)
        self.status = status
        self.body = body
        self.request_id = request_id
        self.retry_after = retry_after
        self.codes = codes or []
        self.response = response

    @property
    def headers(self) -> httpx.Headers:
        return self.response.headers if self.response is not None else httpx.Headers()


class BadRequest(ApiStatusError):
    pass


class Unauthorized(ApiStatusError):
    pass


class Forbidden(ApiStatusError):
    pass


class NotFound(ApiStatusError):
    pass


class Conflict(ApiStatusError):
    pass


class Unprocessable(ApiStatusError):
    pass


class RateLimited(ApiStatusError):
    pass


class ServerError(ApiStatusError):
    pass


STATUS_ERRORS: dict[int, type[ApiStatusError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
    429: RateLimited,
}


def error_class_for(status: int) -> type[ApiStatusError]:
    if status >= 500:
        return ServerError
    return STATUS_ERRORS.get(status, ApiStatusError)


def parse_body(response: httpx.Response) -> Any:
    """JSON when the body is JSON, otherwise the text (possibly empty)."""
    try:
        return response.json()
    except ValueError:
        return response.text


def _request_id(headers: httpx.Headers) -> str | None:
    for name in REQUEST_ID_HEADERS:
        if name in headers:
            return headers[name]
    return None


def _message_of(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("message", "error_description", "error", "detail"):
            if isinstance(body.get(key), str):
                return body[key]
    return str(body)[:300]


def status_error(system: str, response: httpx.Response, codes_of: CodesOf | None = None) -> ApiStatusError:
    from omnisync_pipelines.rest.retry import retry_after_from_headers  # retry.py imports this module

    request = response.request
    body = parse_body(response)
    try:
        codes = list(codes_of(body)) if codes_of else []
    except Exception:  # a malformed error body must not hide the status error itself
        codes = []
    url = redact_url(str(request.url))
    status = response.status_code
    detail = f" [{', '.join(codes)}]" if codes else ""
    message = f"{system} {request.method} {url} -> {status}{detail}: {_message_of(body)}"
    return error_class_for(status)(
        message,
        system=system,
        method=request.method,
        url=url,
        status=status,
        body=body,
        request_id=_request_id(response.headers),
        retry_after=retry_after_from_headers(response.headers),
        codes=codes,
        response=response,
    )


def raise_for_status(system: str, response: httpx.Response, codes_of: CodesOf | None = None) -> None:
    if response.status_code >= 400:
        raise status_error(system, response, codes_of)


def transport_error(system: str, request: httpx.Request, exc: httpx.TransportError) -> ApiTransportError:
    url = redact_url(str(request.url))
    kind = ApiTimeout if isinstance(exc, httpx.TimeoutException) else ApiConnectionError
    return kind(
        f"{system} {request.method} {url}: {type(exc).__name__}: {exc}", system=system, method=request.method, url=url
    )
