"""Emulator of the Lightspeed Retail X-Series (formerly Vend) API: 2.0 reads with version cursors,
2.1 product writes, 0.9 register_sales, OAuth, the per-token rate budget and form-encoded webhooks,
written from the public docs (shared/reference/API_FACTS.md §2)."""

from omnisync_pipelines.sandbox.emulators.lightspeed_x.emulator import LightspeedXEmulator

__all__ = ["LightspeedXEmulator"]
