"""Reference expansion (`?expand=paymentInfo.payments[*]`): a reference `{"typeId", "id"}` named by
the path gains `obj`, the referenced resource as it is now. Paths are dotted, `[*]` expands every
element of an array, `[N]` one element; a path that names nothing is ignored, as the API does."""

import re

from .store import Store, clone

_SEGMENT = re.compile(r"^(?P<name>[A-Za-z0-9_]+)(?:\[(?P<index>\*|\d+)\])?$")


def expand(resource: dict, paths: list[str], store: Store) -> dict:
    """A copy of `resource` with the references named by `paths` expanded."""
    if not paths:
        return resource
    out = clone(resource)
    for path in paths:
        _expand(out, path.split("."), store)
    return out


def _expand(node, segments: list[str], store: Store) -> None:
    if not segments or not isinstance(node, dict):
        return
    match = _SEGMENT.match(segments[0])
    if match is None:
        return
    value = node.get(match["name"])
    index = match["index"]
    if index is None:
        targets = [value]
    elif not isinstance(value, list):
        return
    elif index == "*":
        targets = value
    else:
        targets = value[int(index) : int(index) + 1]
    for target in targets:
        if not isinstance(target, dict):
            continue
        if len(segments) == 1:
            _resolve(target, store)
        else:
            # a deeper path first goes through the expanded object of a reference
            _expand(target.get("obj", target) if "typeId" in target else target, segments[1:], store)


def _resolve(reference: dict, store: Store) -> None:
    if "typeId" in reference and "id" in reference:
        found = store.get(reference["typeId"], reference["id"])
        if found is not None:
            reference["obj"] = clone(found)
