"""anbu detector: from raw signals to explained alerts and running protocols."""
