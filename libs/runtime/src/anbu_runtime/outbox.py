"""Transactional outbox and inbox.

A handler that changes state and must publish an event writes both in one transaction:
the state change, and an outbox row holding the serialised record. A relay publishes
outbox rows in order with acks=all and deletes them only after the broker acknowledged
them, so a crash between commit and publish delays an event but never loses it. Records
may be published twice after a crash; consumers are idempotent through the inbox, a table
of the event ids each consumer has already applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlmodel import Session

from anbu_contracts.topics import Topic

from .db import Database, UtcDateTime, bulk_insert
from .logs import get_logger
from .metrics import OUTBOX_PENDING

log = get_logger(__name__)
# Ids per IN (...) list: well under the databases' limits on bound parameters.
_IN_CHUNK = 5000


@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]


def outbox_row(topic: Topic, event: BaseModel, now: datetime) -> dict[str, Any]:
    """The outbox row that stages ``event`` on ``topic`` (what ``Outbox.add_many`` inserts).

    Public so a bulk writer can build rows where the events are made (the registry's import
    serialises snapshots in its worker processes) and insert them with its own batch."""
    return {
        "topic": topic.name,
        "key": topic.key_of(event),
        "value": event.model_dump_json().encode(),
        "headers": json.dumps(event_headers(event)),
        "created_at": now,
    }


@dataclass(frozen=True)
class OutboxTables:
    outbox: Table
    inbox: Table


def install(metadata: MetaData) -> OutboxTables:
    """Add the outbox and inbox tables to a service's metadata (once; later calls reuse them)."""
    if "outbox" in metadata.tables and "inbox" in metadata.tables:
        return OutboxTables(outbox=metadata.tables["outbox"], inbox=metadata.tables["inbox"])
    outbox = Table(
        "outbox",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("topic", String(255), nullable=False),
        Column("key", LargeBinary, nullable=True),
        Column("value", LargeBinary, nullable=True),  # None is a tombstone
        Column("headers", Text, nullable=False, default="{}"),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("claimed_by", String(128), nullable=True),
        Column("claimed_at", UtcDateTime(), nullable=True),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(128), primary_key=True),
        Column("message_id", String(255), primary_key=True),
        Column("applied_at", UtcDateTime(), nullable=False),
    )
    return OutboxTables(outbox=outbox, inbox=inbox)


def event_headers(event: BaseModel) -> dict[str, str]:
    """Kafka headers carried with an event: its type and correlation ids."""
    headers: dict[str, str] = {}
    for name in ("type", "event_id", "correlation_id", "causation_id"):
        value = getattr(event, name, None)
        if value is not None:
            headers[name] = str(value)
    return headers


