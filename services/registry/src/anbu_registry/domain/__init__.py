"""The registry's domain: households, people, workers. No I/O here."""
