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
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler, run_in_event_loop
from apscheduler.schedulers.base import STATE_PAUSED, STATE_STOPPED
from apscheduler.triggers.date import DateTrigger
from apscheduler.util import datetime_to_utc_timestamp
from sqlalchemy import Select, Table, func, inspect, select, text
from sqlalchemy.engine import Connection, Engine

from anbu_runtime.clock import Clock
from anbu_runtime.db import SCHEMA_LOCK_KEY, sibling_engine
from anbu_runtime.logs import get_logger

log = get_logger(__name__)

Fire = Callable[[list[str]], Awaitable[None]]
_FIRE: Fire | None = None
# Due timers claimed from one store per statement; more due than that: look again at once.
CLAIM = 2000


async def fire_step(escalation_id: str) -> None:
    """The jobs' function as stored in their rows (a module-level reference, so the rows
    stay loadable by a stock APScheduler; the lookup below fires by id and never calls it)."""
    if _FIRE is None:
        raise RuntimeError("the detector's timers are not started")
    await _FIRE([escalation_id])


def timers_engine(database_url: str) -> Engine:
    """The main database on PostgreSQL; a sibling file on SQLite (one writer at a time)."""
    return sibling_engine(database_url, "timers")


def _alias(partition: int) -> str:
    return f"p{partition:02d}"


def claim_due(conn: Connection, table: Table, now: float, limit: int = CLAIM) -> list[str]:
    """Remove up to ``limit`` timers due by ``now`` (a UTC timestamp), earliest first, and
    return their ids: one statement, so a row is either claimed here and fired or left.

    APScheduler's lookup read the due jobs, then removed each fired one with a DELETE and a
    commit of its own (21 % of the firing at 100,000 escalations); between that read and
    those deletes, a firing could replace its escalation's timer under the same id, and
    the delete would take the new timer with it. A claim removes exactly the rows it
    returns: a timer set meanwhile is either due (claimed, and fired) or left alone."""
    due = (
        select(table.c.id)
        .where(table.c.next_run_time <= now)
        .order_by(table.c.next_run_time)
        .limit(limit)
    )
    claim = table.delete().where(table.c.id.in_(due)).returning(table.c.id)
    return list(conn.execute(claim).scalars())


def _firsts(tables: list[Table]) -> Select[Any]:
    """Every store's earliest due time, in one statement."""
    return select(*(select(func.min(t.c.next_run_time)).scalar_subquery() for t in tables))


def _due(first: float | None, now: float) -> bool:
    return first is not None and first <= now


def _wait(firsts: Iterable[float | None]) -> float | None:
    """Seconds until the earliest of the stores' next timers (None: no timer at all)."""
    upcoming = [first for first in firsts if first is not None]
    return max(min(upcoming) - time.time(), 0.0) if upcoming else None


class OffLoopScheduler(AsyncIOScheduler):  # type: ignore[misc]
    """APScheduler's wake-ups and job stores on asyncio, the due timers claimed in bulk in
    a worker thread and fired together.

    ``AsyncIOScheduler`` looks for due jobs on the event loop, and with SQL job stores that
    is a blocking query per partition's store at every wake-up: 17 % of the loop under the
    priority lane's SOS probes once the probes' protocols had timers. Here a wake-up hands
    the lookup to a thread, one at a time (a wake-up meanwhile runs again after it). The
    lookup asks every store for its earliest due time in one statement, claims the due
    timers of the stores that have some (``claim_due``: a statement each, one transaction)
    and hands their ids to ``fire`` in one call on the loop. APScheduler's own lookup
    unpickled every due job, removed each with a commit of its own and started a task per
    job; every timer here is "fire this escalation's due steps", named by its id, so the
    id is all a firing needs. The rows keep APScheduler's format."""

    _busy = False
    _again = False

    def __init__(self, engine: Engine, fire: Fire, **options: Any) -> None:
        super().__init__(**options)
        self._engine = engine
        self._fire = fire
        self._firings: set[asyncio.Task[None]] = set()

    @run_in_event_loop  # type: ignore[untyped-decorator]
    def wakeup(self) -> None:
        self._stop_timer()
        if self._busy:
            self._again = True
            return
        self._busy = True
        lookup = self._eventloop.run_in_executor(None, self._claim)
        lookup.add_done_callback(self._looked_up)

    def _claim(self) -> tuple[float | None, list[str]]:
        """In the worker thread: claim what is due; returns the wait until the next timer."""
        if self.state == STATE_PAUSED:
            return None, []
        with self._jobstores_lock:
            # (and APScheduler's default in-memory store, which nothing here uses)
            tables = [
                s.jobs_t for s in self._jobstores.values() if isinstance(s, SQLAlchemyJobStore)
            ]
        if not tables:
            return None, []
        now = time.time()
        with self._engine.connect() as conn:
            firsts = conn.execute(_firsts(tables)).one()
        due = [t for t, first in zip(tables, firsts, strict=True) if _due(first, now)]
        if not due:
            return _wait(firsts), []
        claimed: list[str] = []
        full = False
        with self._engine.begin() as conn:
            for table in due:
                ids = claim_due(conn, table, now, CLAIM)
                claimed += ids
                full = full or len(ids) == CLAIM
            if full:  # more are due: look again as soon as these are handed over
                return 0.0, claimed
            return _wait(conn.execute(_firsts(tables)).one()), claimed

    def _looked_up(self, lookup: asyncio.Future[tuple[float | None, list[str]]]) -> None:
        self._busy = False
        wait: float | None
        try:
            wait, claimed = lookup.result()
        except Exception:  # the stores' database away: look again shortly
            log.exception("protocol timers: job lookup failed")
            wait, claimed = 1.0, []
        if self.state == STATE_STOPPED or self._eventloop is None:
            if claimed:  # shut down meanwhile: the partitions' next load re-arms them
                log.warning("protocol timers claimed at shutdown", count=len(claimed))
            return
        if claimed:
            firing = self._eventloop.create_task(self._fire(claimed))
            self._firings.add(firing)
            firing.add_done_callback(self._fired)
        if self._again:
            self._again = False
            self.wakeup()
            return
        self._start_timer(wait)

    def _fired(self, firing: asyncio.Task[None]) -> None:
        self._firings.discard(firing)
        if not firing.cancelled() and firing.exception() is not None:
            log.error("protocol timers: firing failed", exc_info=firing.exception())

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait=wait)
        for firing in self._firings:
            firing.cancel()


class StepTimers:
    def __init__(self, engine: Engine, clock: Clock, fire: Fire) -> None:
        global _FIRE
        _FIRE = fire
        self.engine = engine
        self.clock = clock
        # The job defaults are what the rows store (APScheduler's format, so a stock
        # scheduler could still read them); the claim-based lookup ignores them: a timer
        # claimed while its escalation's previous firing still runs is fired too, safely
        # (every firing runs under the consumer's lock and a step executes once: the
        # step-execution table's primary key).
        self.scheduler = OffLoopScheduler(
            engine,
            fire,
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
