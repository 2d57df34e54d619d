"""The outbox and inbox, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import MetaData, func, select

from anbu_contracts import SafetyCallSignal, SignalKind
from anbu_contracts.topics import SIGNAL_TOPICS
from anbu_runtime.db import Database
from anbu_runtime.outbox import Inbox, Outbox, OutgoingRecord, install

TOPIC = SIGNAL_TOPICS[SignalKind.SAFETY_CALL]


def signal(n: int) -> SafetyCallSignal:
    return SafetyCallSignal(
        occurred_at=datetime(2026, 11, 25, n, tzinfo=UTC),
        source="p1",
        household_id="HH-AAAAAA",
        partner_id="p1",
        partner_event_id=f"e{n}",
        outcome="unanswered",
    )


def setup(url: str) -> tuple[Database, Outbox, Inbox]:
    metadata = MetaData()
    tables = install(metadata)
    db = Database(url)
    db.create_all(metadata)
    return db, Outbox(tables, "test"), Inbox(tables, "consumer")


async def test_staged_records_are_published_in_order_then_removed(database_url: str) -> None:
    db, outbox, _ = setup(database_url)
    events = [signal(n) for n in range(5)]
    await db.run(lambda s: [outbox.add(s, TOPIC, e) for e in events])
    published: list[OutgoingRecord] = []
    stop = asyncio.Event()

    async def publish(batch: list[OutgoingRecord]) -> None:
        published.extend(batch)
        stop.set()

    await asyncio.wait_for(outbox.relay(db, publish, owner="me", stop=stop), timeout=10)
    assert [r.headers["event_id"] for r in published] == [str(e.event_id) for e in events]
    assert [
        SafetyCallSignal.model_validate_json(r.value or b"").partner_event_id for r in published
    ] == [f"e{n}" for n in range(5)]
    assert all(r.key == b"HH-AAAAAA" for r in published)
    remaining = await db.run(
        lambda s: s.execute(select(func.count()).select_from(outbox.tables.outbox)).scalar_one()
    )
    assert remaining == 0
    db.dispose()


async def test_a_crash_between_commit_and_publish_loses_nothing(database_url: str) -> None:
    """The relay fails mid-way (the broker is down): the rows stay and go out later."""
    db, outbox, _ = setup(database_url)
    await db.run(lambda s: outbox.add(s, TOPIC, signal(1)))
    attempts = 0
    delivered: list[OutgoingRecord] = []
    stop = asyncio.Event()

    async def flaky(batch: list[OutgoingRecord]) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("broker unavailable")
        delivered.extend(batch)
        stop.set()

    # The failed batch stays claimed until its lease runs out; with a zero lease the next
    # pass (as after a restart) claims it again at once.
    await asyncio.wait_for(
        outbox.relay(db, flaky, owner="me", stop=stop, lease=timedelta(0)), timeout=15
    )
    assert attempts == 2
    assert len(delivered) == 1
    db.dispose()


async def test_the_inbox_applies_a_message_once(database_url: str) -> None:
    db, _, inbox = setup(database_url)
    first = await db.run(lambda s: inbox.first_time(s, "p1:e1"))
    again = await db.run(lambda s: inbox.first_time(s, "p1:e1"))
    other = await db.run(lambda s: inbox.first_time(s, "p1:e2"))
    assert (first, again, other) == (True, False, True)
    db.dispose()
