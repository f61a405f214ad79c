"""Emulator of the Lightspeed Retail R-Series API V3 (issue 19, first part): OAuth with rotating
refresh tokens, the leaky-bucket rate limiter with the 2026-03-17 costs, XML-shaped JSON, V3 cursor
paging, query operators, `load_relations`, and the account resources a POS sync needs, written from
Lightspeed's own docs (shared/vendor_api/lightspeed_r/docs) and shared/reference/API_FACTS.md §3.
Stands alone: no connector imports it yet."""

from omnisync_pipelines.sandbox.emulators.lightspeed_r.emulator import LightspeedREmulator

__all__ = ["LightspeedREmulator"]
