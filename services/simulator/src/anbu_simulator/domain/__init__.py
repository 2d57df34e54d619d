"""The simulator's pure core: population, rhythms, partner feeds, crises. No I/O here."""
