"""Who may deliver webhooks: per-system shared secrets and HMAC signatures.

A POS that signs nothing and lets us choose only the URL gets a per-retailer secret of ours in it:
`?token=<secret>` in the registered URL (its plugin's `WebhookSpec.query_token`), or the
`X-Omnisync-Token` header where the sender can set headers (event stream callbacks, our own relays). Systems
or relays that can sign send `X-Omnisync-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.
Every comparison is constant-time; an empty or missing secret rejects everything (fail closed).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass

from omnisync_pipelines import systems

TOKEN_HEADER = "x-omnisync-token"
SIGNATURE_HEADER = "x-omnisync-signature"
TOKEN_QUERY = "token"
SECRET_ENV_PREFIX = "OMNISYNC_WEBHOOK_SECRET_"


@dataclass(frozen=True)
class AuthPolicy:
    """Which credentials a system's deliveries may carry."""

    query_token: bool
    header_token: bool = True
    signature: bool = True


def known_systems() -> tuple[str, ...]:
    """The systems the receiver takes deliveries for: commercetools and every registered POS."""
    return systems.system_ids()


def policy(system: str) -> AuthPolicy:
    if system == systems.COMMERCETOOLS:  # push relays (Pub/Sub push from a Subscription) are registered by URL
        return AuthPolicy(query_token=True)
    spec = systems.pos_plugin(system).webhooks
    # without a spec, deliveries come from our relays, which set headers: no secret in URLs that get logged
    return AuthPolicy(query_token=spec.query_token if spec is not None else False)


@dataclass(frozen=True)
class Credentials:
    token: str | None
    signature: str | None


def presented_credentials(system: str, headers: Mapping[str, str], query: Mapping[str, str]) -> Credentials | None:
    """The credentials a request carries under the system's policy; None when it carries none."""
    allowed = policy(system)
    token = None
    if allowed.header_token and headers.get(TOKEN_HEADER):
        token = headers[TOKEN_HEADER]
    elif allowed.query_token and query.get(TOKEN_QUERY):
        token = query[TOKEN_QUERY]
    signature = headers.get(SIGNATURE_HEADER) if allowed.signature else None
    if token is None and not signature:
        return None
    return Credentials(token=token, signature=signature or None)


def token_matches(secret: str | None, token: str) -> bool:
    if not secret:
        return False
    return hmac.compare_digest(secret.encode(), token.encode())


def sign_body(secret: str, body: bytes) -> str:
    """The `X-Omnisync-Signature` value for a body (what a signing sender computes)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str | None, body: bytes, signature: str) -> bool:
    if not secret or not signature.startswith("sha256="):
        return False
    return hmac.compare_digest(sign_body(secret, body).encode(), signature.strip().lower().encode())


def secrets_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`OMNISYNC_WEBHOOK_SECRET_<SYSTEM>` for each known system that has a non-empty one."""
    environ = os.environ if environ is None else environ
    found = {system: environ.get(SECRET_ENV_PREFIX + system.upper(), "") for system in known_systems()}
    return {system: secret for system, secret in found.items() if secret}
