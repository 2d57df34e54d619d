"""The notifier's migrations build exactly the schema its models describe, on both
databases, and adopt a database its earlier versions made with ``create_all``."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy import insert, inspect, select, text

from anbu_notifier.adapters.migrations import MIGRATIONS
from anbu_notifier.adapters.orm import metadata
from anbu_notifier.adapters.repository import REQUESTS
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


def test_a_database_made_by_create_all_is_adopted_not_made_again(database_url: str) -> None:
    db = Database(database_url)
    install(metadata)
    db.create_all(metadata)  # how the notifier made its schema before it had migrations
    now = datetime.now(UTC)
    with db.engine.begin() as connection:
        connection.execute(
            insert(REQUESTS).values(
                request_key="kept",
                request_id=uuid4(),
                event_id=uuid4(),
                template="t",
                urgency="high",
                priority=1,
                status="queued",
                rejected=False,
                request="{}",
                attempts=0,
                registry_failures=0,
                created_at=now,
                updated_at=now,
            )
        )

    with db.schema_lock():
        MIGRATIONS.upgrade(db)

    with db.engine.connect() as connection:
        assert "alembic_version" in inspect(connection).get_table_names()
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            "0002"  # head: today's create_all is today's schema
        )
        assert connection.execute(select(REQUESTS.c.request_key)).scalars().all() == ["kept"]
    assert schema_drift(db, metadata) == []
    db.dispose()
