"""One emulator package per system; each exposes a class with an ASGI `app`."""
