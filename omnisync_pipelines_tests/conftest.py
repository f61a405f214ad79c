"""Shared fixtures. Async tests use anyio's pytest plugin: mark them `@pytest.mark.anyio`."""

import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"
