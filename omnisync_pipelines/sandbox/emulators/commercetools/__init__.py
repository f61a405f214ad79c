"""Emulator of the commercetools Composable Commerce HTTP API (auth, query, update, import)."""

from .emulator import CommercetoolsEmulator

__all__ = ["CommercetoolsEmulator"]
