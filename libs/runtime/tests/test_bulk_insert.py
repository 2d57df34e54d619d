"""``bulk_insert`` stores exactly what SQLAlchemy's own ``insert()`` stores, on SQLite and on
PostgreSQL: it runs the driver's executemany (COPY on PostgreSQL) with the columns' bind
processors applied by itself, so the stored text of dates, UUIDs and JSON must not drift."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import JSON, Column, Integer, LargeBinary, MetaData, String, Table, Uuid, text
from sqlalchemy.exc import IntegrityError

from anbu_runtime.db import Database, UtcDateTime, bulk_insert

SEOUL = timezone(timedelta(hours=9))


def tables() -> tuple[MetaData, Table, Table]:
    metadata = MetaData()

    def table(name: str) -> Table:
        return Table(
            name,
            metadata,
            Column("id", Uuid, primary_key=True),
            Column("name", String(32), nullable=False),
            Column("at", UtcDateTime(), nullable=False),
            Column("facts", JSON, nullable=False),
            Column("blob", LargeBinary, nullable=True),
            Column("count", Integer, nullable=True),
            Column("flag", String(8), nullable=False, default="no"),
        )

    return metadata, table("by_sqlalchemy"), table("by_bulk")


@pytest.fixture
def world(database_url: str) -> Iterator[tuple[Database, Table, Table]]:
    """The database under test with both tables: one written by SQLAlchemy, one in bulk."""
    metadata, by_sqlalchemy, by_bulk = tables()
    db = Database(database_url)
    db.create_all(metadata)
    yield db, by_sqlalchemy, by_bulk
    db.dispose()


def rows() -> list[dict[str, Any]]:
    return [
        {
            "id": uuid4(),
            "name": f"row-{n}",
            # one instant in Seoul time: stored in UTC like the others
            "at": datetime(2026, 11, 25, 10, n, 30, 123456, tzinfo=SEOUL if n == 1 else UTC),
            "facts": {"n": n, "text": "한글", "nested": [1, None, True]},
            "blob": None if n == 2 else bytes([n, 0, 255]),
            "count": None if n == 0 else n,
            "flag": "yes",
        }
        for n in range(3)
    ]


def stored(db: Database, table: Table) -> list[tuple[Any, ...]]:
    """The table's rows as the driver reads them (on SQLite the stored text, not parsed
    back by SQLAlchemy's types)."""
    with db.engine.connect() as connection:
        found = connection.execute(text(f"SELECT * FROM {table.name} ORDER BY name"))
        return [tuple(row) for row in found]


def test_bulk_insert_stores_what_sqlalchemy_stores(world: tuple[Database, Table, Table]) -> None:
    db, by_sqlalchemy, by_bulk = world
    given = rows()
    with db.session() as session:
        session.execute(by_sqlalchemy.insert(), given)
        bulk_insert(session, by_bulk, given)
    assert stored(db, by_bulk) == stored(db, by_sqlalchemy)
    with db.session() as session:
        back = session.execute(by_bulk.select().order_by(by_bulk.c.name)).all()
    assert [row.id for row in back] == [row["id"] for row in given]
    assert all(isinstance(row.id, UUID) for row in back)
    assert back[1].at == given[1]["at"] and back[1].at.tzinfo is not None
    assert back[0].facts == given[0]["facts"]


def test_a_column_left_out_gets_its_default(world: tuple[Database, Table, Table]) -> None:
    db, _, table = world
    with db.session() as session:
        bulk_insert(session, table, [{k: v for k, v in r.items() if k != "flag"} for r in rows()])
    with db.session() as session:
        assert {row.flag for row in session.execute(table.select())} == {"no"}


def test_a_duplicate_fails_as_sqlalchemys_integrity_error(
    world: tuple[Database, Table, Table],
) -> None:
    """Callers catch SQLAlchemy's exception (a concurrent duplicate), not the driver's."""
    db, _, table = world
    given = rows()
    with db.session() as session:
        bulk_insert(session, table, given)
    with pytest.raises(IntegrityError), db.session() as session:
        bulk_insert(session, table, [given[0]])
    with db.session() as session:
        assert len(session.execute(table.select()).all()) == 3


def test_only_the_columns_named_are_written(world: tuple[Database, Table, Table]) -> None:
    """A writer may pass its rows' own dicts (no copy each) with other keys in them."""
    db, _, table = world
    given = [{**r, "not_a_column": object()} for r in rows()]
    with db.session() as session:
        bulk_insert(session, table, given, [c.name for c in table.columns])
    assert len(stored(db, table)) == 3
