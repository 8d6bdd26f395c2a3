"""Customer health: a 0–100 score per customer from documented components (see definitions)."""
