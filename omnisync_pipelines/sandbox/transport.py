"""An in-process httpx transport for an emulator's ASGI app, with real timeout and drop behaviour.

httpx's own ASGITransport ignores timeouts and surfaces app exceptions as themselves; here a hang
becomes `httpx.ReadTimeout` after the request's read timeout and a dropped connection becomes
`httpx.RemoteProtocolError`, as they would over a socket.
"""

from __future__ import annotations

import asyncio

import httpx

from omnisync_pipelines.sandbox.faults import DroppedConnection


class EmulatorTransport(httpx.AsyncBaseTransport):
    def __init__(self, app, default_timeout_s: float = 10.0):
        self._inner = httpx.ASGITransport(app=app)
        self._default_timeout_s = default_timeout_s

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = (request.extensions.get("timeout") or {}).get("read") or self._default_timeout_s
        try:
            response = await asyncio.wait_for(self._inner.handle_async_request(request), timeout)
            await response.aread()
            return response
        except TimeoutError as exc:
            raise httpx.ReadTimeout("emulator did not answer in time", request=request) from exc
        except DroppedConnection as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc

    async def aclose(self) -> None:
        await self._inner.aclose()
