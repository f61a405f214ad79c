"""OAuth as authentication/*.md describe it: an authorization code (single use, 60 s) → access token
(3600 s) + refresh token. A refresh grant returns a new pair and revokes the old access token; the old
refresh token stays usable (a retry) until the new access token is first used (changelog 2026.01.15),
then answers 400 invalid_grant.

PKCE (authorization-code-grant.md): a code authorized with a `code_challenge` (`S256` or `plain`) is
exchanged only with the `code_verifier` it was made from (43-128 characters of `a-zA-Z0-9_-`). A publicly
distributed client (api-clients.md) needs no client secret but must use PKCE. `POST /auth/oauth/revoke`
with the client's credentials and a refresh token invalidates that refresh token and its access tokens
(refresh-token.md, "Revoking Refresh Tokens"); the page prints no response, so an empty 200 answers it."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable

ACCESS_TTL_S = 3600
CODE_TTL_S = 60
DENIED = "The resource owner or authorization server denied the request."
METHODS = ("S256", "plain")
VERIFIER = re.compile(r"[A-Za-z0-9_-]{43,128}")


def challenge_of(verifier: str, method: str = "S256") -> str:
    if method == "plain":
        return verifier
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _invalid_grant(hint: str) -> tuple[int, dict]:
    return 400, {"error": "invalid_grant",
                 "error_description": "The provided authorization grant is invalid, expired or revoked.", "hint": hint}


class OAuth:
    def __init__(self, clock: Callable[[], float], client_id: str, client_secret: str, public: bool = False):
        self.clock = clock
        self.client_id, self.client_secret = client_id, client_secret
        self.public = public  # "publicly distributed": the secret is optional, PKCE mandatory
        self.codes: dict[str, tuple[float, str, str]] = {}  # code -> (expiry, code_challenge, method)
        self.access: dict[str, float] = {}  # access token -> expiry
        self.revoked: set[str] = set()
        self.refresh: dict[str, set[str]] = {}  # live refresh token -> access tokens issued for it
        self.pending: dict[str, str] = {}  # new access token -> the refresh token its first use revokes
        self.issued_by: dict[str, str] = {}  # access token -> refresh token issued with it

    def authorize(self, code_challenge: str = "", code_challenge_method: str = "S256") -> str:
        """The code the consent screen hands the redirect URI; a PKCE challenge binds it to its verifier."""
        if code_challenge and (code_challenge_method not in METHODS or not re.fullmatch(r"[A-Za-z0-9_-]+", code_challenge)):
            raise ValueError("code_challenge must be base64url and code_challenge_method S256 or plain")
        if self.public and not code_challenge:
            raise ValueError("a publicly distributed client must use the Authorization Code Grant with PKCE")
        code = secrets.token_urlsafe(24)
        self.codes[code] = (self.clock() + CODE_TTL_S, code_challenge, code_challenge_method)
        return code

    def _pair(self) -> dict:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.access[access] = self.clock() + ACCESS_TTL_S
        self.refresh[refresh] = {access}
        self.issued_by[access] = refresh
        return {"token_type": "Bearer", "expires_in": ACCESS_TTL_S, "access_token": access, "refresh_token": refresh}

    def client_refused(self, form: dict) -> tuple[int, dict] | None:
        if form.get("client_id") != self.client_id or not self.public and form.get("client_secret") != self.client_secret:
            return 400, {"error": "invalid_client", "error_description": "Client authentication failed"}
        return None

    def grant(self, form: dict) -> tuple[int, dict]:
        refused = self.client_refused(form)
        if refused:
            return refused
        grant = form.get("grant_type")
        if grant == "authorization_code":
            expiry, challenge, method = self.codes.pop(str(form.get("code")), (0, "", ""))
            if expiry <= self.clock():
                return _invalid_grant("Authorization code is expired, incorrect or was issued to a different client")
            if challenge:
                verifier = str(form.get("code_verifier") or "")
                if not VERIFIER.fullmatch(verifier):
                    return 400, {"error": "invalid_request",
                                 "error_description": "The request is missing a required parameter, includes an invalid parameter value.",
                                 "hint": "Check the `code_verifier` parameter"}
                if not secrets.compare_digest(challenge_of(verifier, method), challenge):
                    return _invalid_grant("Failed to verify `code_verifier`.")
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

    def revoke(self, form: dict) -> tuple[int, dict]:
        """Invalidates a refresh token, the access tokens issued with it, and the refresh token it came
        from if that one is still waiting for its successor's first use: the link is broken, and only a
        new authorization code grant reconnects."""
        refused = self.client_refused(form)
        if refused:
            return refused
        token = str(form.get("refresh_token") or "")
        if not token:
            return 400, {"error": "invalid_request", "error_description": "The request is missing a required parameter.",
                         "hint": "Check the `refresh_token` parameter"}
        for access in self.refresh.pop(token, set()):
            self.access.pop(access, None)
            self.revoked.add(access)
            parent = self.pending.pop(access, None)
            for sibling in self.refresh.pop(parent, set()) if parent else ():
                self.access.pop(sibling, None)
                self.revoked.add(sibling)
        return 200, {}

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
        verifier = secrets.token_urlsafe(48)
        code = self.authorize(challenge_of(verifier)) if self.public else self.authorize()
        return self.grant({"client_id": self.client_id, "client_secret": self.client_secret,
                           "grant_type": "authorization_code", "code": code, "code_verifier": verifier})[1]
