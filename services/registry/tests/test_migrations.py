"""The registry's migrations build exactly the schema its models describe, on both databases."""

from __future__ import annotations

from anbu_registry.adapters.migrations import MIGRATIONS
from anbu_registry.adapters.orm import metadata
from anbu_runtime.db import Database
from anbu_runtime.migrations import schema_drift


def test_migrations_reach_the_models_and_a_second_run_changes_nothing(
    database_url: str,
) -> None:
    db = Database(database_url)
    with db.schema_lock():
        MIGRATIONS.upgrade(db)
    assert schema_drift(db, metadata) == []
    with db.schema_lock():
        MIGRATIONS.upgrade(db)  # a replica starting after the first finds nothing to do
    assert schema_drift(db, metadata) == []
    db.dispose()
