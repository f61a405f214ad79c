"""X-Series error bodies, and the connector's own sync-level errors.

Error bodies vary: `{"error": "..."}`, `{"error": ..., "details": ...}`, `{"errors": {"global": [...]}}`.
"""

from __future__ import annotations


def error_codes(body) -> list[str]:
    if not isinstance(body, dict):
        return []
    codes = []
    if isinstance(body.get("error"), str):
        codes.append(body["error"])
    errors = body.get("errors")
    if isinstance(errors, dict):
        for messages in errors.values():
            codes.extend(str(m) for m in (messages if isinstance(messages, list) else [messages]))
    return codes


class InventoryNotVerified(RuntimeError):
    """An absolute inventory write was accepted but the re-read shows another count."""

    def __init__(self, product_id: str, outlet_id: str, wanted: int, found: int | None):
        super().__init__(f"inventory of product {product_id} at outlet {outlet_id}: wrote {wanted}, read back {found}")
        self.product_id, self.outlet_id, self.wanted, self.found = product_id, outlet_id, wanted, found
