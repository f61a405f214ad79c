"""Delta cursors over a change column of second precision (`timeStamp`, `updatetime`).

A delta re-reads the cursor's own second (`>=`): rows changed later in that second would otherwise
be lost. So that the re-read does not hand the same rows over again, the cursor also names the rows
of its second by a digest of their content: `<time>|<id>:<digest>,…`. A row read again unchanged is
dropped; a row changed again within the same second has a new digest and comes through. Past
`MAX_BOUNDARY` rows in one second (a bulk import) the cursor names none and they are all read again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable

MAX_BOUNDARY = 500


def digest(row: dict) -> str:
    return hashlib.sha1(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()[:12]


def decode(cursor: str | None) -> tuple[str | None, dict[str, str]]:
    """(the time to read from, row id -> digest of the rows already read at that time)."""
    if not cursor:
        return None, {}
    moment, _, named = cursor.partition("|")
    seen = dict(pair.split(":", 1) for pair in named.split(",") if ":" in pair)
    return moment, seen


def unseen(rows: Iterable[dict], seen: dict[str, str], id_of: Callable[[dict], str]) -> list[dict]:
    return [row for row in rows if seen.get(id_of(row)) != digest(row)]


def encode(rows: list[dict], since: str | None, moment_of: Callable[[dict], str], id_of: Callable[[dict], str],
           order: Callable[[str], object]) -> str | None:
    """The cursor after reading `rows` (every row read, seen before or not); `since` when none."""
    moments = [m for row in rows if (m := moment_of(row))]
    if not moments:
        return since
    last = max(moments, key=order)
    boundary = [row for row in rows if moment_of(row) == last]
    if len(boundary) > MAX_BOUNDARY:
        return last
    return last + "|" + ",".join(f"{id_of(row)}:{digest(row)}" for row in boundary)