class Outbox:
    """Write side (inside a handler's transaction) and relay side of the outbox."""

    def __init__(self, tables: OutboxTables, service: str) -> None:
        self.tables = tables
        self.service = service
        self._wake = asyncio.Event()

    # -- write side ------------------------------------------------------------------

    def add(self, session: Session, topic: Topic, event: BaseModel) -> None:
        """Stage ``event`` for publication on ``topic`` in the caller's transaction."""
        self.add_raw(
            session,
            topic.name,
            key=topic.key_of(event),
            value=event.model_dump_json().encode(),
            headers=event_headers(event),
        )

    def add_many(self, session: Session, topic: Topic, events: list[BaseModel]) -> None:
        """Stage many events in one statement (bulk imports)."""
        if events:
            now = datetime.now(UTC)
            bulk_insert(session, self.tables.outbox, [outbox_row(topic, e, now) for e in events])

    def add_tombstone(self, session: Session, topic: Topic, key: str) -> None:
        self.add_raw(session, topic.name, key=key.encode(), value=None, headers={})

    def add_raw(
        self,
        session: Session,
        topic: str,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: dict[str, str],
    ) -> None:
        session.execute(
            insert(self.tables.outbox).values(
                topic=topic,
                key=key,
                value=value,
                headers=json.dumps(headers),
                created_at=datetime.now(UTC),
            )
        )

    def notify(self) -> None:
        """Wake the relay after a commit that added rows."""
        self._wake.set()

    # -- relay side ------------------------------------------------------------------

    def _claim(self, session: Session, owner: str, limit: int, lease: timedelta) -> list[Any]:
        """Claim the oldest unclaimed (or abandoned) rows for ``owner``; return them in order."""
        t = self.tables.outbox
        now = datetime.now(UTC)
        stale = now - lease
        ids = [
            row[0]
            for row in session.execute(
                select(t.c.id)
                .where(or_(t.c.claimed_by.is_(None), t.c.claimed_at < stale))
                .order_by(t.c.id)
                .limit(limit)
            )
        ]
        if not ids:
            return []
        session.execute(
            update(t)
            .where(t.c.id.in_(ids))
            .where(or_(t.c.claimed_by.is_(None), t.c.claimed_at < stale))
            .values(claimed_by=owner, claimed_at=now)
        )
        return list(
            session.execute(
                select(t.c.id, t.c.topic, t.c.key, t.c.value, t.c.headers)
                .where(t.c.claimed_by == owner)
                .where(t.c.id.in_(ids))
                .order_by(t.c.id)
            )
        )

    def _pending(self, session: Session) -> int:
        return int(
            session.execute(select(func.count()).select_from(self.tables.outbox)).scalar_one()
        )

    async def relay(
        self,
        db: Database,
        publish: Callable[[list[OutgoingRecord]], Awaitable[None]],
        *,
        owner: str,
        batch: int = 500,
        idle_poll: float = 1.0,
        lease: timedelta = timedelta(seconds=30),
        stop: asyncio.Event | None = None,
    ) -> None:
        """Publish outbox rows until ``stop`` is set.

        ``publish`` sends a batch in order and returns only after the broker acknowledged
        every record of it.
        """
        t = self.tables.outbox
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                rows = await db.run(lambda s: self._claim(s, owner, batch, lease))
                if rows:
                    await publish(
                        [
                            OutgoingRecord(row.topic, row.key, row.value, json.loads(row.headers))
                            for row in rows
                        ]
                    )
                    await db.run(_deleter(t, [row.id for row in rows]))
                    OUTBOX_PENDING.labels(self.service).set(await db.run(self._pending))
                    continue
                OUTBOX_PENDING.labels(self.service).set(0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep relaying: the rows stay and are retried
                log.warning("outbox relay failed; will retry", error=str(exc))
                await asyncio.sleep(1.0)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=idle_poll)


def _deleter(table: Table, ids: list[int]) -> Callable[[Session], None]:
    def delete_rows(session: Session) -> None:
        session.execute(delete(table).where(table.c.id.in_(ids)))

    return delete_rows


class Inbox:
    """Remembers which messages a consumer has applied, inside the same transaction."""

    def __init__(self, tables: OutboxTables, consumer: str) -> None:
        self.table = tables.inbox
        self.consumer = consumer

    def first_time(self, session: Session, message_id: str) -> bool:
        """Record ``message_id``; False when it was already applied (a redelivery)."""
        return self.first_times(session, [message_id])[0]

    def first_times(self, session: Session, message_ids: Sequence[str]) -> list[bool]:
        """For each id, whether this is its first application, for a whole batch in a few
        statements (one SELECT per 5,000 ids, one bulk INSERT) instead of two per message;
        records the new ones in the caller's transaction. A repeat within ``message_ids``
        counts as applied. A concurrent duplicate (impossible while one instance owns the
        partition) would fail the whole transaction on the primary key; the redelivery then
        skips it."""
        table = self.table
        unique = list(dict.fromkeys(message_ids))
        seen: set[str] = set()
        for start in range(0, len(unique), _IN_CHUNK):
            seen.update(
                session.execute(
                    select(table.c.message_id).where(
                        table.c.consumer == self.consumer,
                        table.c.message_id.in_(unique[start : start + _IN_CHUNK]),
                    )
                ).scalars()
            )
        now = datetime.now(UTC)
        bulk_insert(
            session,
            table,
            [
                {"consumer": self.consumer, "message_id": m, "applied_at": now}
                for m in unique
                if m not in seen
            ],
        )
        first: list[bool] = []
        for message_id in message_ids:
            first.append(message_id not in seen)
            seen.add(message_id)
        return first
