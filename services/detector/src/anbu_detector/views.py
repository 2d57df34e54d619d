"""The detector's reads for its HTTP API, limited to what the caller may see.

A caller sees the alerts and protocols of households in their area (``Principal.sees_dong``:
an operator their districts, a dong official their dongs; admins and services everything).
The household's dong is the one of its last registry snapshot (``HouseholdRow.dong_code``);
a household the registry never announced has no area, so only admins and services see it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import func
from sqlmodel import Session, col, select

from anbu_contracts import AlertStatus
from anbu_runtime.auth import Principal, UserRole

from .adapters.orm import (
    AlertRow,
    EscalationRow,
    HouseholdRow,
    StepExecutionRow,
    UnknownHouseholdRow,
    alert_of,
)
from .domain.alerts import Alert


def in_area(who: Principal) -> Any | None:
    """The SQL twin of ``who.sees_dong`` on ``HouseholdRow.dong_code``; None: everything."""
    if who.is_admin:
        return None
    if who.role is UserRole.OPERATOR:
        return func.substr(HouseholdRow.dong_code, 1, 5).in_(sorted(who.district_codes))
    return col(HouseholdRow.dong_code).in_(sorted(who.dong_codes))


def sees_household(session: Session, who: Principal, household_id: str) -> bool:
    if who.is_admin:
        return True
    row = session.get(HouseholdRow, household_id)
    return row is not None and who.sees_dong(row.dong_code)


def alerts(
    session: Session,
    who: Principal,
    status: AlertStatus | None,
    household_id: str | None,
    limit: int,
) -> list[Alert]:
    query = select(AlertRow)
    area = in_area(who)
    if area is not None:
        query = query.join(HouseholdRow, col(HouseholdRow.household_id) == AlertRow.household_id)
        query = query.where(area)
    if status is not None:
        query = query.where(AlertRow.status == status.value)
    if household_id is not None:
        query = query.where(AlertRow.household_id == household_id)
    rows = session.exec(query.order_by(col(AlertRow.opened_at).desc()).limit(limit)).all()
    return [alert_of(r) for r in rows]


def escalations(
    session: Session, who: Principal, status: str, household_id: str | None, limit: int
) -> list[EscalationRow]:
    query = select(EscalationRow).where(EscalationRow.status == status)
    area = in_area(who)
    if area is not None:
        query = query.join(
            HouseholdRow, col(HouseholdRow.household_id) == EscalationRow.household_id
        ).where(area)
    if household_id:
        query = query.where(EscalationRow.household_id == household_id)
    return list(session.exec(query.order_by(col(EscalationRow.triggered_at).desc()).limit(limit)))


def step_history(session: Session, escalation_id: UUID) -> list[StepExecutionRow]:
    return list(
        session.exec(
            select(StepExecutionRow)
            .where(StepExecutionRow.escalation_id == escalation_id)
            .order_by(col(StepExecutionRow.ran_at))
        )
    )


def unknown_households(session: Session, limit: int) -> list[UnknownHouseholdRow]:
    return list(
        session.exec(
            select(UnknownHouseholdRow)
            .order_by(col(UnknownHouseholdRow.last_seen).desc())
            .limit(limit)
        )
    )
