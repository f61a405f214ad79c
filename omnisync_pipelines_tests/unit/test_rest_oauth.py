"""Which 401s make an OAuth grant fetch a new token (rest/oauth.py).

Contract: a 401 is a stale token only when its `WWW-Authenticate` header or body carries one of the
grant's markers (RFC 6750 `invalid_token` by default; X-Series adds "Access token is not valid");
any other status, or a 401 for another reason, is left to the caller.
"""

import httpx
import pytest

from omnisync_pipelines.connectors.lightspeed_x.client import TOKEN_REJECTED
from omnisync_pipelines.rest.oauth import INVALID_TOKEN, _is_invalid_token


def response(status: int, body: str = "", **headers) -> httpx.Response:
    return httpx.Response(status, text=body, headers=headers)


@pytest.mark.parametrize(("answer", "markers", "stale"), [
    (response(401, '{"error": "invalid_token"}'), (INVALID_TOKEN,), True),
    (response(401, "", **{"www-authenticate": 'Bearer error="invalid_token"'}), (INVALID_TOKEN,), True),
    (response(401, '{"error": "Access token is not valid"}'), (INVALID_TOKEN,), False),
    (response(401, '{"error": "Access token is not valid"}'), TOKEN_REJECTED, True),
    (response(401, '{"error": "permission denied"}'), TOKEN_REJECTED, False),
    (response(403, '{"error": "Access token is not valid"}'), TOKEN_REJECTED, False),
])
def test_which_401s_are_stale_tokens(answer, markers, stale):
    assert _is_invalid_token(answer, markers) is stale
