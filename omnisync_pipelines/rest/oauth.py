"""OAuth2 as `httpx.Auth`: the token is cached, refreshed before it expires and once on a 401 that
says the token is no longer good. Systems word that differently (RFC 6750 `invalid_token`;
X-Series `{"error": "Access token is not valid"}`), so each grant takes the markers to look for in
the `WWW-Authenticate` header or the body. The token request goes through the same client (and
transport) as the API calls.

A grant whose refresh token rotates (X-Series) can keep its tokens in a `TokenStore`: each exchange
happens under the store's lock, starts from the refresh token stored last (another session or
process may have rotated it) and adopts a stored access token that is still good instead of
refreshing again (a refresh revokes the previous access token, so two sessions refreshing in turn
would knock each other out).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager, contextmanager, nullcontext
from typing import Protocol

import httpx

from omnisync_pipelines.rest.errors import raise_for_status

INVALID_TOKEN = "invalid_token"  # RFC 6750 error code
# event loop -> token store key -> the lock its grants take before the store's own (blocking) lock
_EXCHANGE_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()


class TokenStore(Protocol):
    """Where a rotating grant keeps `{"refresh_token", "access_token", "expires_at"}` (`expires_at` in
    epoch seconds) between sessions and processes. Holds secrets: never a table, a log or DuckDB."""

    key: str  # the same for every handle on the same store (a file's path)

    def locked(self) -> AbstractContextManager[None]: ...  # held across one token exchange; blocks

    def load(self) -> dict | None: ...

    def save(self, state: dict) -> None: ...


class BearerToken(httpx.Auth):
    """A fixed token (a personal access token)."""

    def __init__(self, token: str):
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class OAuthTokenAuth(httpx.Auth):
    """Base for token-endpoint grants; subclasses build the token request."""

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        *,
        system: str = "oauth",
        refresh_margin_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        invalid_token_markers: tuple[str, ...] = (INVALID_TOKEN,),
    ):
        self.token_url = token_url
        self.invalid_token_markers = invalid_token_markers
        self.system = system
        self.refresh_margin_s = refresh_margin_s
        self._clock = clock
        self._access_token: str | None = None
        self._expires_at = 0.0
        self._lock: asyncio.Lock | None = None
        self.tokens_fetched = 0

    def token_request(self) -> httpx.Request:
        raise NotImplementedError

    def store_token(self, payload: dict) -> None:
        self._access_token = payload["access_token"]
        expires_in = float(payload.get("expires_in") or 3600)
        margin = min(self.refresh_margin_s, expires_in / 2)
        self._expires_at = self._clock() + expires_in - margin
        self.tokens_fetched += 1

    def invalidate(self) -> None:
        self._access_token = None
        self._expires_at = 0.0

    @contextmanager
    def token_exchange(self, rejected: str | None = None) -> Iterator[bool]:
        """Wraps one token fetch; yields whether the token request is still to be sent. `rejected`:
        the access token the API just refused (None when there is simply no fresh token)."""
        yield True

    def exchange_guard(self) -> AbstractAsyncContextManager:
        """Held (in the async flow) around `token_exchange`; see `OAuthRefreshToken`."""
        return nullcontext()

    @property
    def token_is_fresh(self) -> bool:
        return self._access_token is not None and self._clock() < self._expires_at

    def _authorise(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self._access_token}"

    def _handle_token_response(self, response: httpx.Response) -> None:
        raise_for_status(self.system, response)
        self.store_token(response.json())

    # httpx reads bodies for an auth flow only through the base class's wrappers, which these
    # overrides replace: over a socket every response must be read here before it is inspected.
    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self.token_is_fresh:
            with self.token_exchange() as fetch:
                if fetch:
                    token_response = yield self.token_request()
                    token_response.read()
                    self._handle_token_response(token_response)
        sent_token = self._access_token
        self._authorise(request)
        response = yield request
        response.read()
        if _is_invalid_token(response, self.invalid_token_markers):
            self.invalidate()
            with self.token_exchange(rejected=sent_token) as fetch:
                if fetch:
                    token_response = yield self.token_request()
                    token_response.read()
                    self._handle_token_response(token_response)
            self._authorise(request)
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._lock is None:
            self._lock = asyncio.Lock()
        sent_token: str | None = None
        async with self._lock:  # one token fetch for many concurrent requests
            if not self.token_is_fresh:
                async with self.exchange_guard():
                    with self.token_exchange() as fetch:
                        if fetch:
                            token_response = yield self.token_request()
                            await token_response.aread()
                            self._handle_token_response(token_response)
            sent_token = self._access_token
        self._authorise(request)
        response = yield request
        await response.aread()
        if _is_invalid_token(response, self.invalid_token_markers):
            async with self._lock:
                if self._access_token == sent_token:  # nobody refreshed it meanwhile
                    self.invalidate()
                    async with self.exchange_guard():
                        with self.token_exchange(rejected=sent_token) as fetch:
                            if fetch:
                                token_response = yield self.token_request()
                                await token_response.aread()
                                self._handle_token_response(token_response)
            self._authorise(request)
            yield request


class OAuthClientCredentials(OAuthTokenAuth):
    """`grant_type=client_credentials`, client id and secret as HTTP Basic (commercetools)."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, scopes: str | None = None, **kwargs):
        super().__init__(token_url, **kwargs)
        self.client_id = client_id
        self._client_secret = client_secret
        self.scopes = scopes

    def token_request(self) -> httpx.Request:
        form = {"grant_type": "client_credentials"}
        if self.scopes:
            form["scope"] = self.scopes
        return httpx.Request("POST", self.token_url, data=form, headers=_basic(self.client_id, self._client_secret))


