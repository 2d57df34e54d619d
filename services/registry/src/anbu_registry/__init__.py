"""anbu registry."""
