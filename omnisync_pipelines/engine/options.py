"""Options of a sync step: batch size, concurrency, policies."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SyncOptions:
    concurrency: int = 16
    negative_stock_policy: str = "allow_negative_and_report"
