"""The read model's shape check and the reading side of a replay.

:func:`prepare` (at start) says whether the read model must be refilled; :func:`reset`
empties it. :func:`retained` reads every partition from its first retained offset up to the
end it had when the replay started (no consumer group, nothing committed), decoded as the
live consumer decodes; ``handlers/rebuild.py`` folds what it yields with the same
projections as the live consumer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from anbu_contracts.topics import Topic
from anbu_runtime.kafka import DeadLetter, Tombstone, decode_record
from anbu_runtime.logs import get_logger

from ..handlers import stamp
from .orm import READ_MODEL, ReadModelVersion

log = get_logger(__name__)
BATCH = 2000
# Raise when what the projections store changes (a new column filled from history, a
# different fold): the console then drops the read model at start and replays the topics
# into it. A change of a table's shape also needs an Alembic revision (migrations/).
# 3: case_view, timeline label and terms (registry.case.v1)
# 4: partner_signal_hour and partner_signal_seen (signals per partner per hour)
# 5: job_view (progress of partner files and household imports, ops.job.v1)
READ_MODEL_VERSION = 5
LEGACY_TABLES = ("feed",)


def reset(session: Session) -> None:
    """Drop and recreate the read-model tables (not the inbox and outbox)."""
    connection = session.connection()
    tables = [model.__table__ for model in READ_MODEL]  # type: ignore[union-attr]
    for table in reversed(tables):
        table.drop(connection, checkfirst=True)
    for table in tables:
        table.create(connection)


def prepare(session: Session) -> bool:
    """Make sure the read model has the current shape; True when it must be replayed.

    A database without the version row is new, or was built by an older console (or its
    file was deleted while the consumer group kept its offsets): in every case the read
    model is recreated empty and the topics must be replayed into it.

    This is not a migration: the migrations (run before this, under the schema lock) keep
    the tables' shape; ``READ_MODEL_VERSION`` says whether their *contents* are still what
    folding the topics gives. :func:`reset` recreates the tables from the models, which
    equal the newest migration (tests/test_migrations.py fails on any drift).
    """
    connection = session.connection()
    # The migrations make this table; a database of a console older than the version row
    # was stamped at the first revision without it.
    ReadModelVersion.__table__.create(connection, checkfirst=True)  # type: ignore[attr-defined]
    row = session.get(ReadModelVersion, 1)
    if row is not None and row.version == READ_MODEL_VERSION:
        return False
    for name in LEGACY_TABLES:
        connection.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
    reset(session)
    session.merge(ReadModelVersion(id=1, version=READ_MODEL_VERSION))
    log.info("read model recreated; replaying the topics", version=READ_MODEL_VERSION)
    return True


def _decode(record: object) -> BaseModel | None:
    """The record as the live consumer decodes it; None for what it would not project."""
    try:
        event = decode_record(
            getattr(record, "topic", ""),
            getattr(record, "key", None),
            getattr(record, "value", None),
        )
    except (ValidationError, ValueError, DeadLetter):
        return None  # dead-lettered by the live consumer; not part of the read model
    return None if isinstance(event, Tombstone) else event  # the live consumer skips those too


async def retained(
    bootstrap: str, topics: Sequence[Topic]
) -> AsyncIterator[tuple[list[BaseModel], int]]:
    """Every retained record of ``topics`` up to their end at the start, in batches:
    the events the live consumer would project, and how many records it would not."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        begin = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if end[tp] > begin[tp]}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500, max_records=BATCH)
            events: list[BaseModel] = []
            skipped = 0
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= end[tp]:
                        continue
                    event = _decode(record)
                    if event is None:
                        skipped += 1
                    else:
                        events.append(stamp(event, record.timestamp))
            yield events, skipped
            for tp in list(pending):
                if await consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
