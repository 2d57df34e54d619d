"""anbu console."""
