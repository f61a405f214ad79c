"""The error a write raises: the message and the status the API answers it with (400 for a malformed
or unknown reference, 422 for a well-formed request the account's state refuses, errors.md)."""

from __future__ import annotations


class WriteError(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
