"""OAuth as authentication/*.md describe it: an authorization code (single use, 60 s) → access token
(3600 s) + refresh token. A refresh grant returns a new pair and revokes the old access token; the old
refresh token stays usable (a retry) until the new access token is first used (changelog 2026.01.15),
then answers 400 invalid_grant."""

from __future__ import annotations

import secrets
from collections.abc import Callable

ACCESS_TTL_S = 3600
CODE_TTL_S = 60
DENIED = "The resource owner or authorization server denied the request."


class OAuth:
    def __init__(self, clock: Callable[[], float], client_id: str, client_secret: str):
        self.clock = clock
        self.client_id, self.client_secret = client_id, client_secret
        self.codes: dict[str, float] = {}  # code -> expiry
        self.access: dict[str, float] = {}  # access token -> expiry
        self.revoked: set[str] = set()
        self.refresh: dict[str, set[str]] = {}  # live refresh token -> access tokens issued for it
        self.pending: dict[str, str] = {}  # new access token -> the refresh token its first use revokes
        self.issued_by: dict[str, str] = {}  # access token -> refresh token issued with it

    def authorize(self) -> str:
        code = secrets.token_urlsafe(24)
        self.codes[code] = self.clock() + CODE_TTL_S
        return code

    def _pair(self) -> dict:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.access[access] = self.clock() + ACCESS_TTL_S
        self.refresh[refresh] = {access}
        self.issued_by[access] = refresh
        return {"token_type": "Bearer", "expires_in": ACCESS_TTL_S, "access_token": access, "refresh_token": refresh}

    def grant(self, form: dict) -> tuple[int, dict]:
        if form.get("client_id") != self.client_id:
            return 400, {"error": "invalid_client", "error_description": "Client authentication failed"}
        if form.get("client_secret") != self.client_secret:
            return 400, {"error": "invalid_client", "error_description": "Client authentication failed"}
        grant = form.get("grant_type")
        if grant == "authorization_code":
            expiry = self.codes.pop(str(form.get("code")), 0)
            if expiry <= self.clock():
                return 400, {"error": "invalid_grant", "error_description": "The provided authorization grant is invalid, expired or revoked.",
                             "hint": "Authorization code is expired, incorrect or was issued to a different client"}
            return 200, self._pair()
        if grant == "refresh_token":
            old = str(form.get("refresh_token"))
            if old not in self.refresh:
                return 400, {"error": "invalid_grant", "error_description": "The refresh token is invalid.",
                             "hint": "Token has been revoked"}
            for stale in self.refresh[old]:  # the old access token dies at once
                self.access.pop(stale, None)
                self.revoked.add(stale)
            pair = self._pair()
            self.pending[pair["access_token"]] = old
            return 200, pair
        if not grant:
            return 400, {"error": "invalid_request", "error_description": "The request is missing a required parameter.",
                         "hint": "Check the `grant_type` parameter"}
        return 400, {"error": "unsupported_grant_type", "error_description": "The authorization grant type is not supported."}

    def check(self, token: str) -> str | None:
        """None when the token may be used, else the 401 hint."""
        if token in self.revoked:
            return "Access token has been revoked"
        if self.access.get(token, 0) <= self.clock():
            return "Access token could not be verified"
        old = self.pending.pop(token, None)
        if old is not None:  # first use of a refreshed token: its parent refresh token is revoked
            for sibling in self.refresh.pop(old, set()):
                if sibling != token and sibling in self.access:
                    self.access.pop(sibling)
                    self.revoked.add(sibling)
        return None

    def bearer(self) -> dict:
        """A pair without the consent screen (sandbox helper)."""
        return self.grant({"client_id": self.client_id, "client_secret": self.client_secret,
                           "grant_type": "authorization_code", "code": self.authorize()})[1]
