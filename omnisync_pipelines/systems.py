"""The registry of systems: commercetools on one side, and one line per POS naming its connector
plugin (`connectors/<id>/plugin.py`) and its sandbox plugin (`sandbox/emulators/<id>/plugin.py`).

Adding a POS adds a line here and nothing else outside its two packages (docs/adding-a-pos.md).
Plugins are imported on first use; `register_pos` adds one at run time (the test suite's stand-in).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from omnisync_pipelines.connectors.pos import PosPlugin

COMMERCETOOLS = "commercetools"
DEFAULT_POS = "lightspeed_x"

# pos id -> (connector plugin, sandbox plugin), as "module:attribute"
_POS: dict[str, tuple[str, str | None]] = {
    "lightspeed_x": ("omnisync_pipelines.connectors.lightspeed_x.plugin:PLUGIN",
                     "omnisync_pipelines.sandbox.emulators.lightspeed_x.plugin:PLUGIN"),
    "lightspeed_r": ("omnisync_pipelines.connectors.lightspeed_r.plugin:PLUGIN",
                     "omnisync_pipelines.sandbox.emulators.lightspeed_r.plugin:PLUGIN"),
}
_loaded: dict[str, object] = {}
_generation = [0]  # bumped by `register_pos`; models built from the registry rebuild when it moves


class UnknownSystem(KeyError):
    def __str__(self) -> str:
        return f"unknown POS {self.args[0]!r}; registered: {', '.join(pos_ids())}"


def pos_ids() -> tuple[str, ...]:
    """Every registered POS, in registration order."""
    return tuple(_POS)


def system_ids() -> tuple[str, ...]:
    return (COMMERCETOOLS, *_POS)


def generation() -> int:
    return _generation[0]


def _load(reference: str | object) -> object:
    if not isinstance(reference, str):
        return reference
    if reference not in _loaded:
        module, _, attribute = reference.partition(":")
        _loaded[reference] = getattr(import_module(module), attribute)
    return _loaded[reference]


def pos_plugin(pos: str) -> PosPlugin:
    if pos not in _POS:
        raise UnknownSystem(pos)
    return _load(_POS[pos][0])


def sandbox_plugin(pos: str):
    """The POS's `sandbox.pos.SandboxPos` (None: no emulator)."""
    if pos not in _POS:
        raise UnknownSystem(pos)
    reference = _POS[pos][1]
    return _load(reference) if reference is not None else None


def register_pos(pos: str, plugin: str | object, sandbox: str | object | None = None) -> None:
    """Register a POS at run time (a plugin object or a "module:attribute" reference)."""
    _POS[pos] = (plugin, sandbox)
    _generation[0] += 1


def unregister_pos(pos: str) -> None:
    if _POS.pop(pos, None) is not None:
        _generation[0] += 1
