"""How every read stays within the viewer's scope.

Alerts, escalations, tasks and outcomes carry a household id; the household's dong comes
from the registry's snapshot (``household_view``), so a scoped read joins it. Items of a
household the console has not seen a snapshot of yet are visible to everyone-scope only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import false, func, or_
from sqlmodel import Session, col, select

from anbu_contracts import TaskStatus

from ..adapters.orm import (
    HouseholdView,
)
from ..domain.scope import Scope

OPEN_TASK = (
    TaskStatus.CREATED.value,
    TaskStatus.OFFERED.value,
    TaskStatus.ACCEPTED.value,
    TaskStatus.DECLINED.value,
    TaskStatus.STARTED.value,
    TaskStatus.UNASSIGNED.value,
)
MONITORED = ("active", "suspended")
RESOLVED_FAST = timedelta(hours=48)


def scoped(query: Any, household_column: Any, scope: Scope) -> Any:
    if scope.everything:
        return query
    entity = household_column.class_
    if entity is not HouseholdView:
        query = query.select_from(entity).join(
            HouseholdView, col(HouseholdView.household_id) == household_column
        )
    return query.where(in_scope(scope))


def in_scope(scope: Scope) -> Any:
    """The condition on ``HouseholdView`` that keeps a query within a (not everything) scope."""
    clauses = []
    if scope.dong_codes is not None:
        clauses.append(col(HouseholdView.dong_code).in_(scope.dong_codes))
    if scope.district_codes is not None:
        clauses.append(col(HouseholdView.district_code).in_(scope.district_codes))
    return or_(*clauses) if clauses else false()


def counts(
    session: Session, column: Any, household: Any, scope: Scope, *where: Any
) -> dict[str, int]:
    query = select(column, func.count()).where(*where).group_by(column)
    return {str(k): int(v) for k, v in session.exec(scoped(query, household, scope)).all()}


def visible(session: Session, scope: Scope, household_id: str) -> bool:
    if scope.everything:
        return True
    row = session.get(HouseholdView, household_id)
    return row is not None and scope.sees(row.dong_code)
