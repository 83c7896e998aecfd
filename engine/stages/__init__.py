"""Stage implementations: one module per stage family."""
