"""The OAuth tokens of one account, kept between runs in a file only its owner can read.

A system that rotates the refresh token on every refresh and revokes the old one needs the newest
one to outlive the process that received it (the caller chooses the file's path). It is a secret:
it goes to this file (mode 0600, replaced atomically) and nowhere else, never the operational store
(copied to DuckDB) or a log.
Several processes (Dagster steps, the fast lane) share the file; a lock file serialises refreshes.

The file holds JSON `{"refresh_token", "access_token", "expires_at"}`; an operator may also seed it
with the bare refresh token the app's authorisation returned.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

OWNER_ONLY = 0o600


class TokenFile:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.key = str(self.path.resolve())

    def load(self) -> dict | None:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        if not text:
            return None
        if not text.startswith("{"):
            return {"refresh_token": text}
        try:
            state = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{self.path}: not a token file ({exc.msg}); remove it or put the refresh token in it") from None
        return state if isinstance(state, dict) else None

    def refresh_token(self) -> str | None:
        return (self.load() or {}).get("refresh_token")

    def save(self, state: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, OWNER_ONLY)
        try:
            os.fchmod(descriptor, OWNER_ONLY)  # a leftover file keeps its old mode through O_CREAT
            os.write(descriptor, json.dumps(state).encode("utf-8"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, self.path)  # a reader sees the old token or the new one, never half of one

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path.with_name(f"{self.path.name}.lock"), os.O_RDWR | os.O_CREAT, OWNER_ONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
            os.close(descriptor)
