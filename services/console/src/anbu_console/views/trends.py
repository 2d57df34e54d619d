"""The rows behind the trend charts and the day-2 sheet."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from anbu_contracts import EscalationStatus

from ..adapters.orm import (
    AlertView,
    EscalationView,
    HouseholdView,
    OutcomeView,
    TaskView,
)
from ..domain.scope import Scope
from .scoping import scoped


def trend_rows(session: Session, scope: Scope, since: datetime) -> dict[str, list[Any]]:
    """The raw rows of the trend charts since ``since``: alerts, outcomes, tasks (scoped)."""
    alerts = session.exec(
        scoped(
            select(
                AlertView.household_id,
                AlertView.opened_at,
                AlertView.severity,
                AlertView.reason,
                AlertView.evidence,
            ).where(col(AlertView.opened_at) >= since),
            col(AlertView.household_id),
            scope,
        )
    ).all()
    outcomes = session.exec(
        scoped(
            select(OutcomeView.household_id, OutcomeView.recorded_at).where(
                col(OutcomeView.recorded_at) >= since
            ),
            col(OutcomeView.household_id),
            scope,
        )
    ).all()
    tasks = session.exec(
        scoped(
            select(TaskView.deadline, TaskView.completed_at, TaskView.status).where(
                col(TaskView.deadline) >= since
            ),
            col(TaskView.household_id),
            scope,
        )
    ).all()
    return {"alerts": list(alerts), "outcomes": list(outcomes), "tasks": list(tasks)}


def day_two_steps(session: Session, scope: Scope, start: datetime, end: datetime) -> dict[str, Any]:
    """Day-2 protocol work between ``start`` and ``end``, with each household's dong:
    steps still to come (running protocols whose next step is a ``day2.`` step due then) and
    the tasks day-2 steps already created (deadline then)."""
    upcoming = session.exec(
        select(EscalationView, HouseholdView.dong_code)
        .outerjoin(HouseholdView, col(HouseholdView.household_id) == EscalationView.household_id)
        .where(
            col(EscalationView.status) == EscalationStatus.RUNNING.value,
            col(EscalationView.next_step_id).startswith("day2."),
            col(EscalationView.next_step_due_at) >= start,
            col(EscalationView.next_step_due_at) < end,
        )
        .order_by(col(EscalationView.next_step_due_at))
    ).all()
    tasks = session.exec(
        select(TaskView, HouseholdView.dong_code)
        .outerjoin(HouseholdView, col(HouseholdView.household_id) == TaskView.household_id)
        .where(
            col(TaskView.step_id).startswith("day2."),
            col(TaskView.deadline) >= start,
            col(TaskView.deadline) < end,
        )
        .order_by(col(TaskView.deadline))
    ).all()
    return {
        "upcoming": [(e, d) for e, d in upcoming if scope.sees(d)],
        "tasks": [(t, d or t.dong_code) for t, d in tasks if scope.sees(d or t.dong_code)],
    }
