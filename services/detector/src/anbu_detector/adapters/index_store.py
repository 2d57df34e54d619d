"""The in-memory index's durable copy: the heartbeat flush's channel clocks and what a
partition load streams back (households and their clocks)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from types import SimpleNamespace
from typing import Any

from sqlmodel import Session, col, delete

from .orm import ChannelStateRow, HouseholdRow

# What indexing a household reads of its row (``watch_config`` and ``rules_for``).
INDEXED_FIELDS = (
    "household_id",
    "partition",
    "status",
    "suspended_until",
    "hospital_until",
    "device_status",
    "timezone",
    "quiet_start",
    "quiet_end",
    "programme",
    "windows",
    "rule_overrides",
)
# A channel clock as the heartbeat flush writes it: household, channel, partition,
# last activity (epoch seconds), silent, then its learned week (``orm.RhythmColumns``:
# all None when it learned nothing since it was last written, keeping what is stored).
ChannelClockRow = tuple[
    str, str, int, float, bool, float | None, int | None, int | None, bytes | None
]

_UPSERT = (
    "INSERT INTO channel_clock (household_id, channel, partition, last_active, silent, "
    "rhythm_since, rhythm_last_block, rhythm_outages, rhythm_week) "
    "{0} "
    "ON CONFLICT (household_id, channel) DO UPDATE SET "
    "partition = excluded.partition, last_active = excluded.last_active, "
    "silent = excluded.silent, "
    "rhythm_since = COALESCE(excluded.rhythm_since, channel_clock.rhythm_since), "
    "rhythm_last_block = COALESCE(excluded.rhythm_last_block, channel_clock.rhythm_last_block), "
    "rhythm_outages = COALESCE(excluded.rhythm_outages, channel_clock.rhythm_outages), "
    "rhythm_week = COALESCE(excluded.rhythm_week, channel_clock.rhythm_week)"
)
_UPSERT_SQLITE = _UPSERT.format("VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
_UPSERT_PG = _UPSERT.format("VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)")
# PostgreSQL: a slice as one statement, each column one array. The executemany above is a
# statement per row even pipelined: ~8 µs of the detector's CPU and ~13 µs of the server's
# a row at 150,000 clocks, against ~3 and ~8 (``docs/performance.md``, issue 15).
_UPSERT_PG_ARRAYS = _UPSERT.format(
    "SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::integer[], %s::float8[], "
    "%s::boolean[], %s::float8[], %s::integer[], %s::integer[], %s::bytea[])"
)
# Partition loads stream rows in chunks: a million households never sit in memory at once.
LOAD_CHUNK = 10_000
_JSON_FIELDS = frozenset({"device_status", "windows", "rule_overrides"})
_HOUSEHOLDS = (  # INDEXED_FIELDS, JSON as its text (the {} takes the partitions' marks)
    "SELECT household_id, partition, status, suspended_until, hospital_until, "
    "CAST(device_status AS TEXT), timezone, quiet_start, quiet_end, programme, "
    "CAST(windows AS TEXT), CAST(rule_overrides AS TEXT) FROM household WHERE partition IN ({})"
)
_CLOCKS = (
    "SELECT household_id, partition, channel, last_active, silent, rhythm_since, "
    "rhythm_last_block, rhythm_outages, rhythm_week FROM channel_clock WHERE partition IN ({})"
)


class IndexStore:
    """The channel-clock SQL of :class:`~.repository.Repository` (one session)."""

    session: Session

    # channel clocks (the in-memory index's durable copy)
    def upsert_channels(self, rows: list[ChannelClockRow]) -> None:
        """One executemany through the driver (one statement of arrays on PostgreSQL): the
        heartbeat flush is the hottest write."""
        if not rows:
            return
        connection = self.session.connection()
        if connection.dialect.name != "postgresql":
            connection.exec_driver_sql(_UPSERT_SQLITE, rows)
        elif len({(row[0], row[1]) for row in rows}) < len(rows):
            # One statement may not update a row twice (ON CONFLICT): a clock twice in the
            # rows goes row by row, the later one last, as on SQLite.
            connection.exec_driver_sql(_UPSERT_PG, rows)
        else:
            connection.exec_driver_sql(
                _UPSERT_PG_ARRAYS, tuple(list(c) for c in zip(*rows, strict=True))
            )

    def forget_channels(self, household_id: str, channels: Iterable[str]) -> None:
        """Consent withdrawn or channel removed: its clock goes."""
        for channel in channels:
            self.session.exec(
                delete(ChannelStateRow).where(
                    col(ChannelStateRow.household_id) == household_id,
                    col(ChannelStateRow.channel) == channel,
                )
            )

    def indexed_households(self, partitions: set[int]) -> Iterator[Sequence[Any]]:
        """The households of ``partitions`` as the driver returns them, in chunks of
        ``LOAD_CHUNK`` tuples of INDEXED_FIELDS (JSON columns as their text): a million
        households share a handful of configurations, so the load decodes each distinct
        one once (``typed_household``) instead of every row through the ORM's processors."""
        return self._stream(_HOUSEHOLDS, partitions)

    def typed_household(self, raw: tuple[Any, ...]) -> Any:
        """A row of ``indexed_households`` decoded as the ORM would (``watch_config`` and
        ``rules_for`` read it)."""
        dialect = self.session.connection().dialect
        values = {}
        for name, value in zip(INDEXED_FIELDS, raw, strict=True):
            if name in _JSON_FIELDS:
                values[name] = json.loads(value) if isinstance(value, str) else value
                continue
            column_type = HouseholdRow.__table__.c[name].type  # type: ignore[attr-defined]
            process = column_type.dialect_impl(dialect).result_processor(dialect, None)
            values[name] = process(value) if process is not None else value
        return SimpleNamespace(**values)

    def channel_clocks(self, partitions: set[int]) -> Iterator[Sequence[Any]]:
        """The channel clocks of ``partitions``, in chunks of plain driver tuples: household,
        partition, channel, last activity (epoch seconds), silent, then ``RhythmColumns``."""
        return self._stream(_CLOCKS, partitions)

    def _stream(self, query: str, partitions: set[int]) -> Iterator[Sequence[Any]]:
        """Rows through the DB-API cursor in large chunks (a partition load reads millions:
        SQLAlchemy's row objects and result processors were a third of a restart, py-spy);
        on PostgreSQL a server-side cursor, so no more than a chunk is held at once."""
        connection = self.session.connection()  # inside the unit's transaction
        postgres = connection.dialect.name == "postgresql"
        marks = ", ".join(["%s" if postgres else "?"] * len(partitions))
        dbapi = connection.connection
        cursor = (
            dbapi.driver_connection.cursor(name="anbu_index_load")  # type: ignore[union-attr]
            if postgres
            else dbapi.cursor()
        )
        try:
            cursor.execute(query.format(marks), sorted(partitions))
            while rows := cursor.fetchmany(LOAD_CHUNK):
                yield rows
        finally:
            cursor.close()
