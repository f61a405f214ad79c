"""Webhook authentication: shared-secret tokens and HMAC-SHA256 body signatures, fail closed.

A token matches only the exact secret; an empty or missing secret matches nothing (not even an
empty token). A signature is `sha256=<hex HMAC of the raw body>`: any change to the body, a wrong
secret or another scheme fails. Where a token may ride is per system: X-Series and commercetools
relays may use `?token=`, a POS whose sender sets headers only headers. Secrets come from OMNISYNC_WEBHOOK_SECRET_<SYSTEM>.
"""

import hashlib
import hmac

import pytest

from omnisync_pipelines import systems
from omnisync_pipelines.webhooks.signatures import (
    Credentials,
    known_systems,
    presented_credentials,
    secrets_from_env,
    sign_body,
    signature_matches,
    token_matches,
)
from omnisync_pipelines_tests.stand_in_pos import RELAYED, STAND_IN, stand_in_registered


@pytest.fixture(autouse=True, scope="module")
def registered_stand_in():
    """A POS whose deliveries are an event stream (its secret in a header), and one behind a relay."""
    with stand_in_registered():
        yield


def test_a_token_matches_only_the_exact_secret():
    assert token_matches("s3cret", "s3cret")
    for wrong in ("s3cre", "s3cret ", "S3CRET", ""):
        assert not token_matches("s3cret", wrong)


@pytest.mark.parametrize("secret", ["", None])
def test_no_secret_fails_closed(secret):
    assert not token_matches(secret, "")
    assert not token_matches(secret, "anything")
    assert not signature_matches(secret, b"{}", sign_body("", b"{}"))


def test_the_signature_is_hmac_sha256_of_the_raw_body():
    body = b'{"name":"order.opened"}'
    expected = "sha256=" + hmac.new(b"key", body, hashlib.sha256).hexdigest()
    assert sign_body("key", body) == expected
    assert signature_matches("key", body, expected)
    assert signature_matches("key", body, expected.upper().replace("SHA256=", "sha256="))  # hex case does not matter
    assert not signature_matches("key", body + b" ", expected)
    assert not signature_matches("other", body, expected)
    assert not signature_matches("key", body, expected.removeprefix("sha256="))
    assert not signature_matches("key", body, "sha1=" + hmac.new(b"key", body, hashlib.sha1).hexdigest())


def test_where_a_token_may_ride_depends_on_the_system():
    query = {"token": "q"}
    assert presented_credentials("lightspeed_x", {}, query) == Credentials(token="q", signature=None)
    assert presented_credentials("commercetools", {}, query) == Credentials(token="q", signature=None)
    assert presented_credentials(STAND_IN, {}, query) is None
    assert presented_credentials(STAND_IN, {"x-omnisync-token": "h"}, query) == Credentials(token="h", signature=None)
    assert presented_credentials("lightspeed_x", {"x-omnisync-token": "h"}, query).token == "h"
    signed = presented_credentials(RELAYED, {"x-omnisync-signature": "sha256=ab"}, {})
    assert signed == Credentials(token=None, signature="sha256=ab")
    assert presented_credentials("lightspeed_x", {}, {}) is None


def test_secrets_come_from_the_environment_per_system():
    env = {"OMNISYNC_WEBHOOK_SECRET_LIGHTSPEED_X": "x", "OMNISYNC_WEBHOOK_SECRET_TILL_BOX": "", "OTHER": "y"}
    assert secrets_from_env(env) == {"lightspeed_x": "x"}
    env["OMNISYNC_WEBHOOK_SECRET_TILL_BOX"] = "t"  # a registered POS gets its secret the same way
    assert secrets_from_env(env) == {"lightspeed_x": "x", STAND_IN: "t"}
    assert set(known_systems()) == set(systems.system_ids()) >= {"commercetools", "lightspeed_x", STAND_IN, RELAYED}
