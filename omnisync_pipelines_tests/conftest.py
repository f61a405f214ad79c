"""Shared fixtures. Async tests use anyio's pytest plugin: mark them `@pytest.mark.anyio`.

`@pytest.mark.only_pos("lightspeed_x", reason=...)` (or a module's `pytestmark`): a test about one
POS's emulator internals runs against the sandbox of that POS only. It is skipped, with its reason,
for every other parameter of the `sandbox` or `scenario` fixture (defs/, scenarios/ conftest.py), before that sandbox starts.
"""

import os

import pytest

# A run in these tests fails where a step fails, as the reliability and crash-safety stories expect;
# the step retry policy itself is proven in defs/test_step_retries.py. Set before any job is defined.
os.environ.setdefault("OMNISYNC_STEP_RETRIES", "0")

POS_FIXTURES = ("sandbox", "scenario")  # the fixtures parametrised over the POS with an emulator


@pytest.fixture
def anyio_backend():
    return "asyncio"


def pytest_collection_modifyitems(config, items):
    for item in items:
        marker = item.get_closest_marker("only_pos")
        callspec = getattr(item, "callspec", None)
        fixture = next((name for name in POS_FIXTURES if callspec is not None and name in callspec.params), None)
        if marker is None or fixture is None:
            continue
        if callspec.params[fixture] not in marker.args:
            reason = marker.kwargs.get("reason", "POS-specific")
            item.add_marker(pytest.mark.skip(reason=f"{' / '.join(marker.args)} only: {reason}"))
