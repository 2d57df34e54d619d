"""Alembic migrations of outreach's database."""
