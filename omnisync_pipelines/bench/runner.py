"""Runs the benchmarks (all, or `--only NAME`) against one POS (`--pos`, default `systems.DEFAULT_POS`)
and collects one JSON object per result.

A benchmark module is listed here by name and imported only when run; a module that cannot run
yet (the engine piece it measures does not exist) raises `Gap`, reported as a result with
status "gap" instead of failing the run (so does one needing benchmark hooks the POS lacks,
`bench/pos_hooks.py`).
"""

from __future__ import annotations

import importlib
import os
import platform
import traceback
from collections.abc import Callable

from omnisync_pipelines import systems
from omnisync_pipelines.bench.results import BenchResult

BENCHMARKS = ("delta", "economy", "latency", "initial_sync", "throughput", "scaling", "delta_read")


class Gap(Exception):
    """The benchmark cannot be measured in this build; the message says why."""


def run(quick: bool = False, only: list[str] | None = None, progress: Callable[[dict], None] | None = None,
        pos: str | None = None) -> list[dict]:
    names = only or list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        raise ValueError(f"unknown benchmark(s) {sorted(unknown)}; available: {', '.join(BENCHMARKS)}")
    pos = pos or systems.DEFAULT_POS
    if pos not in systems.pos_ids():
        raise ValueError(f"unknown POS {pos!r}; registered: {', '.join(systems.pos_ids())}")
    out: list[dict] = []
    for name in names:
        try:
            module = importlib.import_module(f"omnisync_pipelines.bench.{name}")
            results = module.run(quick=quick, pos=pos)
        except Gap as gap:
            results = [_not_measured(name, "gap", str(gap))]
        except Exception as exc:  # noqa: BLE001  (one broken benchmark must not hide the others' figures)
            results = [_not_measured(name, "error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")]
        for result in results:
            out.append(result.as_dict())
            if progress is not None:
                progress(out[-1])
    return out


def machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model or platform.processor(), "python": platform.python_version()}


def _not_measured(name: str, status: str, why: str) -> BenchResult:
    return BenchResult(name=name, title=name, figures={}, baseline={}, ratio=None, ratio_meaning="", target="",
                       met=None, bounds=why, status=status)
