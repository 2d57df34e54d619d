"""Outreach's periodic work, each registered with ``runtime.every`` (the runtime's one
stop-and-wait loop: a failing round is logged and counted in ``anbu_job_failures_total``,
and the job runs again on its next round):

- the offer sweep (lapsed offers, stale tasks, vacancies to retry), on the service clock,
  drained at once while it finds work;
- the task and contact gauges;
- the daily routine-contact run, at a local time of day kept by the persistent scheduler
  (:mod:`..adapters.scheduler`).
"""

from __future__ import annotations

from datetime import time
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from anbu_runtime.logs import get_logger
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.snapshots import SnapshotFollower

from .. import metrics, views
from ..adapters.scheduler import DailyRun, jobs_engine
from ..handlers import contacts, tasks
from ..handlers.context import Context

log = get_logger(__name__)

STATUSES = ("offered", "accepted", "started", "unassigned", "completed", "cancelled", "expired")
# Another instance creating some of a routine page's tasks at the same moment makes the
# page fail on the unique origin; the next attempt finds them and skips them.
ROUTINE_PAGE_ATTEMPTS = 3


class Jobs:
    def __init__(self, runtime: ServiceRuntime, ctx: Context, follower: SnapshotFollower) -> None:
        self.runtime = runtime
        self.ctx = ctx
        self.follower = follower

    async def sweep(self) -> int:
        """Offer windows, stale tasks and vacancies, on the service clock."""
        ctx, db = self.ctx, self.runtime.db
        handled = await db.run(lambda s: tasks.sweep_offers(ctx, s))
        handled += await db.run(lambda s: tasks.expire_stale(ctx, s))
        handled += await db.run(lambda s: tasks.retry_vacancies(ctx, s))
        if handled:
            self.runtime.outbox.notify()
        return handled  # more may be waiting: every() runs again at once

    async def refresh_figures(self) -> None:
        now = self.ctx.now()

        def read(
            session: Session,
        ) -> tuple[dict[str, int], dict[str, Any], dict[tuple[str, str], int]]:
            return (
                views.task_counts(session),
                contacts.figures(session, now),
                metrics.open_task_counts(session),
            )

        counts, by_tier, open_tasks = await self.runtime.db.run(read)
        metrics.publish_open_tasks(open_tasks)
        for status in STATUSES:
            metrics.TASKS.labels(status).set(counts.get(status, 0))
        metrics.UNASSIGNED_TASKS.set(counts.get("unassigned", 0))
        for tier, figures in by_tier.items():
            for cycle in ("contact", "visit"):
                for state in ("due", "overdue"):
                    metrics.CONTACTS.labels(tier, cycle, state).set(figures[cycle][state])

    async def routine_run(self) -> None:
        """Once a day: routine-contact tasks for households due (on working days)."""
        await self.follower.caught_up.wait()
        created = 0
        if tasks.is_routine_day(self.ctx):
            after: str | None = None
            while True:
                made, after = await self._routine_page(after)
                created += made
                self.runtime.outbox.notify()
                if after is None:
                    break
        await self.refresh_figures()
        log.info("routine contact run", tasks_created=created)

    async def _routine_page(self, after: str | None) -> tuple[int, str | None]:
        def page(session: Session) -> tuple[int, str | None]:
            return tasks.schedule_routine_contacts(self.ctx, session, after)

        for attempt in range(ROUTINE_PAGE_ATTEMPTS):
            try:
                return await self.runtime.db.run(page)
            except IntegrityError:
                log.info("routine page raced another instance", attempt=attempt + 1)
        raise RuntimeError("routine contact page kept conflicting")


def register(
    runtime: ServiceRuntime,
    ctx: Context,
    follower: SnapshotFollower,
    *,
    sweep_interval_s: float,
    figures_interval_s: float,
    routine_at: time,
    timezone: str,
) -> DailyRun:
    """Register the sweep and the gauges; return the daily run (started with the service)."""
    jobs = Jobs(runtime, ctx, follower)
    runtime.every(
        sweep_interval_s,
        jobs.sweep,
        name="offer-sweep",
        drain=True,
        first=follower.caught_up.wait,
    )
    runtime.every(figures_interval_s, jobs.refresh_figures, name="figures")
    run = DailyRun(
        jobs_engine(runtime.db.url), runtime.clock, routine_at, timezone, jobs.routine_run
    )

    async def start_scheduler() -> None:
        run.start()

    async def stop_scheduler() -> None:
        run.shutdown()
        run.engine.dispose()

    runtime.on_startup(start_scheduler)
    runtime.on_shutdown(stop_scheduler)
    return run
