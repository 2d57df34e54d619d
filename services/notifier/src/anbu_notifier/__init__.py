"""anbu notifier."""
