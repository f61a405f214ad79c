"""Emulator of the Lightspeed Retail R-Series API V3 (issue 19): OAuth with rotating refresh tokens,
the leaky-bucket rate limiter with the 2026-03-17 costs, XML-shaped JSON, V3 cursor paging, query
operators (and one-level relation searches), `load_relations`, and the resources omnisync's flows use:
catalog (items, matrices, categories, price levels, tax categories), shops, stock (ItemShop +
InventoryLog), stock documents (purchase orders, transfers, inventory counts), sales (completion, voids,
archive, refunds), layaway reservations and customers with custom fields, written from Lightspeed's own
docs (shared/vendor_api/lightspeed_r/docs); PKCE and refresh-token revocation."""

from omnisync_pipelines.sandbox.emulators.lightspeed_r.emulator import LightspeedREmulator

__all__ = ["LightspeedREmulator"]
