"""Revisions of the operational store's schema (see the package docstring one level up)."""
