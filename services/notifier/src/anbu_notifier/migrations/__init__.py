"""Alembic migrations of the notifier's database."""
