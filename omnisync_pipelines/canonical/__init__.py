"""The canonical model: the language between connectors (DESIGN §5). No I/O here."""
