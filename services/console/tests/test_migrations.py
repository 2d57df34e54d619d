"""The console's migrations build exactly the schema its read model describes, on both
databases, and adopt a read model an older console made with ``create_all``."""

from __future__ import annotations

from sqlalchemy import inspect

from anbu_console.adapters.migrations import MIGRATIONS
from anbu_console.adapters.orm import (
    HouseholdView,
    JobView,
    PartnerSignalHour,
    PartnerSignalSeen,
    ReadModelVersion,
    metadata,
)
from anbu_console.adapters.replay import prepare
from anbu_runtime.db import Database
from anbu_runtime.migrations import schema_drift

from .builders import household, project_batch, story


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


def test_a_read_model_made_by_create_all_is_adopted_and_kept_not_replayed(
    database_url: str,
) -> None:
    db = Database(database_url)
    db.create_all(metadata)  # what every console before migrations did at start
    with db.session() as s:
        assert prepare(s) is True  # a new read model: the topics are replayed into it
        project_batch(s, [*story(), household(9, revision=3)])
    with db.schema_lock():
        MIGRATIONS.upgrade(db)
    assert "alembic_version" in inspect(db.engine).get_table_names()
    assert schema_drift(db, metadata) == []
    with db.session() as s:
        row = s.get(HouseholdView, "HH-CON0009")
        assert row is not None and row.revision == 3  # the folded rows survived
        assert prepare(s) is False  # same read-model version: no replay owed
    db.dispose()


def test_a_read_model_of_an_older_version_is_stamped_then_recreated_in_the_migrated_shape(
    database_url: str,
) -> None:
    """A console from before read model v4 (no signal-hour or job tables, an older version row)."""
    db = Database(database_url)
    db.create_all(metadata)
    with db.session() as s:
        prepare(s)
        s.merge(ReadModelVersion(id=1, version=3))
    for table in (PartnerSignalHour.__table__, PartnerSignalSeen.__table__, JobView.__table__):
        table.drop(db.engine)  # type: ignore[attr-defined]
    with db.schema_lock():
        MIGRATIONS.upgrade(db)  # stamped at 0001: the shape is the read model's to mend
    with db.session() as s:
        assert prepare(s) is True  # version 3: recreated, and the topics are replayed
    assert schema_drift(db, metadata) == []
    db.dispose()
