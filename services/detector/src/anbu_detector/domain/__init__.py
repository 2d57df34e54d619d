"""The detector's functional core: rules, the alert lifecycle and protocols. No I/O here."""
