"""Durable protocol timers: APScheduler with one persistent job store per partition.

Each running escalation has one job: "wake me when the next step is due". Jobs live in the
detector's database (a job-store table per household partition), so a restart loses none;
an instance runs only the job stores of the partitions it owns, so two instances never fire
the same step (and the step-execution table's primary key refuses a second firing anyway).
Due times are in the shared (possibly accelerated) clock's time; APScheduler runs on the
wall clock, so each is mapped with ``Clock.real_instant``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from uuid import UUID

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from anbu_runtime.clock import Clock
from anbu_runtime.db import SCHEMA_LOCK_KEY, sibling_engine
from anbu_runtime.logs import get_logger

log = get_logger(__name__)

Fire = Callable[[str], Awaitable[None]]
_FIRE: Fire | None = None


async def fire_step(escalation_id: str) -> None:
    """The job function (a module-level reference, so jobs survive restarts)."""
    if _FIRE is None:
        raise RuntimeError("the detector's timers are not started")
    await _FIRE(escalation_id)


def timers_engine(database_url: str) -> Engine:
    """The main database on PostgreSQL; a sibling file on SQLite (one writer at a time)."""
    return sibling_engine(database_url, "timers")


def _alias(partition: int) -> str:
    return f"p{partition:02d}"


class StepTimers:
    def __init__(self, engine: Engine, clock: Clock, fire: Fire) -> None:
        global _FIRE
        _FIRE = fire
        self.engine = engine
        self.clock = clock
        # A run re-arms its own job when the escalation's next step is due too (catching up
        # after downtime); with one instance allowed, APScheduler skips that firing while the
        # first run is still finishing, and a skipped date job is gone. Several instances are
        # safe: every firing runs under the consumer's lock and a step executes once (the
        # step-execution table's primary key).
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 8},
        )
        self.partitions: set[int] = set()
        self._writers = 0
        self._writers_lock = threading.Lock()

    def start(self) -> None:
        if not self.scheduler.running:
            self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def add_partitions(self, partitions: set[int]) -> None:
        for partition in sorted(partitions - self.partitions):
            self._forget_if_clock_changed(partition)
            self.scheduler.add_jobstore(
                SQLAlchemyJobStore(engine=self.engine, tablename=f"timers_{_alias(partition)}"),
                alias=_alias(partition),
            )
            self.partitions.add(partition)

    def _clock_mapping(self) -> str:
        """The shared clock's simulated → wall-clock mapping, as two mapped instants."""
        return "/".join(
            f"{self.clock.real_instant(datetime(year, 1, 1, tzinfo=UTC)).timestamp():.3f}"
            for year in (2000, 2100)
        )

    def _forget_if_clock_changed(self, partition: int) -> None:
        """Drop a partition's jobs stored under another clock mapping.

        Jobs hold wall-clock run times mapped with the clock of the instance that stored
        them; after the shared clock jumps (a new ``ANBU_CLOCK_START``, another speed) they
        would fire at the wrong moment, days late. The escalations' due times are durable
        in simulated time, so the partition's reconciliation re-arms every dropped timer
        with the current mapping (overdue steps then run at once, in order).
        """
        mapping, store = self._clock_mapping(), _alias(partition)
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Replicas loading partitions together would both CREATE the table; PostgreSQL
                # fails one (pg_type unique violation) even with IF NOT EXISTS.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            conn.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS timers_clock"
                    " (store VARCHAR(16) PRIMARY KEY, mapping VARCHAR(80) NOT NULL)"
                )
            )
            stored = conn.execute(
                text("SELECT mapping FROM timers_clock WHERE store = :store"), {"store": store}
            ).scalar()
            if stored == mapping:
                return
            if stored is not None and inspect(conn).has_table(f"timers_{store}"):
                dropped = conn.execute(text(f"DELETE FROM timers_{store}")).rowcount  # noqa: S608
                log.warning("timers of another clock dropped", partition=partition, count=dropped)
            conn.execute(text("DELETE FROM timers_clock WHERE store = :store"), {"store": store})
            conn.execute(
                text("INSERT INTO timers_clock (store, mapping) VALUES (:store, :mapping)"),
                {"store": store, "mapping": mapping},
            )

    def remove_partitions(self, partitions: set[int]) -> None:
        for partition in sorted(partitions & self.partitions):
            self.scheduler.remove_jobstore(_alias(partition), shutdown=True)
            self.partitions.discard(partition)

    def scheduled(self, partition: int) -> set[str]:
        """Ids of the escalations with a job in ``partition``'s store (read without unpickling)."""
        table = f"timers_{_alias(partition)}"
        if not inspect(self.engine).has_table(table):
            return set()
        with self.engine.connect() as conn:
            return {row[0] for row in conn.execute(text(f"SELECT id FROM {table}"))}  # noqa: S608

    def set_many(self, timers: Iterable[tuple[UUID, int, datetime | None]]) -> None:
        """Set many timers (blocking: call it from a thread), waking the scheduler once.

        APScheduler wakes its scheduler after every added job, and on asyncio that wake-up
        scans every job store on the event loop; for a batch that opens thousands of
        escalations that would stall the loop (heartbeats to Kafka, HTTP). The scheduler is
        paused while the batch is written and resumed (one scan) when the last writer is done.
        """
        items = list(timers)
        if not items:
            return
        if len(items) == 1 or not self.scheduler.running:
            for escalation_id, partition, due in items:
                self.set(escalation_id, partition, due)
            return
        with self._writers_lock:
            self._writers += 1
            if self._writers == 1:
                self.scheduler.pause()
        try:
            for escalation_id, partition, due in items:
                self.set(escalation_id, partition, due)
        finally:
            with self._writers_lock:
                self._writers -= 1
                if self._writers == 0 and self.scheduler.running:
                    self.scheduler.resume()

    def set(self, escalation_id: UUID, partition: int, due: datetime | None) -> None:
        """Wake the escalation at ``due`` (shared-clock time); None removes its timer."""
        if partition not in self.partitions:
            return  # another instance owns it and reconciles it on assignment
        job_id = str(escalation_id)
        if due is None:
            with contextlib.suppress(JobLookupError):
                self.scheduler.remove_job(job_id, jobstore=_alias(partition))
            return
        self.scheduler.add_job(
            fire_step,
            trigger=DateTrigger(run_date=self.clock.real_instant(due)),
            args=[job_id],
            id=job_id,
            jobstore=_alias(partition),
            replace_existing=True,
        )
