"""A full disk under a service's state directory: writes are refused, nothing is lost or
dead-lettered, nothing is applied twice, and the database is intact when space returns.

The state directory is a 4 MiB tmpfs filled to the last byte; a consumer on the real broker
(the runtime's batch consumer and unit of work, as the detector, console and outreach run
them) keeps receiving records while SQLite answers "database or disk is full". Mounting
needs root (CI runs as root on this kind of machine); elsewhere the case is skipped with
that reason.
"""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import Column, MetaData, String, Table, func, insert, select, text
from sqlmodel import Session

from anbu_contracts import SafetyCallSignal
from anbu_runtime.batch import BatchConsumer, Received
from anbu_runtime.clock import SystemClock
from anbu_runtime.db import Database
from anbu_runtime.kafka import RecordProducer
from anbu_runtime.outbox import Inbox, Outbox, OutgoingRecord, install
from anbu_runtime.uow import Transactions, UnitOfWork

pytestmark = [pytest.mark.faults, pytest.mark.integration]

RECORDS = 300
metadata = MetaData()
applied = Table(
    "applied",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("household_id", String(32), nullable=False),
)
tables = install(metadata)


@dataclass
class Repos:
    session: Session

    def apply(self, signal: SafetyCallSignal) -> None:
        self.session.execute(
            insert(applied).values(event_id=str(signal.event_id), household_id=signal.household_id)
        )


def valid_safety_call(household: str) -> SafetyCallSignal:
    return SafetyCallSignal(
        occurred_at=datetime.now(UTC),
        source="p1",
        household_id=household,
        partner_id="p1",
        partner_event_id=str(uuid4()),
        outcome="unanswered",
    )


class CountingProducer(RecordProducer):
    """The real producer, counting the dead letters the consumer writes for our households
    (the shared topic holds other tests' bad records too)."""

    prefix = ""
    dead_letters = 0

    async def send_batch(self, records: list[OutgoingRecord]) -> None:
        self.dead_letters += sum(
            1
            for r in records
            if r.topic.endswith(".dlq") and (r.key or b"").decode().startswith(self.prefix)
        )
        await super().send_batch(records)


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for the full-disk case needs root")
    path = tmp_path / "state"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> Path:
    """Write a filler file until the filesystem has no byte left."""
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def count(db: Database, household_prefix: str) -> tuple[int, int]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(func.count(), func.count(func.distinct(applied.c.event_id))).where(
                applied.c.household_id.like(f"{household_prefix}%")
            )
        ).one()
    return int(rows[0]), int(rows[1])


async def test_a_full_disk_refuses_writes_loses_nothing_and_recovers_intact(
    kafka_bootstrap: str, state_dir: Path
) -> None:
    prefix = f"HH-FD{uuid4().hex[:6].upper()}"
    group = f"full-disk-{uuid4().hex[:8]}"
    db = Database(f"sqlite:///{state_dir}/service.db")
    db.create_all(metadata)
    tx = Transactions(db, Outbox(tables, group), SystemClock(), Repos, inbox=Inbox(tables, group))

    def apply_batch(uow: UnitOfWork[Repos], batch: list[SafetyCallSignal]) -> None:
        for signal in batch:
            if uow.first_time(str(signal.event_id)):
                uow.repos.apply(signal)

    async def handle(batch: list[Received]) -> None:
        mine = [
            r.event
            for r in batch
            if isinstance(r.event, SafetyCallSignal) and r.event.household_id.startswith(prefix)
        ]
        if mine:
            await tx.run(lambda uow: apply_batch(uow, mine))

    producer = CountingProducer(kafka_bootstrap, group)
    producer.prefix = prefix
    await producer.start()
    consumer = BatchConsumer(
        service=group,
        bootstrap=kafka_bootstrap,
        group_id=group,
        topics=["signals.safety-call.v1"],
        handler=handle,
        producer=producer,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    raw = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await raw.start()
    filler: Path | None = None
    try:
        async with asyncio.timeout(90):
            while not consumer.caught_up:  # noqa: ASYNC110 (a flag of the consumer)
                await asyncio.sleep(0.1)
        filler = fill(state_dir)
        signals = [valid_safety_call(f"{prefix}{n:04d}") for n in range(RECORDS)]
        for signal in signals:
            await raw.send(
                "signals.safety-call.v1",
                signal.model_dump_json().encode(),
                key=signal.household_id.encode(),
            )
        await raw.flush()
        await asyncio.sleep(8)  # the consumer has the records and keeps failing to write them
        assert count(db, prefix) == (0, 0)  # refused: nothing half-written
        assert producer.dead_letters == 0  # an outage, not a bad record: nothing dropped
        assert consumer.running

        started = time.monotonic()
        filler.unlink()  # space again
        async with asyncio.timeout(90):
            while count(db, prefix)[0] < RECORDS:  # noqa: ASYNC110 (rows in a database)
                await asyncio.sleep(0.2)
        recovered_s = time.monotonic() - started
        await asyncio.sleep(2)  # anything applied twice would show by now
        total, distinct = count(db, prefix)
        print(
            f"\nfull disk: produced {RECORDS}, applied {distinct}, lost {RECORDS - distinct}, "
            f"duplicated {total - distinct}, dead-lettered {producer.dead_letters}, "
            f"recovered in {recovered_s:.1f} s"
        )
        assert (total, distinct) == (RECORDS, RECORDS)
        assert producer.dead_letters == 0
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    finally:
        if filler is not None and filler.exists():
            filler.unlink()
        stop.set()
        await running
        await raw.stop()
        await producer.stop()
        db.dispose()
