"""Per-dong counts for the grid and the district map (counts only: never a household)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from anbu_contracts import AlertStatus, EscalationStatus

from ..adapters.orm import (
    AlertView,
    EscalationView,
    HouseholdView,
)
from ..domain.scope import Scope
from .scoping import MONITORED, scoped


def dong_grid(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Per dong: monitored households and open alerts."""
    hh = col(HouseholdView.household_id)
    monitored = dict(
        session.exec(
            scoped(
                select(HouseholdView.dong_code, func.count())
                .where(col(HouseholdView.status).in_(MONITORED))
                .group_by(HouseholdView.dong_code),
                hh,
                scope,
            )
        ).all()
    )
    alerts = dict(
        session.exec(
            select(HouseholdView.dong_code, func.count())
            .join(AlertView, col(AlertView.household_id) == hh)
            .where(col(AlertView.status) == AlertStatus.OPEN.value)
            .group_by(HouseholdView.dong_code)
        ).all()
    )
    dongs = sorted(d for d in set(monitored) | set(alerts) if scope.sees(d))
    return [
        {
            "dong_code": d,
            "monitored": int(monitored.get(d, 0)),
            "open_alerts": int(alerts.get(d, 0)),
        }
        for d in dongs
    ]


def dong_measures(session: Session, scope: Scope, now: datetime) -> dict[str, dict[str, int]]:
    """Per dong: watched households, open alerts and running protocols past their next step.

    Counts per dong only: the map never places a household.
    """
    measures: dict[str, dict[str, int]] = {
        cell["dong_code"]: {
            "watched": cell["monitored"],
            "open_alerts": cell["open_alerts"],
            "overdue_steps": 0,
        }
        for cell in dong_grid(session, scope)
    }
    overdue = session.exec(
        select(HouseholdView.dong_code, func.count())
        .join(EscalationView, col(EscalationView.household_id) == HouseholdView.household_id)
        .where(
            col(EscalationView.status) == EscalationStatus.RUNNING.value,
            col(EscalationView.next_step_due_at) < now,
        )
        .group_by(HouseholdView.dong_code)
    ).all()
    for dong, n in overdue:
        if scope.sees(dong):
            measures.setdefault(dong, {"watched": 0, "open_alerts": 0, "overdue_steps": 0})
            measures[dong]["overdue_steps"] = int(n)
    return measures
