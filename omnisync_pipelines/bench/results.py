"""What a benchmark reports: its figures, the in-run baseline's, the ratio, the target, what bounds it."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field


@dataclass
class BenchResult:
    name: str  # the benchmark module, e.g. "delta"
    title: str
    figures: dict  # omnisync's measurements
    baseline: dict  # the baseline's measurements, same run, same machine
    ratio: float | None  # baseline / omnisync for costs (higher is better), omnisync / baseline for rates
    ratio_meaning: str
    target: str
    met: bool | None  # None: the target is about time and the run was a --quick one, or not measurable
    bounds: str  # what limits the figure
    status: str = "ok"  # ok | gap (not measurable yet, see `bounds`) | error
    extra: dict = field(default_factory=dict)  # e.g. flow/system for API economy

    def as_dict(self) -> dict:
        data = asdict(self)
        extra = data.pop("extra")
        return {**data, **extra}


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 2) if denominator else None


@contextmanager
def stopwatch(into: dict, name: str):
    started = time.perf_counter()
    try:
        yield
    finally:
        into[name] = round(into.get(name, 0.0) + time.perf_counter() - started, 4)


def markdown_table(results: list[dict]) -> str:
    lines = [
        "| benchmark | omnisync | baseline | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        met = {True: "yes", False: "no", None: "–"}[r.get("met")]
        shown = "" if r.get("ratio") is None else f"{r['ratio']}× ({r['ratio_meaning']})"
        state = met if r.get("status") == "ok" else r.get("status")
        lines.append(
            f"| {r['title']} | {_short(r['figures'])} | {_short(r['baseline'])} | {shown} | {r['target']} | {state} |"
        )
    return "\n".join(lines)


def _short(figures: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in figures.items() if not isinstance(v, (dict, list)))
