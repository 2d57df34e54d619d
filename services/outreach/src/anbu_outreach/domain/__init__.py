"""Outreach domain: who should take a task. No I/O here."""
