"""Alembic migrations of the detector's database (run at start under the schema lock).

The protocol timers' APScheduler job stores (``timers_pNN`` tables, on SQLite a sibling
file) are not here: APScheduler creates and manages them itself.
"""
