"""Notifier domain: rendering messages. No I/O here."""
