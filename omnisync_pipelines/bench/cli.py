"""`omnisync bench`: run, then print JSON (one object per benchmark) or a markdown table."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from omnisync_pipelines.bench import runner
from omnisync_pipelines.bench.results import markdown_table


def main(*, quick: bool, as_json: bool, only: list[str] | None, echo: Callable[[str], None] = print,
         pos: str | None = None) -> int:
    """`pos`: the POS the benchmarks run against (default `systems.DEFAULT_POS`)."""
    try:
        results = runner.run(quick=quick, only=only, progress=_progress, pos=pos)
    except ValueError as exc:
        echo(str(exc))
        return 2
    if as_json:
        echo(json.dumps(results, ensure_ascii=False, indent=1))
    else:
        machine = runner.machine()
        echo(f"omnisync bench{' --quick' if quick else ''}{f' --pos {pos}' if pos else ''} on {machine['nproc']} cores, {machine['cpu']}\n")
        echo(markdown_table(results))
    return 1 if any(r["status"] == "error" for r in results) else 0


def _progress(result: dict) -> None:
    """One line per finished benchmark on stderr, so a long run shows where it is (stdout stays JSON)."""
    print(f"[bench] {result['title']}: {result['status']}, ratio {result.get('ratio')}", file=sys.stderr, flush=True)
