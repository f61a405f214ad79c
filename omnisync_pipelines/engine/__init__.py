"""The sync engine: plain Python (no Dagster), validate -> plan -> push -> reconcile."""
