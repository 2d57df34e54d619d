"""Reads of tasks for the HTTP API, the field app and the figures."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy import func, true
from sqlmodel import Session, col, select

from .adapters.orm import OfferRow, OutcomeRow, TaskRow
from .adapters.repository import ACTIVE_OFFER_VALUES, OPEN_VALUES
from .handlers.contacts import Area


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
