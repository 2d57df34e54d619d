"""Run the console's Alembic migrations (at start-up, under the schema lock).

``python -m anbu_runtime.migrations anbu_console.migrations --url URL upgrade | revision -m MSG``
migrates a database by hand or autogenerates a revision from the models.
"""

from __future__ import annotations

from anbu_runtime.migrations import Migrations

MIGRATIONS = Migrations("anbu_console.migrations")
