"""The detector's database is made by its migrations: on both databases, by a database that
``create_all`` made before the migrations existed, and by replicas starting together."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, insert, inspect, text

from anbu_detector.adapters.migrations import MIGRATIONS
from anbu_detector.adapters.orm import AlertRow, metadata, rhythm_of
from anbu_detector.bootstrap import DetectorSettings, create
from anbu_runtime.db import Database
from anbu_runtime.migrations import schema_drift
from anbu_runtime.settings import CommonSettings

HEAD = "0007"


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


def _as_before_migrations(db: Database) -> None:
    """The schema ``create_all`` made before the detector had migrations: revision 0001's
    tables (the models of the day) without the version table."""
    command.upgrade(MIGRATIONS.config(db.url), "0001")
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))


def test_a_database_made_by_create_all_is_adopted_and_keeps_its_rows(database_url: str) -> None:
    db = Database(database_url)
    _as_before_migrations(db)
    alert_id, escalation_id = uuid.uuid4(), uuid.uuid4()
    at = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    with db.session() as session:
        # Written as revision 0001's columns (the model has gained some since).
        household = {
            "household_id": "HH-OLD000001",
            "partition": 3,
            "revision": 1,
            "status": "active",
            "timezone": "Asia/Seoul",
            "quiet_start": time(0, 0),
            "quiet_end": time(0, 0),
            "programme": "default",
            "windows": {},
            "rule_overrides": {},
            "medical_aid": False,
            "landlord_on_file": False,
            "guardians_on_file": False,
            "dong_code": "1111051500",
        }
        session.execute(insert(metadata.tables["household"]).values(household))
        # An alert and the escalation it started, written before alerts kept the link.
        alert = {
            "alert_id": alert_id,
            "household_id": "HH-OLD000001",
            "reason": "arrears",
            "severity": "caution",
            "status": "open",
            "opened_at": at,
            "rule": {},
            "evidence": [],
        }
        session.execute(insert(metadata.tables["alert"]).values(alert))
        escalation = {
            "escalation_id": escalation_id,
            "alert_id": alert_id,
            "household_id": "HH-OLD000001",
            "partition": 3,
            "protocol_id": "welfare-check",
            "protocol_version": "1",
            "status": "running",
            "triggered_at": at,
            "steps": {},
            "approvals": [],
            "advanced": [],
            "trigger_facts": {},
        }
        session.execute(insert(metadata.tables["escalation"]).values(escalation))
        session.commit()
    with db.schema_lock():
        MIGRATIONS.upgrade(db)  # stamped at the first revision, not created again
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
        assert conn.execute(text("SELECT count(*) FROM household")).scalar() == 1
    assert schema_drift(db, metadata) == []
    with db.session() as session:
        row = session.get(AlertRow, alert_id)
        assert row is not None and row.escalation_id == escalation_id  # linked by 0002
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


def test_learned_weeks_stored_as_text_are_converted_to_bytes_and_back(database_url: str) -> None:
    """0005: a week written as 42 comma-separated counts (0003's form) reads back the same
    from the counters' bytes; a downgrade writes the text again; a malformed week is none,
    as it was read before."""
    db = Database(database_url)
    config = MIGRATIONS.config(db.url)
    command.upgrade(config, "0004")
    counts = [n * 7 % 13 for n in range(42)]
    counts[5] = 1234
    text_week = ",".join(map(str, counts))
    clock = "INSERT INTO channel_clock (household_id, channel, partition, last_active, silent, "
    with db.engine.begin() as conn:
        for n, week in enumerate([text_week, "1,2,3", None]):
            conn.execute(
                text(
                    clock + "rhythm_since, rhythm_last_block, rhythm_outages, rhythm_hits) "
                    "VALUES (:h, 'phone', 3, 1.5, false, 1.0, 99, 2, :w)"
                ),
                {"h": f"HH-WEEK0000{n}", "w": week},
            )
    command.upgrade(config, HEAD)  # through 0005, which converts the weeks
    assert schema_drift(db, metadata) == []
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT rhythm_since, rhythm_last_block, rhythm_outages, rhythm_week "
                "FROM channel_clock ORDER BY household_id"
            )
        ).all()
    converted = rhythm_of(*rows[0])
    assert converted is not None and list(converted.hits) == counts
    assert (converted.since, converted.last_block, converted.outages) == (1.0, 99, 2)
    assert rows[1][3] is None and rhythm_of(*rows[1]) is None  # not a week: none, as before
    assert rows[2][3] is None
    command.downgrade(config, "0004")
    with db.engine.connect() as conn:
        back = conn.execute(
            text("SELECT rhythm_hits FROM channel_clock ORDER BY household_id")
        ).all()
    assert [w for (w,) in back] == [text_week, None, None]
    db.dispose()


def test_the_alert_listing_reads_the_newest_of_a_status_through_an_index(tmp_path: Path) -> None:
    """``GET /v1/alerts`` (status, newest first, a limit) walks (status, opened_at) instead of
    reading every alert of the status and sorting them (migration 0007)."""
    db = Database(f"sqlite:///{tmp_path / 'plan.db'}")
    with db.schema_lock():
        MIGRATIONS.upgrade(db)
    query = (
        "EXPLAIN QUERY PLAN SELECT * FROM alert WHERE status = 'open' "
        "ORDER BY opened_at DESC LIMIT 200"
    )
    with db.engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.execute(text(query)))
    db.dispose()
    assert "ix_alert_status_opened_at" in plan and "TEMP B-TREE" not in plan, plan
