"""anbu simulator: a population of households, their partners' feeds, and injected crises."""
