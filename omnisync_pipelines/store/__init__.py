"""Where state lives (DESIGN §4): DuckDB for analysts, an SQLAlchemy operational store for the rest."""
