"""Open alerts, running protocols, one alert and one household, within the scope."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlmodel import Session, col, select

from anbu_contracts import AlertStatus, EscalationStatus

from ..adapters.orm import (
    AlertView,
    EscalationView,
    HouseholdView,
    StepView,
    TimelineEntry,
)
from ..domain.scope import Scope
from .scoping import in_scope, scoped, visible


def open_alerts(
    session: Session, scope: Scope, limit: int = 200, dong_code: str | None = None
) -> Sequence[AlertView]:
    """Open alerts, newest first; only those of ``dong_code`` when one is given."""
    query = (
        select(AlertView)
        .where(col(AlertView.status) == AlertStatus.OPEN.value)
        .order_by(col(AlertView.opened_at).desc())
        .limit(limit)
    )
    if dong_code is not None:
        if not scope.sees(dong_code):
            return []
        query = query.join(
            HouseholdView, col(HouseholdView.household_id) == AlertView.household_id
        ).where(col(HouseholdView.dong_code) == dong_code)
        return session.exec(query).all()
    rows: Sequence[AlertView] = session.exec(
        scoped(query, col(AlertView.household_id), scope)
    ).all()
    return rows


def running_escalations(session: Session, scope: Scope, limit: int = 500) -> Sequence[Any]:
    """Running protocols, the most urgent next step first, with the household's dong.

    The scope is part of the query, before the limit: filtered after it, an official whose
    dong's protocols were not among the city's first ``limit`` saw none."""
    query = (
        select(EscalationView, HouseholdView.dong_code)
        .outerjoin(HouseholdView, col(HouseholdView.household_id) == EscalationView.household_id)
        .where(col(EscalationView.status) == EscalationStatus.RUNNING.value)
        .order_by(
            col(EscalationView.next_step_due_at).is_(None),
            col(EscalationView.next_step_due_at),
            col(EscalationView.triggered_at).desc(),
        )
        .limit(limit)
    )
    if not scope.everything:
        query = query.where(in_scope(scope))
    return session.exec(query).all()


def alert(session: Session, scope: Scope, alert_id: UUID) -> dict[str, Any] | None:
    row = session.get(AlertView, alert_id)
    if row is None or not visible(session, scope, row.household_id):
        return None
    escalations = session.exec(
        select(EscalationView)
        .where(col(EscalationView.alert_id) == alert_id)
        .order_by(col(EscalationView.triggered_at))
    ).all()
    steps = session.exec(
        select(StepView)
        .where(col(StepView.escalation_id).in_([e.escalation_id for e in escalations]))
        .order_by(col(StepView.executed_at))
    ).all()
    return {"alert": row, "escalations": escalations, "steps": steps}


def household(session: Session, scope: Scope, household_id: str) -> dict[str, Any] | None:
    if not visible(session, scope, household_id):
        return None
    timeline = session.exec(
        select(TimelineEntry)
        .where(col(TimelineEntry.household_id) == household_id)
        .order_by(col(TimelineEntry.at).desc(), col(TimelineEntry.topic))
        .limit(500)
    ).all()
    alerts = session.exec(
        select(AlertView)
        .where(col(AlertView.household_id) == household_id)
        .order_by(col(AlertView.opened_at).desc())
    ).all()
    if not timeline and not alerts and session.get(HouseholdView, household_id) is None:
        return None
    return {
        "household": session.get(HouseholdView, household_id),
        "timeline": timeline,
        "alerts": alerts,
    }
