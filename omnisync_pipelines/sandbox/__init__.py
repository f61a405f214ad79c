"""The sandbox: emulators of the five public APIs, fault injection, and a seeded retail world.

Nothing here is imported by the connectors; the emulators are written from the public API docs
(shared/reference/API_FACTS.md), so a connector mistake cannot hide in shared code.
"""
