"""Reads of tasks for the HTTP API, the field app and the figures."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, true
from sqlmodel import Session, col, select

from anbu_contracts import HouseholdStatus, Tier

from .adapters.orm import HouseholdRow, OfferRow, OutcomeRow, TaskRow
from .adapters.repository import ACTIVE_OFFER_VALUES, OPEN_VALUES
from .domain.cycles import CycleKind, CycleState


@dataclass(frozen=True)
class Area:
    """Some dongs and whole districts (a dong code's first five digits name its district):
    where an office caller looks (``Principal.sees_dong`` in SQL)."""

    dong_codes: frozenset[str] = frozenset()
    district_codes: frozenset[str] = frozenset()

    def holds(self, dong_code: Any) -> Any:
        """The condition that the ``dong_code`` column lies in this area."""
        return col(dong_code).in_(sorted(self.dong_codes)) | func.substr(dong_code, 1, 5).in_(
            sorted(self.district_codes)
        )


def tasks_for_worker(session: Session, worker_id: str) -> list[TaskRow]:
    """Open tasks offered to or accepted by ``worker_id``, soonest deadline first."""
    return list(
        session.exec(
            select(TaskRow)
            .join(OfferRow, col(OfferRow.task_id) == col(TaskRow.task_id))
            .where(
                OfferRow.worker_id == worker_id,
                col(OfferRow.state).in_(ACTIVE_OFFER_VALUES),
                col(TaskRow.status).in_(OPEN_VALUES),
            )
            .order_by(col(TaskRow.deadline))
        ).all()
    )


def tasks_in_area(
    session: Session,
    dong_codes: Iterable[str] | None,
    statuses: Iterable[str],
    limit: int,
) -> list[TaskRow]:
    query = select(TaskRow).where(col(TaskRow.status).in_(list(statuses)))
    if dong_codes is not None:
        query = query.where(col(TaskRow.dong_code).in_(list(dong_codes)))
    return list(session.exec(query.order_by(col(TaskRow.deadline)).limit(limit)).all())


def outcome_of(session: Session, task_id: UUID) -> OutcomeRow | None:
    return session.exec(select(OutcomeRow).where(OutcomeRow.task_id == task_id)).first()


def task_counts(session: Session, area: Area | None = None) -> dict[str, int]:
    """Tasks by status (in ``area``, or everywhere)."""
    scope = area.holds(TaskRow.dong_code) if area is not None else true()
    return {
        status: count
        for status, count in session.exec(
            select(TaskRow.status, func.count()).where(scope).group_by(TaskRow.status)
        ).all()
    }


def figures(session: Session, now: datetime, area: Area | None = None) -> dict[str, Any]:
    """Households due and overdue per tier and cycle, and how many are monitored (in
    ``area``, or everywhere)."""
    scope = area.holds(HouseholdRow.dong_code) if area is not None else true()
    out: dict[str, Any] = {
        tier.value: {
            "households": 0,
            **{
                kind.value: {s.value: 0 for s in (CycleState.DUE, CycleState.OVERDUE)}
                for kind in CycleKind
            },
        }
        for tier in Tier
    }
    for tier, count in session.exec(
        select(HouseholdRow.tier, func.count())
        .where(HouseholdRow.status == HouseholdStatus.ACTIVE.value, scope)
        .group_by(HouseholdRow.tier)
    ).all():
        if tier in out:
            out[tier]["households"] = count
    columns = (
        (CycleKind.CONTACT, HouseholdRow.contact_opens_at, HouseholdRow.contact_due_at),
        (CycleKind.VISIT, HouseholdRow.visit_opens_at, HouseholdRow.visit_due_at),
    )
    for kind, opens, due in columns:
        due_now = (col(opens) <= now) & (col(due) > now)
        overdue = col(due) <= now
        for state, condition in ((CycleState.DUE, due_now), (CycleState.OVERDUE, overdue)):
            for tier, count in session.exec(
                select(HouseholdRow.tier, func.count())
                .where(condition, scope)
                .group_by(HouseholdRow.tier)
            ).all():
                if tier in out:
                    out[tier][kind.value][state.value] = count
    return out
