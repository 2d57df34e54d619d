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

from anbu_runtime.logs import get_logger
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.snapshots import SnapshotFollower
from anbu_runtime.uow import Transactions

from .. import metrics, views
from ..adapters.repository import OutreachRepository
from ..adapters.scheduler import DailyRun, jobs_engine
from ..handlers import tasks
from ..handlers.context import Context

log = get_logger(__name__)

STATUSES = ("offered", "accepted", "started", "unassigned", "completed", "cancelled", "expired")
# Another instance creating some of a routine page's tasks at the same moment makes the
# page fail on the unique origin; the next attempt finds them and skips them.
ROUTINE_PAGE_ATTEMPTS = 3


class Jobs:
    def __init__(
        self, tx: Transactions[OutreachRepository], ctx: Context, follower: SnapshotFollower
    ) -> None:
        self.tx = tx
        self.ctx = ctx
        self.follower = follower

    async def sweep(self) -> int:
        """Offer windows, stale tasks and vacancies, on the service clock."""
        handled = await self.tx.run(tasks.sweep_offers)
        handled += await self.tx.run(tasks.expire_stale)
        handled += await self.tx.run(tasks.retry_vacancies)
        return handled  # more may be waiting: every() runs again at once

    async def refresh_figures(self) -> None:
        now = self.ctx.now()

        def read(
            repos: OutreachRepository,
        ) -> tuple[dict[str, int], dict[str, Any], dict[tuple[str, str], int]]:
            return (
                views.task_counts(repos.session),
                views.figures(repos.session, now),
                metrics.open_task_counts(repos.session),
            )

        counts, by_tier, open_tasks = await self.tx.read(read)
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
                if after is None:
                    break
        await self.refresh_figures()
        log.info("routine contact run", tasks_created=created)

    async def _routine_page(self, after: str | None) -> tuple[int, str | None]:
        for attempt in range(ROUTINE_PAGE_ATTEMPTS):
            try:
                return await self.tx.run(lambda uow: tasks.schedule_routine_contacts(uow, after))
            except IntegrityError:
                log.info("routine page raced another instance", attempt=attempt + 1)
        raise RuntimeError("routine contact page kept conflicting")


def register(
    runtime: ServiceRuntime,
    tx: Transactions[OutreachRepository],
    ctx: Context,
    follower: SnapshotFollower,
    *,
    sweep_interval_s: float,
    figures_interval_s: float,
    routine_at: time,
    timezone: str,
) -> DailyRun:
    """Register the sweep and the gauges; return the daily run (started with the service)."""
    jobs = Jobs(tx, ctx, follower)
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
