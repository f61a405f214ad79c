"""Shared HTTP plumbing every connector uses: session, retries, throttles, paging, errors, redaction."""

from omnisync_pipelines.rest.errors import (
    ApiConnectionError,
    ApiError,
    ApiStatusError,
    ApiTimeout,
    ApiTransportError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    Unprocessable,
    raise_for_status,
)
from omnisync_pipelines.rest.oauth import BearerToken, OAuthClientCredentials, OAuthRefreshToken
from omnisync_pipelines.rest.paging import (
    IdCursorPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    Page,
    PageNumberPaginator,
    Paginator,
    VersionCursorPaginator,
    iterate_pages,
)
from omnisync_pipelines.rest.retry import RetryPolicy, is_retryable, jittered, parse_retry_after
from omnisync_pipelines.rest.session import ApiSession
from omnisync_pipelines.rest.throttle import ConcurrencyLimit, LeakyBucket, Throttle, Unlimited, WindowBudget

__all__ = [
    "ApiConnectionError", "ApiError", "ApiSession", "ApiStatusError", "ApiTimeout", "ApiTransportError",
    "BadRequest", "BearerToken", "ConcurrencyLimit", "Conflict", "Forbidden", "IdCursorPaginator",
    "LeakyBucket", "NextUrlPaginator", "NotFound", "OAuthClientCredentials", "OAuthRefreshToken",
    "OffsetPaginator", "Page", "PageNumberPaginator", "Paginator", "RateLimited", "RetryPolicy",
    "ServerError", "Throttle", "Unauthorized", "Unlimited", "Unprocessable", "VersionCursorPaginator",
    "WindowBudget", "is_retryable", "iterate_pages", "jittered", "parse_retry_after", "raise_for_status",
]
