"""The gateway's migrations build exactly the schema its models describe, on both databases,
and adopt a database its earlier versions made with ``create_all``."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, text

from anbu_gateway.adapters import submission_log as log_repo
from anbu_gateway.adapters.migrations import MIGRATIONS
from anbu_gateway.adapters.orm import metadata
from anbu_gateway.adapters.submission_log import NewEntry
from anbu_runtime.db import Database
from anbu_runtime.migrations import schema_drift
from anbu_runtime.outbox import install


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


def test_a_database_made_by_create_all_is_stamped_and_kept_not_made_again(
    database_url: str,
) -> None:
    db = Database(database_url)
    install(metadata)
    db.create_all(metadata)  # what gateways before the migrations did at start
    entry = NewEntry("e-1", "arrears", "0" * 16, 2, None)
    with db.session() as session:
        log_repo.reserve(session, "p-1", "SUB-1", [entry], datetime.now(UTC))
    assert "alembic_version" not in inspect(db.engine).get_table_names()
    with db.schema_lock():
        MIGRATIONS.upgrade(db)
    with db.engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == "0001"
    with db.session() as session:
        assert set(log_repo.existing(session, "p-1", ["e-1"])) == {"e-1"}  # the row survived
    assert schema_drift(db, metadata) == []
    db.dispose()
