"""Counters of one sync step, with a readable summary; also the run's Dagster metadata."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class SyncStatistics:
    flow: str
    processed: int = 0
    applied: int = 0
    already_applied: int = 0  # the ledger (or the target) already had this key
    noop: int = 0  # nothing to change at the target
    rejected: int = 0
    failed: int = 0  # transient failures left for the next run (ledger status `retrying`)
    recovered: int = 0  # in-flight writes from an interrupted run, resolved from the target's evidence
    deferred: int = 0  # another process held the record (fast lane vs Dagster push); planned again next run
    api_writes: int = 0
    errors: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    def finish(self) -> SyncStatistics:
        self.ended = time.monotonic()
        return self

    @property
    def duration_s(self) -> float:
        return round((self.ended or time.monotonic()) - self.started, 3)

    def summary(self) -> str:
        return (
            f"{self.flow}: {self.processed} processed, {self.applied} applied, {self.already_applied} already applied, "
            f"{self.noop} unchanged, {self.rejected} rejected, {self.failed} failed, {self.recovered} recovered, "
            f"{self.deferred} deferred "
            f"in {self.duration_s}s"
        )

    def as_dict(self) -> dict:
        return {
            "flow": self.flow,
            "processed": self.processed,
            "applied": self.applied,
            "already_applied": self.already_applied,
            "noop": self.noop,
            "rejected": self.rejected,
            "failed": self.failed,
            "recovered": self.recovered,
            "deferred": self.deferred,
            "api_writes": self.api_writes,
            "duration_s": self.duration_s,
        }
