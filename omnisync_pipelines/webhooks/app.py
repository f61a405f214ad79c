"""The webhook receiver (ASGI): authenticate, read a bounded body, parse, store once, answer fast.

`POST /webhooks/{system}[/{event_type}]`:
  404 unknown system; 401 missing/invalid token or signature, or no secret configured for the
  system (nothing stored); 413 body over `max_body_bytes` (declared Content-Length, then counted
  while streaming); 408 body not fully received within `body_timeout_s`; 400 malformed body (the
  message says what is wrong); 503 the inbox could not be written (the sender retries);
  200 `{"stored": true|false, "event_id": ...}` once the insert is committed (false = duplicate).
`GET /healthz`: 200.

No sync work happens here: the inbox sensor picks events up later. Tokens, secrets and the query
string are never logged.
"""

from __future__ import annotations

import logging

import anyio
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from omnisync_pipelines.store.inbox import Inbox
from omnisync_pipelines.webhooks.events import MalformedDelivery, parse_delivery
from omnisync_pipelines.webhooks.signatures import (
    known_systems,
    presented_credentials,
    signature_matches,
    token_matches,
)

log = logging.getLogger("omnisync.webhooks")


class BodyTooLarge(Exception):
    pass


def _error(status: int, message: str, *, close: bool = False) -> JSONResponse:
    # A body we stopped reading cannot be followed by another request on this connection.
    headers = {"connection": "close"} if close else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _read_body(request: Request, max_bytes: int, timeout_s: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    with anyio.fail_after(timeout_s):
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
    return b"".join(chunks)


def create_webhook_app(
    inbox: Inbox, secrets: dict[str, str], *, max_body_bytes: int = 256 * 1024, body_timeout_s: float = 5.0
) -> Starlette:
    secrets = {system: secret for system, secret in secrets.items() if secret}

    async def receive_webhook(request: Request) -> JSONResponse:
        system = request.path_params["system"]
        if system not in known_systems():
            return _error(404, "unknown system")
        secret = secrets.get(system)
        if secret is None:
            log.warning("webhook for %s refused: no secret configured for this system", system)
            return _error(401, "webhooks are not enabled for this system")
        credentials = presented_credentials(system, request.headers, request.query_params)
        if credentials is None:
            log.warning("webhook for %s refused: no credentials", system)
            return _error(401, "missing token or signature")
        if credentials.token is not None and not token_matches(secret, credentials.token):
            log.warning("webhook for %s refused: invalid token", system)
            return _error(401, "invalid token")

        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return _error(400, "invalid Content-Length", close=True)
            if int(declared) > max_body_bytes:
                return _error(413, f"body larger than {max_body_bytes} bytes", close=True)
        try:
            body = await _read_body(request, max_body_bytes, body_timeout_s)
        except BodyTooLarge:
            return _error(413, f"body larger than {max_body_bytes} bytes", close=True)
        except TimeoutError:
            log.warning("webhook for %s: body not received within %.1fs", system, body_timeout_s)
            return _error(408, f"body not received within {body_timeout_s:g}s", close=True)
        except ClientDisconnect:
            return _error(400, "client disconnected before the body was complete", close=True)

        if credentials.token is None and not signature_matches(secret, body, credentials.signature or ""):
            log.warning("webhook for %s refused: invalid signature", system)
            return _error(401, "invalid signature")

        try:
            event = parse_delivery(
                system, request.path_params.get("event_type"), request.headers.get("content-type", ""),
                body, request.headers,
            )
        except MalformedDelivery as exc:
            log.info("webhook for %s rejected as malformed: %s", system, exc)
            return _error(400, str(exc))

        try:
            stored = await run_in_threadpool(inbox.add, event)
        except SQLAlchemyError as exc:
            log.error("webhook for %s not stored (%s); answering 503 so the sender retries", system, type(exc).__name__)
            return _error(503, "inbox unavailable, retry later")
        log.info("webhook %s %s %s %s", system, event.event_type, event.event_id, "stored" if stored else "duplicate")
        return JSONResponse({"stored": stored, "event_id": event.event_id})

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/webhooks/{system}", receive_webhook, methods=["POST"]),
            Route("/webhooks/{system}/{event_type}", receive_webhook, methods=["POST"]),
        ]
    )
    app.state.inbox = inbox
    return app
