"""ApiSession against httpx.MockTransport: retries honour Retry-After through the injected sleep,
exhausted retries and non-retryable statuses raise typed errors with codes, OAuth tokens are
cached and refreshed once on `invalid_token`, and the call log never holds a token or an email.
"""

import json

import httpx
import pytest

from omnisync_pipelines.rest import (
    ApiSession,
    ApiTimeout,
    BadRequest,
    OAuthClientCredentials,
    RetryPolicy,
    ServerError,
    Unauthorized,
)

# ---------------------------------------------------------------- fixtures

BASE = "https://api.example.com"
TOKEN_URL = "https://auth.example.com/oauth/token"


def codes_of(body):
    return [e.get("code") for e in body.get("errors", [])] if isinstance(body, dict) else []


class Recorder:
    def __init__(self):
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def make_session(handler, *, auth=None, max_attempts=3):
    log: list[dict] = []
    sleeper = Recorder()
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=BASE)
    session = ApiSession(
        "test",
        http,
        auth=auth,
        retry=RetryPolicy(max_attempts=max_attempts, base_delay=0.1),
        call_log=log.append,
        error_codes=codes_of,
        sleep=sleeper.sleep,
    )
    return session, log, sleeper


def answers(*responses):
    """A handler that returns the given responses in order and records the requests."""
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    handler.seen = seen
    return handler


# ---------------------------------------------------------------- tests


@pytest.mark.anyio
async def test_429_then_200_honours_retry_after():
    handler = answers(httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json={"ok": True}))
    session, log, sleeper = make_session(handler)
    response = await session.request("GET", "/items", params={"limit": 5})
    assert response.json() == {"ok": True}
    assert sleeper.sleeps == [3.0]
    assert [(e["status"], e["attempt"]) for e in log] == [(429, 1), (200, 2)]
    assert log[0]["correlation_id"] == log[1]["correlation_id"]
    ids = {r.headers["X-Correlation-ID"] for r in handler.seen}
    assert ids == {log[0]["correlation_id"]}
    assert log[0]["path"] == "/items?limit=5" and log[0]["method"] == "GET"


@pytest.mark.anyio
async def test_500_is_retried_then_raises_server_error():
    handler = answers(httpx.Response(500, json={"message": "boom"}))
    session, log, sleeper = make_session(handler, max_attempts=3)
    with pytest.raises(ServerError) as info:
        await session.request("POST", "/items", json={"a": 1})
    assert info.value.status == 500 and info.value.method == "POST"
    assert len(handler.seen) == 3 and len(sleeper.sleeps) == 2
    assert [e["attempt"] for e in log] == [1, 2, 3]


@pytest.mark.anyio
async def test_400_is_not_retried_and_carries_codes():
    body = {"statusCode": 400, "message": "dup", "errors": [{"code": "DuplicateField", "field": "orderNumber"}]}
    handler = answers(httpx.Response(400, json=body, headers={"X-Correlation-ID": "srv-1"}))
    session, log, sleeper = make_session(handler)
    with pytest.raises(BadRequest) as info:
        await session.request("POST", "/orders/import", json={"orderNumber": "1"})
    err = info.value
    assert err.codes == ["DuplicateField"] and err.body == body and err.request_id == "srv-1"
    assert err.url == f"{BASE}/orders/import"
    assert len(handler.seen) == 1 and sleeper.sleeps == []


@pytest.mark.anyio
async def test_409_retried_only_when_asked():
    handler = answers(httpx.Response(409, json={}), httpx.Response(200, json={}))
    session, _, _ = make_session(handler)
    with pytest.raises(Exception) as info:
        await session.request("POST", "/x")
    assert getattr(info.value, "status", None) == 409
    handler = answers(httpx.Response(409, json={}), httpx.Response(200, json={}))
    session, _, _ = make_session(handler)
    assert (await session.request("POST", "/x", retry_conflicts=True)).status_code == 200


@pytest.mark.anyio
async def test_timeouts_become_typed_after_retries():
    handler = answers(httpx.ReadTimeout("slow"))
    session, log, _ = make_session(handler, max_attempts=2)
    with pytest.raises(ApiTimeout):
        await session.request("GET", "/x")
    assert [e["status"] for e in log] == [None, None] and "ReadTimeout" in log[0]["error"]


def oauth_server(api_responses):
    """Token endpoint plus an API answering from `api_responses` (a list of status codes)."""
    state = {"tokens": 0, "api": list(api_responses)}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            state["tokens"] += 1
            assert request.headers["Authorization"].startswith("Basic ")
            return httpx.Response(200, json={"access_token": f"tok-{state['tokens']}", "expires_in": 172800})
        status = state["api"].pop(0)
        if status == 401:
            return httpx.Response(401, json={"statusCode": 401, "error": "invalid_token", "errors": [{"code": "invalid_token"}]})
        return httpx.Response(status, json={"email": "ann@example.com", "auth": request.headers["Authorization"]})

    return handler, state


@pytest.mark.anyio
async def test_oauth_token_cached_refreshed_on_invalid_token_and_never_logged():
    handler, state = oauth_server([200, 200, 401, 200])
    auth = OAuthClientCredentials(TOKEN_URL, "cid", "very-secret", "manage_project:p")
    session, log, _ = make_session(handler, auth=auth)
    first = await session.request("POST", "/customers", json={"email": "Ann@Example.com", "password": "pw123456"})
    await session.request("GET", "/customers")
    assert state["tokens"] == 1
    third = await session.request("GET", "/customers")
    assert state["tokens"] == 2
    assert first.json()["auth"] == "Bearer tok-1" and third.json()["auth"] == "Bearer tok-2"
    text = json.dumps(log)
    for secret in ("tok-1", "tok-2", "very-secret", "pw123456", "ann@example.com", "Ann@Example.com"):
        assert secret not in text
    assert "a***@example.com" in text


@pytest.mark.anyio
async def test_second_401_surfaces_as_unauthorized():
    handler, state = oauth_server([401, 401])
    auth = OAuthClientCredentials(TOKEN_URL, "cid", "s")
    session, _, _ = make_session(handler, auth=auth)
    with pytest.raises(Unauthorized) as info:
        await session.request("GET", "/x")
    assert info.value.codes == ["invalid_token"] and state["tokens"] == 2


@pytest.mark.anyio
async def test_token_endpoint_refusal_is_typed():
    def handler(request):
        return httpx.Response(401, json={"error": "invalid_client"})

    session, log, _ = make_session(handler, auth=OAuthClientCredentials(TOKEN_URL, "cid", "s"))
    with pytest.raises(Unauthorized):
        await session.request("GET", "/x")
    assert log[0]["status"] == 401
