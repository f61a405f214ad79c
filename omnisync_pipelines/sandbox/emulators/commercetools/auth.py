"""OAuth2 client-credentials tokens and scope checks (`view_x:{projectKey}` / `manage_x:{projectKey}`)."""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass

from .errors import CtError, insufficient_scope, invalid_client, invalid_token

TOKEN_LIFETIME_S = 172800  # 48 h, as in the docs example


@dataclass
class Token:
    scopes: frozenset[str]
    expires_at: float


class Auth:
    def __init__(self, project_key: str, client_id: str, client_secret: str, client_scopes: list[str]):
        self.project_key = project_key
        self.client_id = client_id
        self.client_secret = client_secret
        self.client_scopes = client_scopes
        self.tokens: dict[str, Token] = {}
        self.token_lifetime_s = TOKEN_LIFETIME_S

    def _check_client(self, authorization: str | None) -> None:
        if not authorization or not authorization.lower().startswith("basic "):
            raise invalid_client()
        try:
            client_id, _, secret = base64.b64decode(authorization[6:].strip()).decode().partition(":")
        except ValueError:
            raise invalid_client() from None
        if client_id != self.client_id or not secrets.compare_digest(secret, self.client_secret):
            raise invalid_client()

    def issue(self, authorization: str | None, form: dict) -> dict:
        self._check_client(authorization)
        if form.get("grant_type") != "client_credentials":
            raise CtError(400, "unsupported_grant_type", "Unsupported grant type.",
                          extra_body={"error": "unsupported_grant_type"})
        requested = (form.get("scope") or "").split()
        granted = requested or list(self.client_scopes)
        allowed = set(self.client_scopes)
        owns_project = f"manage_project:{self.project_key}" in allowed
        denied = [s for s in granted if s not in allowed and not owns_project]
        if denied:
            message = f"Illegal scope requested: {' '.join(denied)}"
            raise CtError(400, "invalid_scope", message, extra_body={"error": "invalid_scope",
                                                                     "error_description": message})
        token = secrets.token_urlsafe(24)
        self.tokens[token] = Token(frozenset(granted), time.monotonic() + self.token_lifetime_s)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime_s,
                "scope": " ".join(granted)}

    def expire_tokens(self) -> None:
        """Make every issued token invalid now, so clients must fetch a new one."""
        for token in self.tokens.values():
            token.expires_at = 0.0

    def authenticate(self, authorization: str | None) -> Token:
        """The live bearer token of `authorization`, else 401 invalid_token."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise invalid_token()
        token = self.tokens.get(authorization[7:].strip())
        if token is None or token.expires_at <= time.monotonic():
            raise invalid_token()
        return token

    def check(self, authorization: str | None, project_key: str, any_of: tuple[str, ...]) -> None:
        """401 without a live bearer token; 403 unless it holds manage_project or one of `any_of`."""
        token = self.authenticate(authorization)
        wanted = {f"{name}:{project_key}" for name in ("manage_project", *any_of)}
        if project_key != self.project_key or not wanted & token.scopes:
            raise insufficient_scope(sorted(f"{name}:{project_key}" for name in any_of))
