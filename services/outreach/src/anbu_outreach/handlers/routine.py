"""Routine contacts: a contact made counts toward a household's cycles; due cycles become tasks."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from anbu_contracts import (
    ContactMode,
    OutcomeResult,
    TaskStatus,
    TaskType,
)

from ..adapters.repository import Uow
from ..domain.availability import is_working_day, zone
from ..domain.cycles import CycleKind, CycleState, counts_as_visit, made_contact, routine_team
from .contacts import due_of, refresh_cycles
from .context import Context
from .creation import NewTask, create_task
from .offering import end_task

# An overdue routine contact is offered with a day to do it.
_OVERDUE_DEADLINE = timedelta(days=1)


def contact_made(
    uow: Uow,
    household_id: str,
    result: OutcomeResult,
    mode: ContactMode,
    at: datetime,
    by_task: UUID | None,
) -> None:
    """A contact made for any reason counts toward the household's cycles; routine tasks
    it satisfies are no longer needed and are cancelled."""
    if not made_contact(result):
        return
    household = uow.repos.household(household_id)
    if household is None:
        return
    household.last_contact_at = max(household.last_contact_at or at, at)
    visit = counts_as_visit(result, mode)
    if visit:
        household.last_visit_at = max(household.last_visit_at or at, at)
    refresh_cycles(household)
    uow.repos.add(household)
    satisfied = [CycleKind.CONTACT.value, *([CycleKind.VISIT.value] if visit else [])]
    for task_id in uow.repos.open_routine_tasks(household_id, satisfied, by_task):
        reason = f"contact made through task {by_task}" if by_task else "contact made"
        end_task(uow, uow.repos.load(task_id), TaskStatus.CANCELLED, reason, None)


def schedule_routine_contacts(
    uow: Uow, after: str | None, limit: int = 500
) -> tuple[int, str | None]:
    """Create routine-contact tasks for a page of households whose cycle window is open.

    Returns how many tasks were created and the last household id looked at (None when no
    household is left). One routine task per household, cycle and period; none while one
    for the same cycle is still open.
    """
    now = uow.now
    rows = uow.repos.households_due(now, after, limit)
    if not rows:
        return 0, None
    open_routine = uow.repos.open_routine_cycles([r.household_id for r in rows])
    created = 0
    for row in rows:
        for kind, due in due_of(row).items():
            if due.state(now) is CycleState.OK or (row.household_id, kind.value) in open_routine:
                continue
            deadline = max(due.due_at, now + _OVERDUE_DEADLINE)
            task = create_task(
                uow,
                NewTask(
                    origin_key=f"routine:{row.household_id}:{kind.value}:{due.period_key(row.timezone)}",
                    household_id=row.household_id,
                    task_type=TaskType.ROUTINE_CONTACT,
                    team=routine_team(kind, row.matched_volunteer_id is not None),
                    deadline=deadline,
                    correlation_id=f"routine:{row.household_id}",
                    cycle_kind=kind,
                    in_person=kind is CycleKind.VISIT,
                ),
            )
            created += task is not None
    return created, rows[-1].household_id


def is_routine_day(ctx: Context) -> bool:
    """Routine tasks are created on working days (Korean public holidays excluded)."""
    local = ctx.now().astimezone(zone(ctx.policy.timezone))
    return is_working_day(local.date(), ctx.is_holiday)
