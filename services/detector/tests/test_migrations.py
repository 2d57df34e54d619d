"""The detector's database is made by its migrations: on both databases, by a database that
``create_all`` made before the migrations existed, and by replicas starting together."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from anbu_detector.adapters.migrations import MIGRATIONS
from anbu_detector.adapters.orm import HouseholdRow, metadata
from anbu_detector.bootstrap import DetectorSettings, create
from anbu_runtime.db import Database
from anbu_runtime.migrations import schema_drift
from anbu_runtime.settings import CommonSettings

HEAD = "0002"
# Columns later revisions added: a database made by ``create_all`` back then lacked them.
LATER_COLUMNS = {
    "channel_clock": ("rhythm_since", "rhythm_last_block", "rhythm_outages", "rhythm_hits")
}


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


def test_a_database_made_by_create_all_is_adopted_and_keeps_its_rows(database_url: str) -> None:
    db = Database(database_url)
    db.create_all(metadata)  # how the detector made its schema before it had migrations
    with db.engine.begin() as conn:
        for table, columns in LATER_COLUMNS.items():
            for column in columns:
                conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    with db.session() as session:
        session.add(
            HouseholdRow(
                household_id="HH-OLD000001",
                partition=3,
                revision=1,
                status="active",
                timezone="Asia/Seoul",
                quiet_start=time(0, 0),
                quiet_end=time(0, 0),
                programme="default",
                dong_code="1111051500",
            )
        )
        session.commit()
    with db.schema_lock():
        MIGRATIONS.upgrade(db)  # stamped at the first revision, not created again
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
        assert conn.execute(text("SELECT count(*) FROM household")).scalar() == 1
    assert schema_drift(db, metadata) == []
    db.dispose()


def _start_together(url: str, var_dir: Path, instances: int) -> list[BaseException]:
    """``instances`` detectors built by the real bootstrap run the real start (migrations
    under the schema lock) at the same moment; Kafka is unreachable, so they stop there."""
    barrier = threading.Barrier(instances)
    errors: list[BaseException] = []

    def start(n: int) -> None:
        common = CommonSettings(
            var_dir=var_dir / str(n), instance_id=f"detector-{n}", kafka_bootstrap="127.0.0.1:1"
        )
        runtime, _ = create(common, DetectorSettings(database_url=url))

        async def run() -> None:
            barrier.wait()
            await runtime.start()
            await runtime.stop()

        try:
            asyncio.run(run())
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(n,)) for n in range(instances)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.integration
def test_four_detectors_starting_together_on_postgresql_migrate_once_ten_times_in_a_row(
    postgres_url: str, tmp_path: Path
) -> None:
    for round_ in range(10):
        schema = f"detector_race_{uuid.uuid4().hex[:10]}"
        admin = create_engine(postgres_url)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{postgres_url}?options=-csearch_path%3D{schema}"
        try:
            assert _start_together(url, tmp_path / str(round_), 4) == []
            db = Database(url)
            assert schema_drift(db, metadata) == []
            with db.engine.connect() as conn:
                versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
            assert [v for (v,) in versions] == [HEAD]
            assert "household" in inspect(db.engine).get_table_names()
            db.dispose()
        finally:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
