"""Outreach's Alembic migrations (``anbu_outreach/migrations``), run at start under the
schema lock (``ServiceRuntime(migrate=...)``; no ``create_all``).

    python -m anbu_runtime.migrations anbu_outreach.migrations --url URL upgrade
    python -m anbu_runtime.migrations anbu_outreach.migrations --url URL revision -m MSG
"""

from __future__ import annotations

from anbu_runtime.migrations import Migrations

MIGRATIONS = Migrations("anbu_outreach.migrations")
