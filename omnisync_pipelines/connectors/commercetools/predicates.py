"""Building query predicates (`where=`) safely."""

from __future__ import annotations


def quote(value: str) -> str:
    """A string literal for a query predicate."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sku_at_channel(sku: str, channel_id: str) -> str:
    return f"sku = {quote(sku)} and supplyChannel(id = {quote(channel_id)})"
