"""The file that keeps X-Series OAuth tokens between runs (rest/token_file.py).

Contract: only its owner can read it (0600, also when an older file was readable by others); it is
replaced whole, never half-written; an operator can seed it with the bare refresh token; a file
that is not a token file is refused naming its path, not silently ignored.
"""

import os
import stat

import pytest

from omnisync_pipelines.rest.token_file import TokenFile


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_saved_state_is_read_back_and_readable_only_by_its_owner(tmp_path):
    tokens = TokenFile(tmp_path / "state" / "lsx.tokens")
    assert tokens.load() is None and tokens.refresh_token() is None

    tokens.save({"refresh_token": "r-2", "access_token": "a-2", "expires_at": 1_714_644_000.0})

    assert tokens.load() == {"refresh_token": "r-2", "access_token": "a-2", "expires_at": 1_714_644_000.0}
    assert mode(tokens.path) == 0o600
    assert [p.name for p in tokens.path.parent.iterdir()] == ["lsx.tokens"]  # no temporary file left behind


def test_a_file_once_readable_by_others_is_tightened_on_the_next_save(tmp_path):
    path = tmp_path / "lsx.tokens"
    path.write_text("r-1")
    path.chmod(0o644)
    tokens = TokenFile(path)
    assert tokens.refresh_token() == "r-1"  # seeded by an operator with the bare token

    tokens.save({"refresh_token": "r-2"})

    assert mode(path) == 0o600 and tokens.refresh_token() == "r-2"


def test_a_file_that_is_not_a_token_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "lsx.tokens"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=str(path)):
        TokenFile(path).load()


def test_the_lock_file_is_private_too(tmp_path):
    tokens = TokenFile(tmp_path / "lsx.tokens")
    with tokens.locked():
        assert mode(tmp_path / "lsx.tokens.lock") == 0o600
