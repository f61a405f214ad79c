"""What the CLI shows of a run: progress while it works, what it did, and what a reconcile found.

Progress is per asset step. On a terminal a live panel shows the steps running and for how long, and
each step that ends prints one line with the records it read or wrote (its materialization's
counts); elsewhere (a log file, CI) only those lines are printed. Everything comes from the run's
own Dagster events, so a run the daemon launched from the queue is shown the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dagster._core.events import DagsterEvent

from omnisync_pipelines.runs import RunOutcome, first_line, metadata_values

Echo = Callable[[str], None]
SHOWN_COUNTS = 4  # counts per asset line: the row count first, then the asset's own counters


def counts_of(metadata: dict) -> list[tuple[str, int]]:
    """The integer counts of a materialization: `dagster/row_count` as "rows", then the others."""
    rows = metadata.get("dagster/row_count")
    found = [("rows", int(rows))] if isinstance(rows, int) else []
    found += [(key, value) for key, value in metadata.items()
              if isinstance(value, int) and not isinstance(value, bool) and not key.startswith("dagster/")
              and key != "rows"]
    return found


def counts_text(metadata: dict) -> str:
    """The counts worth a glance: none that is 0, none that repeats the row count."""
    counts = counts_of(metadata)
    rows = dict(counts).get("rows")
    shown = [(key, value) for key, value in counts
             if value and not (key != "rows" and key.startswith("rows") and value == rows)]
    text = ", ".join(f"{key} {value}" for key, value in shown[:SHOWN_COUNTS])
    return (text + (f" (+{len(shown) - SHOWN_COUNTS} more)" if len(shown) > SHOWN_COUNTS else "")) or "nothing to do"


class RunProgress:
    """Feed it a run's events (`runs.run_job(on_event=...)`); use as a context manager."""

    def __init__(self, echo: Echo, live: bool = False):
        self.echo, self.live = echo, live
        self.running: dict[str, float] = {}
        self.done = self.failed = 0
        self._live = None

    def __enter__(self) -> RunProgress:
        if self.live:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(self._panel(), console=Console(stderr=True), refresh_per_second=4, transient=True,
                              get_renderable=self._panel)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def __call__(self, event: DagsterEvent) -> None:
        kind, step = event.event_type_value, event.step_key
        if kind == "STEP_START":
            self.running[step] = time.monotonic()
        elif kind == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            partition = f" [{materialization.partition}]" if materialization.partition else ""
            counts = counts_text(metadata_values(materialization.metadata))
            self._line(f"  ✓ {materialization.asset_key.to_user_string()}{partition}  {counts}")
        elif kind == "STEP_SUCCESS":
            self.done += 1
            self.running.pop(step, None)
        elif kind == "STEP_FAILURE":
            self.failed += 1
            started = self.running.pop(step, time.monotonic())
            error = event.event_specific_data.error if event.event_specific_data else None
            self._line(f"  ✗ {step} after {time.monotonic() - started:.1f} s: "
                       f"{first_line(error) if error else 'failed'}")
        elif kind == "STEP_UP_FOR_RETRY":
            self.running.pop(step, None)
            self._line(f"  ↻ {step}: up for retry ({event.message or 'retry policy'})")

    def _line(self, text: str) -> None:
        if self._live is not None:
            self._live.console.print(text, highlight=False, markup=False)
        else:
            self.echo(text)

    def _panel(self):
        from rich.text import Text

        now = time.monotonic()
        running = ", ".join(f"{step} {now - started:.0f}s" for step, started in self.running.items()) or "-"
        return Text(f"{self.done} steps done, {self.failed} failed; running: {running}")


TOTALS = (("records_read", "records read from the systems"), ("applied", "writes applied"),
          ("rejected", "records rejected"), ("failed", "writes failed (queued for the next run)"))


def closing_summary(outcome: RunOutcome) -> list[str]:
    """What the run did: the outcome line, the totals over its assets, then where the writes went."""
    lines = [outcome.summary()]
    for key, said in TOTALS:
        total = sum(meta[key] for meta in outcome.assets.values() if isinstance(meta.get(key), int))
        if total:
            lines.append(f"  {total} {said}")
    if len(lines) == 1:
        lines.append("  nothing read, written or rejected")
    wrote = {name: meta["applied"] for name, meta in outcome.assets.items() if isinstance(meta.get("applied"), int)
             and meta["applied"]}
    lines += [f"    {name}: {applied} applied" for name, applied in sorted(wrote.items())]
    if any(isinstance(meta.get("rejected"), int) and meta["rejected"] for meta in outcome.assets.values()):
        lines.append("  `omnisync rejected list` shows the rejected records with their reasons")
    return lines


def reconcile_findings(outcome: RunOutcome) -> list[str]:
    """What a reconcile found: stock matches, explained differences and drift (how much above the
    thresholds, the worst rows), and the status counts of orders, returns and customers."""
    lines = ["Findings"]
    stock = outcome.assets.get("reconciliation/stock")
    if stock:
        lines.append(f"  stock: {stock.get('match', 0)} match, {stock.get('explained', 0)} explained, "
                     f"{stock.get('drift', 0)} drift ({stock.get('above_threshold', 0)} above threshold); "
                     f"corrections applied {stock.get('corrections_applied', 0)}")
        worst = str(stock.get("worst_drift") or "").strip()
        if worst and worst != "no drift":
            lines.append("  worst drift above threshold (reconciliation.stock):")
            lines += [f"    {row}" for row in worst.splitlines()[:12]]
    for entity in ("orders", "returns", "customers"):
        counts = outcome.assets.get(f"reconciliation/{entity}")
        if counts:
            lines.append(f"  {entity}: " + (", ".join(f"{k} {v}" for k, v in counts_of(counts) if k != "rows") or "none"))
    if len(lines) == 1:
        lines.append("  nothing was reconciled (no reconciliation asset materialized)")
    return lines
