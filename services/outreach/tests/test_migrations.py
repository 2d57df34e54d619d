"""Outreach's migrations build exactly the schema its models describe, on both databases,
and adopt a database that ``create_all`` made before outreach had migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy import insert, inspect, select, text

from anbu_outreach.adapters.migrations import MIGRATIONS
from anbu_outreach.adapters.orm import TaskRow, metadata
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


def test_a_database_made_by_create_all_is_adopted_and_keeps_its_tasks(database_url: str) -> None:
    install(metadata)
    db = Database(database_url)
    db.create_all(metadata)  # how outreach made its database before it had migrations
    now = datetime.now(UTC)
    task_id = uuid4()
    with db.engine.begin() as conn:
        conn.execute(
            insert(TaskRow.__table__).values(
                task_id=task_id,
                origin_key="routine:HH-A:contact:2026-W48",
                household_id="HH-A",
                task_type="routine_contact",
                team=["official"],
                urgency="routine",
                in_person=False,
                deadline=now,
                status="offered",
                preconditions=[],
                vacancies_reported=0,
                created_at=now,
                updated_at=now,
            )
        )
    assert "alembic_version" not in inspect(db.engine).get_table_names()
    with db.schema_lock():
        MIGRATIONS.upgrade(db)  # stamped at 0001 (that schema), not created again
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0001"
        kept = conn.execute(select(TaskRow.__table__.c.task_id)).scalars().all()
    assert kept == [task_id]
    assert schema_drift(db, metadata) == []
    db.dispose()
