"""Routine contact cycles on a real database: due contacts become tasks once per period,
any contact counts, and the figures show what is due and overdue by tier."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from anbu_contracts import (
    ContactMode,
    MonitoringItems,
    OutcomeResult,
    Role,
    TaskStatus,
    TaskType,
    Tier,
)
from anbu_outreach.adapters.scheduler import DailyRun, jobs_engine, run_contact_cycles
from anbu_outreach.handlers import tasks
from anbu_outreach.views import figures
from anbu_runtime.clock import ManualClock

from .conftest import step_executed, task_action
from .roster_builders import SEOUL, household, worker


def schedule_all(world: Any) -> int:
    created, after = 0, None
    while True:
        made, after = world.run(
            lambda uow, a=after: tasks.schedule_routine_contacts(uow, a, limit=2)
        )
        created += made
        if after is None:
            return created


def contact_figures(world: Any) -> dict[str, Any]:
    return world.run(lambda uow: figures(uow.session, world.clock.now()))


def test_due_contacts_become_one_task_per_household_and_period(
    make_world: Any, database_url: str
) -> None:
    world = make_world(database_url)
    world.enrol(
        worker("W-OFF01"),
        worker("W-VOL01", Role.VOLUNTEER),
        household("HH-HIGH0001", tier=Tier.HIGH_RISK, responsible="W-OFF01"),
        household("HH-HIGH0002", tier=Tier.HIGH_RISK, volunteer="W-VOL01"),
        household("HH-WATCH001", tier=Tier.WATCH),
    )
    assert schedule_all(world) == 0  # enrolled today: nothing due yet

    world.clock.set(datetime(2026, 11, 30, 10, tzinfo=SEOUL))  # Monday: the weekly window opens
    assert schedule_all(world) == 2
    assert schedule_all(world) == 0  # one task per household and period
    events = {e.household_id: e for e in world.tasks()}
    assert set(events) == {"HH-HIGH0001", "HH-HIGH0002"}
    assert events["HH-HIGH0001"].assignees == ["W-OFF01"]
    assert events["HH-HIGH0002"].assignees == ["W-VOL01"]  # the matched volunteer calls
    assert events["HH-HIGH0002"].task_type == "routine_contact"
    figures_now = contact_figures(world)
    assert figures_now["high_risk"]["contact"] == {"due": 2, "overdue": 0}
    assert figures_now["high_risk"]["households"] == 2
    assert figures_now["watch"]["contact"] == {"due": 0, "overdue": 0}

    world.clock.set(datetime(2026, 12, 2, 10, 1, tzinfo=SEOUL))
    assert contact_figures(world)["high_risk"]["contact"] == {"due": 0, "overdue": 2}
    assert schedule_all(world) == 0  # the open routine tasks still stand


def test_a_contact_made_through_a_protocol_task_counts_and_cancels_the_routine_task(
    make_world: Any, database_url: str
) -> None:
    world = make_world(database_url)
    world.enrol(worker("W-OFF01"), household("HH-HIGH0001", responsible="W-OFF01"))
    world.clock.set(datetime(2026, 11, 30, 10, tzinfo=SEOUL))
    schedule_all(world)
    [routine] = world.tasks()

    call = task_action(
        "call", TaskType.PHONE_CHECK, [Role.OFFICIAL], world.clock.now() + timedelta(hours=8)
    )
    world.deliver(step_executed("HH-HIGH0001", "day1.contact", [call], at=world.clock.now()))
    protocol_task = next(e for e in world.tasks() if e.step_id == "day1.contact").task_id
    world.run(lambda uow: tasks.accept(uow, protocol_task, "W-OFF01"))
    world.run(
        lambda uow: tasks.record_outcome(
            uow,
            protocol_task,
            "W-OFF01",
            OutcomeResult.CONTACT_CONFIRMED,
            ContactMode.PHONE,
            MonitoringItems(),
            [],
            False,
            None,
        )
    )
    cancelled = world.last_task_event(routine.task_id)
    assert cancelled.status is TaskStatus.CANCELLED
    assert "contact made" in cancelled.reason
    assert contact_figures(world)["high_risk"]["contact"] == {"due": 0, "overdue": 0}
    # a phone call does not satisfy the monthly in-person visit
    world.clock.set(datetime(2026, 12, 18, 10, tzinfo=SEOUL))
    assert contact_figures(world)["high_risk"]["visit"] == {"due": 1, "overdue": 0}


def test_the_daily_run_is_kept_in_the_database_and_schedules_the_next_before_working(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        engine = jobs_engine(f"sqlite:///{tmp_path / 'outreach.db'}")
        clock = ManualClock(datetime(2026, 11, 25, 10, tzinfo=SEOUL))
        runs: list[datetime] = []

        async def work() -> None:
            runs.append(clock.now())

        first = DailyRun(engine, clock, time(9), "Asia/Seoul", work)
        first.start()
        planned = first.next_run()
        assert planned is not None
        # tomorrow 09:00 in Seoul, mapped to the wall clock
        expected = clock.real_instant(datetime(2026, 11, 26, 9, tzinfo=SEOUL))
        assert abs((planned - expected).total_seconds()) < 5
        first.shutdown()

        restarted = DailyRun(engine, clock, time(9), "Asia/Seoul", work)
        restarted.start()
        assert restarted.next_run() == planned.astimezone(UTC)  # survived the restart
        clock.set(datetime(2026, 11, 26, 9, 0, 1, tzinfo=SEOUL))
        await run_contact_cycles()
        assert runs == [clock.now()]
        following = restarted.next_run()
        assert following is not None and following > planned
        restarted.shutdown()
        engine.dispose()

    asyncio.run(scenario())
