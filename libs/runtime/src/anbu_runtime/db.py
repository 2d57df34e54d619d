"""A service's own database: SQLite by default, PostgreSQL in production.

Handlers run their transactions through :meth:`Database.run`, which executes the blocking
SQLAlchemy work off the event loop. SQLite allows one writer, so a SQLite database gets a
single worker thread and transactions queue instead of failing with "database is locked".
"""

from __future__ import annotations

import asyncio
import fcntl
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import JSON, DateTime, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, create_engine, text

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")

# The advisory lock key every anbu service takes while it creates or migrates its schema
# (any fixed 64-bit number; "anbu" in ASCII).
SCHEMA_LOCK_KEY = 0x616E6275


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def sibling_engine(database_url: str, suffix: str) -> Engine:
    """An engine for a scheduler's job store next to the service database.

    On PostgreSQL it is the main database; on SQLite a sibling file (``<name>-<suffix>.db``),
    so the job store's writes never wait behind the service's writer.
    """
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        engine = create_engine(
            f"sqlite:///{path.removesuffix('.db')}-{suffix}.db",
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(database_url, pool_pre_ping=True)


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine: Engine = create_engine(
                url, echo=echo, connect_args={"check_same_thread": False}
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
            workers = 1
        else:
            self.engine = create_engine(url, echo=echo, pool_size=10, pool_pre_ping=True)
            workers = 8
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="db")
        # Reads on SQLite do not queue behind the single writer: WAL gives each reader a
        # consistent snapshot while a long write transaction (a consumer batch) runs.
        self._readers = (
            ThreadPoolExecutor(max_workers=2, thread_name_prefix="db-read")
            if self.is_sqlite
            else self._executor
        )

    def create_all(self, metadata: Any = None) -> None:
        """Create missing tables (services without migrations yet) under the schema lock."""
        with self.schema_lock():
            (metadata or SQLModel.metadata).create_all(self.engine)

    @contextmanager
    def schema_lock(self) -> Iterator[None]:
        """Held while the schema is created or migrated, so replicas starting together take turns.

        Without it two instances both see a table missing and both CREATE it; PostgreSQL then
        fails one with ``UniqueViolation`` on ``pg_type``. PostgreSQL: a session advisory lock;
        SQLite: an exclusive ``flock`` on ``<file>.schema-lock`` beside the database.
        """
        if self.is_sqlite:
            path = self.url.partition(":///")[2].split("?")[0]
            if not path or path == ":memory:":
                yield
                return
            with open(f"{path}.schema-lock", "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
            return
        with self.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK_KEY}
                )
                connection.commit()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    async def run(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one transaction off the event loop; return its result."""

        def work() -> T:
            with self.session() as session:
                return fn(session)

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, work)

    async def read(self, fn: Callable[[Session], T]) -> T:
        """Run the read-only ``fn(session)`` on a snapshot; on SQLite beside the writer."""

        def work() -> T:
            with Session(self.engine, expire_on_commit=False) as session:
                try:
                    return fn(session)
                finally:
                    session.rollback()

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, work)

    async def ping(self) -> bool:
        def probe(session: Session) -> bool:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            return True

        try:
            return await self.run(probe)
        except Exception:
            return False

    def dispose(self) -> None:
        self._executor.shutdown(wait=True)
        if self._readers is not self._executor:
            self._readers.shutdown(wait=True)
        self.engine.dispose()


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC instants on every database (SQLite forgets offsets otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware instant")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def bulk_insert(
    session: Session,
    table: Any,
    rows: list[dict[str, Any]],
    columns: Sequence[str] | None = None,
) -> None:
    """Insert many rows at once: COPY on PostgreSQL, executemany elsewhere.

    Every row must have the same keys, or at least ``columns`` (the others are left out).
    JSON columns take Python values (they are encoded here for COPY).
    """
    if not rows:
        return
    columns = list(columns if columns is not None else rows[0])
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        _executemany(connection, table, columns, rows)
        return
    if _defaults_left_out(table, columns):
        connection.execute(table.insert(), [{c: row[c] for c in columns} for row in rows])
        return
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    quoted = ", ".join(f'"{c}"' for c in columns)
    statement = f'COPY "{table.name}" ({quoted}) FROM STDIN'
    raw = cast("psycopg.Connection[Any]", connection.connection.dbapi_connection)
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(
                    [
                        json.dumps(row[c], ensure_ascii=False) if c in json_columns else row[c]
                        for c in columns
                    ]
                )
    except connection.dialect.loaded_dbapi.Error as exc:
        # as SQLAlchemy raises it (a duplicate key is its IntegrityError), not the driver's
        error = DBAPIError.instance(statement, None, exc, connection.dialect.loaded_dbapi.Error)
        raise error from exc


def _defaults_left_out(table: Any, columns: Iterable[str]) -> bool:
    """Whether a column the rows leave out has a client-side default (SQLAlchemy's insert
    fills it in; COPY and the driver's executemany would not)."""
    given = set(columns)
    return any(c.default is not None for c in table.columns if c.name not in given)


# (table, columns, dialect) → the INSERT's SQL, its parameters' order and bind processors
_INSERTS: dict[tuple[Any, tuple[str, ...], str], tuple[str, list[str], list[Any]]] = {}


def _executemany(
    connection: Connection, table: Any, names: list[str], rows: list[dict[str, Any]]
) -> None:
    """``INSERT`` the rows with one driver ``executemany`` of plain tuples.

    What ``session.execute(table.insert(), rows)`` does, without SQLAlchemy's per-row
    parameter processing (a dict of parameters built and looked up per row, every value's
    bind processor called through it: half of an alert storm's bulk writes, py-spy): the
    statement is compiled once per table and columns, and each column's bind processor
    (dates as text on SQLite, UUIDs, JSON) runs over the column's values. Columns left out
    must not have a client-side default (SQLAlchemy would fill it in): those go through
    SQLAlchemy as before.
    """
    columns = tuple(names)
    dialect = connection.dialect
    key = (table, columns, dialect.name)
    compiled = _INSERTS.get(key)
    if compiled is None:
        if _defaults_left_out(table, columns):
            connection.execute(table.insert(), [{c: row[c] for c in columns} for row in rows])
            return
        statement = table.insert().compile(dialect=dialect, column_keys=list(columns))
        order = list(statement.positiontup or ())
        if sorted(order) != sorted(columns):  # not a plain positional INSERT: as before
            connection.execute(table.insert(), [{c: row[c] for c in columns} for row in rows])
            return
        processors = [_processor(table.c[name].type, dialect) for name in order]
        compiled = _INSERTS[key] = (statement.string, order, processors)
    sql, order, processors = compiled
    values = []
    for name, process in zip(order, processors, strict=True):
        column = [row[name] for row in rows]
        values.append(column if process is None else list(map(process, column)))
    connection.exec_driver_sql(sql, list(zip(*values, strict=True)))


def _processor(type_: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """The column's bind processor; an instant's remembered (a batch's rows repeat its
    clock's few instants, and formatting one as SQLite's text was 2-3 % of an alert storm's
    worker thread). Only for UTC instants: equal instants, equal text."""
    process: Callable[[Any], Any] | None = type_._cached_bind_processor(dialect)
    if process is None or not isinstance(type_, UtcDateTime):
        return process
    return cast("Callable[[Any], Any]", lru_cache(maxsize=256)(process))
