"""Outreach domain, pure (no I/O): who is reachable, who should take a task, how offers
move, and when routine contacts fall due."""
