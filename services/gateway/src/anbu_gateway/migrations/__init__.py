"""Alembic migrations of the gateway's database (submission log, files, reports)."""