class OAuthRefreshToken(OAuthTokenAuth):
    """`grant_type=refresh_token` with the client in the form (X-Series, R-Series); keeps a rotated
    refresh token (in `token_store` when given, which also wins over `refresh_token` once it holds one,
    until the configured `refresh_token` changes: a new one there means the app was authorised again,
    and the tokens the store kept from the old authorisation are dropped)."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str | None,
        *,
        on_refresh_token: Callable[[str], None] | None = None,
        token_store: TokenStore | None = None,
        wall_clock: Callable[[], float] = time.time,
        **kwargs,
    ):
        super().__init__(token_url, **kwargs)
        self.client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._authorisation = _fingerprint(refresh_token)  # which configured token the stored ones descend from
        self._on_refresh_token = on_refresh_token
        self._store = token_store
        self._wall_clock = wall_clock

    def token_request(self) -> httpx.Request:
        if not self._refresh_token:
            raise ValueError(f"{self.system}: no refresh token (none configured and none stored)")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token,
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }
        return httpx.Request("POST", self.token_url, data=form)

    def exchange_guard(self) -> AbstractAsyncContextManager:
        # The store's lock blocks the thread: a second grant on the same store in this event loop
        # must wait here, asynchronously, or it would block the loop the holder needs to finish.
        if self._store is None:
            return nullcontext()
        locks = _EXCHANGE_LOCKS.setdefault(asyncio.get_running_loop(), {})
        return locks.setdefault(self._store.key, asyncio.Lock())

    @contextmanager
    def token_exchange(self, rejected: str | None = None) -> Iterator[bool]:
        if self._store is None:
            yield True
            return
        with self._store.locked():
            state = self._store.load() or {}
            if self._authorisation and state.get("authorisation") not in (None, self._authorisation):
                state = {}  # re-authorised: the configured token starts a new chain
            self._refresh_token = state.get("refresh_token") or self._refresh_token
            stored, expires_at = state.get("access_token"), float(state.get("expires_at") or 0)
            remaining = expires_at - self._wall_clock()
            if stored and stored != rejected and remaining > self.refresh_margin_s:
                self._adopt(stored, remaining)  # another session refreshed: its token serves us too
                yield False
            else:
                yield True

    def _adopt(self, access_token: str, remaining_s: float) -> None:
        self._access_token = access_token
        self._expires_at = self._clock() + remaining_s - self.refresh_margin_s

    def store_token(self, payload: dict) -> None:
        super().store_token(payload)
        rotated = payload.get("refresh_token")
        if rotated and rotated != self._refresh_token:
            self._refresh_token = rotated
            if self._on_refresh_token:
                self._on_refresh_token(rotated)
        if self._store is not None:
            expires_in = float(payload.get("expires_in") or 3600)
            self._store.save({"refresh_token": self._refresh_token, "access_token": self._access_token,
                              "expires_at": self._wall_clock() + expires_in, "authorisation": self._authorisation})


def _fingerprint(token: str | None) -> str | None:
    """A stored, non-secret name of a configured refresh token (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16] if token else None


def _basic(client_id: str, client_secret: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def _is_invalid_token(response: httpx.Response, markers: tuple[str, ...] = (INVALID_TOKEN,)) -> bool:
    """A 401 whose `WWW-Authenticate` header or body carries one of `markers` (a 401 for any other
    reason, e.g. a missing scope worded differently, is not retried with a new token)."""
    if response.status_code != 401:
        return False
    challenge = response.headers.get("www-authenticate", "")
    try:
        body = response.text
    except httpx.ResponseNotRead:
        body = ""
    return any(marker in challenge or marker in body for marker in markers)
