"""The in-memory index's durable copy: the heartbeat flush's channel clocks and what a
partition load streams back (households and their clocks)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlmodel import Session, col, delete, select

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
    str, str, int, float, bool, float | None, int | None, int | None, str | None
]

_UPSERT = (
    "INSERT INTO channel_clock (household_id, channel, partition, last_active, silent, "
    "rhythm_since, rhythm_last_block, rhythm_outages, rhythm_hits) "
    "VALUES ({0}, {0}, {0}, {0}, {0}, {0}, {0}, {0}, {0}) "
    "ON CONFLICT (household_id, channel) DO UPDATE SET "
    "partition = excluded.partition, last_active = excluded.last_active, "
    "silent = excluded.silent, "
    "rhythm_since = COALESCE(excluded.rhythm_since, channel_clock.rhythm_since), "
    "rhythm_last_block = COALESCE(excluded.rhythm_last_block, channel_clock.rhythm_last_block), "
    "rhythm_outages = COALESCE(excluded.rhythm_outages, channel_clock.rhythm_outages), "
    "rhythm_hits = COALESCE(excluded.rhythm_hits, channel_clock.rhythm_hits)"
)
_UPSERT_SQLITE = _UPSERT.format("?")
_UPSERT_PG = _UPSERT.format("%s")
# Partition loads stream rows in chunks: a million households never sit in memory at once.
_CHUNK = {"yield_per": 5000}


class IndexStore:
    """The channel-clock SQL of :class:`~.repository.Repository` (one session)."""

    session: Session

    # channel clocks (the in-memory index's durable copy)
    def upsert_channels(self, rows: list[ChannelClockRow]) -> None:
        """One executemany through the driver: the heartbeat flush is the hottest write."""
        if not rows:
            return
        connection = self.session.connection()
        postgres = connection.dialect.name == "postgresql"
        connection.exec_driver_sql(_UPSERT_PG if postgres else _UPSERT_SQLITE, rows)

    def forget_channels(self, household_id: str, channels: Iterable[str]) -> None:
        """Consent withdrawn or channel removed: its clock goes."""
        for channel in channels:
            self.session.exec(
                delete(ChannelStateRow).where(
                    col(ChannelStateRow.household_id) == household_id,
                    col(ChannelStateRow.channel) == channel,
                )
            )

    def indexed_households(self, partitions: set[int]) -> Iterator[Any]:
        """The households of ``partitions``, as plain rows of INDEXED_FIELDS (streamed)."""
        return iter(
            self.session.exec(
                select(*[col(getattr(HouseholdRow, name)) for name in INDEXED_FIELDS])
                .where(col(HouseholdRow.partition).in_(partitions))
                .execution_options(**_CHUNK)
            )
        )

    def channel_clocks(self, partitions: set[int]) -> Iterator[Any]:
        """The channel clocks of ``partitions`` as plain rows (streamed)."""
        return iter(
            self.session.exec(
                select(  # type: ignore[call-overload]  # nine columns: past sqlmodel's overloads
                    col(ChannelStateRow.household_id),
                    col(ChannelStateRow.partition),
                    col(ChannelStateRow.channel),
                    col(ChannelStateRow.last_active),
                    col(ChannelStateRow.silent),
                    col(ChannelStateRow.rhythm_since),
                    col(ChannelStateRow.rhythm_last_block),
                    col(ChannelStateRow.rhythm_outages),
                    col(ChannelStateRow.rhythm_hits),
                )
                .where(col(ChannelStateRow.partition).in_(partitions))
                .execution_options(**_CHUNK)
            )
        )
