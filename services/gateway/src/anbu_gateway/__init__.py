"""anbu gateway."""
