"""The daily routine-contact run: APScheduler with a persistent job store.

One job, ``contact-cycles``, wakes outreach once a day at a local wall-clock time on the
service clock (which may be accelerated). APScheduler runs on the wall clock, so each run
is a date job at ``Clock.real_instant(next local time)``; a run first schedules the next
one, then does its work, so a crash mid-run loses nothing but that run's remainder (the
next run finds the same households due: the work is derived from state, and routine tasks
are unique per household, cycle and period). The job lives in the database, so a restart
keeps it; a run missed while the service was down fires once (coalesced) at start.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy.engine import Engine

from anbu_runtime.clock import Clock
from anbu_runtime.db import sibling_engine
from anbu_runtime.logs import get_logger

from ..domain.availability import next_local_time

log = get_logger(__name__)

JOB_ID = "contact-cycles"
Run = Callable[[], Awaitable[None]]
_RUN: Run | None = None


async def run_contact_cycles() -> None:
    """The job function (a module-level reference, so the stored job survives restarts)."""
    if _RUN is None:
        raise RuntimeError("outreach's scheduler is not started")
    await _RUN()


def jobs_engine(database_url: str) -> Engine:
    """The main database on PostgreSQL; a sibling file on SQLite (one writer at a time)."""
    return sibling_engine(database_url, "jobs")


class DailyRun:
    """Runs ``work`` every day at ``at`` local time (``timezone``) on ``clock``."""

    def __init__(self, engine: Engine, clock: Clock, at: time, timezone: str, work: Run) -> None:
        self.engine = engine
        self.clock = clock
        self.at = at
        self.timezone = timezone
        self.work = work
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )

    def start(self) -> None:
        global _RUN
        _RUN = self._run
        if self.scheduler.running:
            return
        self.scheduler.add_jobstore(
            SQLAlchemyJobStore(engine=self.engine, tablename="outreach_jobs"), alias="default"
        )
        self.scheduler.start()
        if self.scheduler.get_job(JOB_ID) is None:
            self._schedule_next()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def next_run(self) -> datetime | None:
        job = self.scheduler.get_job(JOB_ID)
        return job.next_run_time if job is not None else None

    def _schedule_next(self) -> None:
        due = next_local_time(self.clock.now(), self.at, self.timezone)
        self.scheduler.add_job(
            run_contact_cycles,
            trigger=DateTrigger(run_date=self.clock.real_instant(due)),
            id=JOB_ID,
            replace_existing=True,
        )
        log.info("routine contact run scheduled", due_at=due.isoformat())

    async def _run(self) -> None:
        self._schedule_next()  # first: a crash below must not lose tomorrow's run
        await self.work()
