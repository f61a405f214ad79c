"""Options of a sync step: batch size, concurrency, policies."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SyncOptions:
    concurrency: int = 16
    batch_size: int = 500  # records per batch: one ledger transaction per phase of a batch
    negative_stock_policy: str = "allow_negative_and_report"
