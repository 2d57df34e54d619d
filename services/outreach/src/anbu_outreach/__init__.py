"""anbu outreach."""
