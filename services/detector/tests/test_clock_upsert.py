"""The heartbeat flush's channel-clock upsert, on SQLite and PostgreSQL alike: what it
stores, and on PostgreSQL a slice as one statement (a statement per row was most of the
store's cost of a heartbeat at 150,000 households, ``docs/performance.md``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from anbu_detector.adapters.index_store import ChannelClockRow
from anbu_detector.adapters.migrations import MIGRATIONS
from anbu_detector.adapters.orm import metadata
from anbu_detector.adapters.repository import Repository
from anbu_runtime.db import Database
from anbu_runtime.outbox import install

WEEK = bytes(range(84))  # a learned week's 42 counters as stored (``orm.rhythm_columns``)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    install(metadata)
    database = Database(database_url)
    MIGRATIONS.upgrade(database)
    yield database
    database.dispose()


def upsert(db: Database, rows: list[ChannelClockRow]) -> None:
    with db.session() as session:
        Repository(session).upsert_channels(rows)
        session.commit()


def clocks(db: Database) -> dict[tuple[str, str], tuple[Any, ...]]:
    with db.session() as session:
        chunks = Repository(session).channel_clocks({0, 1, 2})
        found = [row for chunk in chunks for row in chunk]
        return {
            (r[0], r[2]): (r[1], *(bytes(v) if isinstance(v, memoryview) else v for v in r[3:]))
            for r in found
        }


def test_clocks_are_inserted_then_updated_keeping_a_week_not_rewritten(db: Database) -> None:
    upsert(
        db,
        [
            ("HH-1", "phone", 0, 100.0, False, 50.0, 7, 1, WEEK),
            ("HH-2", "phone", 1, 200.0, True, None, None, None, None),
        ],
    )
    # A later flush: HH-1's clock moved and it learned nothing (its week is kept), HH-2
    # came back and learned its first week, HH-3 is new.
    upsert(
        db,
        [
            ("HH-1", "phone", 0, 160.5, False, None, None, None, None),
            ("HH-2", "phone", 1, 260.0, False, 60.0, 8, 0, WEEK),
            ("HH-3", "smart_plug", 2, 300.0, False, None, None, None, None),
        ],
    )
    assert clocks(db) == {
        ("HH-1", "phone"): (0, 160.5, False, 50.0, 7, 1, WEEK),
        ("HH-2", "phone"): (1, 260.0, False, 60.0, 8, 0, WEEK),
        ("HH-3", "smart_plug"): (2, 300.0, False, None, None, None, None),
    }


def test_a_clock_twice_in_one_flush_is_stored_as_its_later_row(db: Database) -> None:
    # The flush takes each clock once (a set); should one come twice, PostgreSQL refuses a
    # statement that updates a row twice, so such rows go one by one.
    upsert(
        db,
        [
            ("HH-1", "phone", 0, 100.0, False, 50.0, 7, 1, WEEK),
            ("HH-1", "phone", 0, 130.0, True, None, None, None, None),
        ],
    )
    assert clocks(db) == {("HH-1", "phone"): (0, 130.0, True, 50.0, 7, 1, WEEK)}


def test_a_flush_slice_on_postgresql_is_one_statement(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite's executemany is a loop in the same process: no round trip")
    statements: list[bool] = []

    def seen(*args: Any) -> None:
        statements.append(args[-1])  # executemany: a statement per row

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        upsert(
            db,
            [
                (f"HH-{n}", "phone", n % 3, float(n), False, None, None, None, None)
                for n in range(500)
            ],
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert statements == [False]  # one execute, not an executemany of 500 rows
    assert len(clocks(db)) == 500
