"""The commercetools emulator: one object holding state, auth, fault plan and the wrapped ASGI app."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from ...faults import FaultMiddleware, FaultPlan
from .app import Api
from .auth import Auth
from .resources import KINDS
from .store import Store


class CommercetoolsEmulator:
    """In-memory commercetools Composable Commerce API: `POST /oauth/token` and `/{projectKey}/...`."""

    def __init__(
        self,
        project_key: str = "omnisync-sandbox",
        client_id: str = "sandbox-client",
        client_secret: str = "sandbox-secret",
        seed: int = 0,
        faults: FaultPlan | None = None,
        client_scopes: list[str] | None = None,
        messages_enabled: bool = True,
    ):
        self.project_key = project_key
        self.store = Store(seed, client_id, [(kind.type_id, spec) for kind in KINDS.values() for spec in kind.indexes])
        self.store.messages_enabled = messages_enabled  # off: the project's Messages Query is not enabled
        self.auth = Auth(project_key, client_id, client_secret,
                         client_scopes or [f"manage_project:{project_key}"])
        self.faults = faults if faults is not None else FaultPlan(seed=seed)
        self._errors_shaped = 0
        # What a throttle fault answers: 503 OverCapacity is the API's general overload signal; 429
        # with Retry-After is what its rate-limited endpoints answer (tests pick either).
        self.throttle_status = 503
        self.app = FaultMiddleware(Api(self.store, self.auth).build(), self.faults, self._shape)

    def credentials(self, base_url: str) -> dict:
        return {"api_url": base_url, "auth_url": base_url, "project_key": self.project_key,
                "client_id": self.auth.client_id, "client_secret": self.auth.client_secret,
                "scopes": " ".join(self.auth.client_scopes)}

    def expire_tokens(self) -> None:
        """Invalidate every issued access token (the next API call gets 401 invalid_token)."""
        self.auth.expire_tokens()

    def set_clock(self, clock: Callable[[], datetime]) -> None:
        """Use `clock()` (timezone-aware) for createdAt/lastModifiedAt, e.g. to make timestamps reproducible."""
        self.store.clock = clock

    def _shape(self, kind: str, retry_after_s: float) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        if kind == "throttle" and self.throttle_status == 429:
            status, code, message = 429, "TooManyRequests", "Too many requests. Please retry later."
        elif kind == "throttle":
            status, code = 503, "OverCapacity"
            message = "The service is temporarily over capacity. Please retry later."
        else:
            # Alternate 502 (gateway) and 500 (General) so clients see both kinds of server error.
            self._errors_shaped += 1
            status, code = (502, "General") if self._errors_shaped % 2 else (500, "General")
            message = "Bad Gateway" if status == 502 else "Internal Server Error"
        body = json.dumps({"statusCode": status, "message": message,
                           "errors": [{"code": code, "message": message}]}).encode()
        headers = [(b"content-type", b"application/json; charset=utf-8"),
                   (b"content-length", str(len(body)).encode())]
        if kind == "throttle":
            headers.append((b"retry-after", format(retry_after_s, "g").encode()))
        return status, headers, body
