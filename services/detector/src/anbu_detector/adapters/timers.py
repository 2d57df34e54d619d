"""Durable protocol timers: APScheduler with one persistent job store per partition.

Each running escalation has one job: "wake me when the next step is due". Jobs live in the
detector's database (a job-store table per household partition), so a restart loses none;
an instance runs only the job stores of the partitions it owns, so two instances never fire
the same step (and the step-execution table's primary key refuses a second firing anyway).
Due times are in the shared (possibly accelerated) clock's time; APScheduler runs on the
wall clock, so each is mapped with ``Clock.real_instant``.
"""

from __future__ import annotations

import asyncio
import pickle
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler, run_in_event_loop
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.date import DateTrigger
from apscheduler.util import datetime_to_utc_timestamp
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


class _LoopExecutor(AsyncIOExecutor):  # type: ignore[misc]
    """Jobs found due by the lookup thread are held, then started on the event loop once
    the lookup is over: by then the lookup has removed each fired job from its store, as
    ``AsyncIOScheduler`` (lookup and start in one go on the loop) does. Started sooner, a
    firing could set the escalation's next timer before the lookup removed the fired job
    under the same id — deleting the new timer."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[tuple[Job, list[datetime]]] = []

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        self.held.append((job, run_times))  # in the lookup's thread; one lookup at a time

    def release(self) -> None:
        held, self.held = self.held, []
        for job, run_times in held:
            super()._do_submit_job(job, run_times)


class OffLoopScheduler(AsyncIOScheduler):  # type: ignore[misc]
    """APScheduler on asyncio, its job-store lookups in a worker thread.

    ``AsyncIOScheduler`` looks for due jobs on the event loop, and with SQL job stores that
    is a blocking query per partition's store at every wake-up: 17 % of the loop under the
    priority lane's SOS probes once the probes' protocols had timers. Here a wake-up hands
    the lookup (``_process_jobs``) to a thread, one at a time (a wake-up meanwhile runs
    again after it), and the jobs found due are started on the loop when it is over."""

    _busy = False
    _again = False

    @run_in_event_loop  # type: ignore[untyped-decorator]
    def wakeup(self) -> None:
        self._stop_timer()
        if self._busy:
            self._again = True
            return
        self._busy = True
        lookup = self._eventloop.run_in_executor(None, self._process_jobs)
        lookup.add_done_callback(self._looked_up)

    def _looked_up(self, lookup: asyncio.Future[float | None]) -> None:
        self._busy = False
        for executor in self._executors.values():
            if isinstance(executor, _LoopExecutor):
                executor.release()
        if self.state == STATE_STOPPED or self._eventloop is None:
            return
        if self._again:
            self._again = False
            self.wakeup()
            return
        try:
            wait = lookup.result()
        except Exception:  # the store's database away: look again shortly
            log.exception("protocol timers: job lookup failed")
            wait = 1.0
        self._start_timer(wait)

    def _create_default_executor(self) -> AsyncIOExecutor:
        return _LoopExecutor()


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
        self.scheduler = OffLoopScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 8},
        )
        self.partitions: set[int] = set()
        # What every job's pickled state shares (``set_many`` fills in id, args and time).
        start = datetime(2000, 1, 1, tzinfo=UTC)
        self._template: dict[str, Any] = Job(
            self.scheduler,
            id="template",
            func=fire_step,
            args=("template",),
            kwargs={},
            trigger=DateTrigger(run_date=start),
            executor="default",
            next_run_time=start,
            misfire_grace_time=None,
            coalesce=True,
            max_instances=8,
        ).__getstate__()

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
        """Set many timers (blocking: call it from a thread) with one transaction per
        partition's store, waking the scheduler once.

        Each ``add_job`` was its own transaction (a commit, on SQLite a sync to disk) and
        woke the scheduler; an alert storm sets thousands at once. The rows are written as
        ``SQLAlchemyJobStore.add_job`` writes them (the job's pickled state), replacing any
        earlier timer of the escalation; a ``None`` due time deletes it."""
        by_store: dict[int, list[tuple[str, datetime | None]]] = defaultdict(list)
        for escalation_id, partition, due in timers:
            if partition in self.partitions:  # else another instance owns it (reconciled)
                by_store[partition].append((str(escalation_id), due))
        if not by_store:
            return
        if not self.scheduler.running:  # the stores' tables are made when it starts
            for partition, items in by_store.items():
                for job_id, due in items:
                    self._add_job(partition, job_id, due)
            return
        for partition, items in by_store.items():
            store = self.scheduler._lookup_jobstore(_alias(partition))
            table = store.jobs_t
            rows = [
                self._row(job_id, due, store.pickle_protocol)
                for job_id, due in items
                if due is not None
            ]
            ids = [job_id for job_id, _ in items]
            with self.engine.begin() as conn:
                for start in range(0, len(ids), 5000):
                    conn.execute(table.delete().where(table.c.id.in_(ids[start : start + 5000])))
                if rows:
                    conn.execute(table.insert(), rows)
        self.scheduler.wakeup()

    def _row(self, job_id: str, due: datetime, protocol: int) -> dict[str, Any]:
        run = self.clock.real_instant(due)
        state = {
            **self._template,
            "id": job_id,
            "args": (job_id,),
            "trigger": DateTrigger(run_date=run),
            "next_run_time": run,
        }
        return {
            "id": job_id,
            "next_run_time": datetime_to_utc_timestamp(run),
            "job_state": pickle.dumps(state, protocol),
        }

    def _add_job(self, partition: int, job_id: str, due: datetime | None) -> None:
        if due is None:
            return  # nothing is stored before the scheduler starts but what it adds
        self.scheduler.add_job(
            fire_step,
            trigger=DateTrigger(run_date=self.clock.real_instant(due)),
            args=[job_id],
            id=job_id,
            jobstore=_alias(partition),
            replace_existing=True,
        )

    def set(self, escalation_id: UUID, partition: int, due: datetime | None) -> None:
        """Wake the escalation at ``due`` (shared-clock time); None removes its timer."""
        self.set_many([(escalation_id, partition, due)])
