"""Fold events into the console's read model.

Every projection keeps the newest state of its entity: an event older than what is stored
(a redelivered duplicate) changes nothing, so the read model can be rebuilt by replaying
the topics from the beginning and ends with the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from anbu_contracts import (
    AlertEvent,
    AlertStatus,
    EscalationEvent,
    EscalationStatus,
    HouseholdSnapshot,
    NotificationStatusEvent,
    OutcomeEvent,
    TaskEvent,
    TaskStatus,
)

from .adapters.orm import (
    AlertView,
    EscalationView,
    FeedEntry,
    HouseholdView,
    NotificationView,
    TaskView,
)

FEED_SIZE = 500
ConsoleEvent = (
    AlertEvent
    | EscalationEvent
    | TaskEvent
    | OutcomeEvent
    | NotificationStatusEvent
    | HouseholdSnapshot
)


@dataclass(frozen=True)
class Change:
    """What the live page should be told about."""

    kind: str
    household_id: str | None
    summary: str


def project(session: Session, event: Any) -> Change | None:
    if isinstance(event, HouseholdSnapshot):
        return _household(session, event)
    if isinstance(event, AlertEvent):
        return _alert(session, event)
    if isinstance(event, EscalationEvent):
        return _escalation(session, event)
    if isinstance(event, TaskEvent):
        return _task(session, event)
    if isinstance(event, OutcomeEvent):
        return _feed(
            session,
            event.produced_at,
            "outreach.outcome",
            event.household_id,
            f"outcome {event.result.value} by {event.recorded_by}",
        )
    if isinstance(event, NotificationStatusEvent):
        return _notification(session, event)
    return None


def _household(session: Session, event: HouseholdSnapshot) -> Change | None:
    row = session.get(HouseholdView, event.household_id)
    if row is not None and row.revision >= event.revision:
        return None
    row = row or HouseholdView(
        household_id=event.household_id, revision=0, dong_code="", tier="", status=""
    )
    row.revision, row.dong_code = event.revision, event.dong_code
    row.tier, row.status = event.tier.value, event.status.value
    session.add(row)
    return None


def _stale(row: Any, at: datetime) -> bool:
    return row is not None and row.updated_at > at


def _alert(session: Session, event: AlertEvent) -> Change | None:
    row = session.get(AlertView, event.alert_id)
    if _stale(row, event.produced_at):
        return None
    values = {
        "household_id": event.household_id,
        "reason": event.reason.value,
        "severity": event.severity.value,
        "status": event.status.value,
        "opened_at": event.opened_at,
        "resolved_at": event.resolved_at,
        "rule": event.rule.model_dump(mode="json"),
        "evidence": [e.model_dump(mode="json") for e in event.evidence],
        "updated_at": event.produced_at,
    }
    if row is None:
        row = AlertView(alert_id=event.alert_id, **values)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    session.add(row)
    return _feed(
        session,
        event.produced_at,
        "detector.alert",
        event.household_id,
        f"alert {event.change.value}: {event.reason.value} ({event.severity.value})",
    )


def _escalation(session: Session, event: EscalationEvent) -> Change | None:
    row = session.get(EscalationView, event.escalation_id)
    if _stale(row, event.produced_at):
        return None
    if row is None:
        row = EscalationView(
            escalation_id=event.escalation_id,
            household_id=event.household_id,
            protocol_id=event.protocol_id,
            status=event.status.value,
            triggered_at=event.triggered_at,
            updated_at=event.produced_at,
        )
    row.status = event.status.value
    if event.step is not None:
        row.last_step_id, row.last_step_title = event.step.step_id, event.step.title
    row.next_step_id, row.next_step_due_at = event.next_step_id, event.next_step_due_at
    row.closure = event.closure.value if event.closure else None
    row.updated_at = event.produced_at
    session.add(row)
    step = f" {event.step.step_id}" if event.step else ""
    return _feed(
        session,
        event.produced_at,
        "detector.escalation",
        event.household_id,
        f"{event.protocol_id} {event.change.value}{step}",
    )


def _task(session: Session, event: TaskEvent) -> Change | None:
    row = session.get(TaskView, event.task_id)
    if _stale(row, event.produced_at):
        return None
    if row is None:
        row = TaskView(
            task_id=event.task_id,
            household_id=event.household_id,
            task_type=event.task_type.value,
            status=event.status.value,
            assignees=event.assignees,
            deadline=event.deadline,
            updated_at=event.produced_at,
        )
    row.status, row.assignees = event.status.value, list(event.assignees)
    row.deadline, row.updated_at = event.deadline, event.produced_at
    session.add(row)
    return _feed(
        session,
        event.produced_at,
        "outreach.task",
        event.household_id,
        f"task {event.task_type.value} {event.status.value}",
    )


def _notification(session: Session, event: NotificationStatusEvent) -> Change | None:
    row = session.get(NotificationView, event.request_key)
    if _stale(row, event.produced_at):
        return None
    row = row or NotificationView(
        request_key=event.request_key, status="", updated_at=event.produced_at
    )
    row.status = event.status.value
    row.channel = event.channel.value if event.channel else row.channel
    row.reason, row.updated_at = event.reason, event.produced_at
    session.add(row)
    return _feed(
        session,
        event.produced_at,
        "notify.status",
        event.household_id,
        f"notification {event.status.value}",
    )


def _feed(
    session: Session, at: datetime, topic: str, household_id: str | None, summary: str
) -> Change:
    session.add(FeedEntry(at=at, topic=topic, household_id=household_id, summary=summary))
    session.flush()
    newest = session.exec(select(func.max(FeedEntry.id))).one()
    if newest and newest > FEED_SIZE:
        session.execute(delete(FeedEntry).where(col(FeedEntry.id) <= newest - FEED_SIZE))
    return Change(kind=topic, household_id=household_id, summary=summary)


# -- queries for the pages -------------------------------------------------------------


def overview(session: Session) -> dict[str, Any]:
    def counts(column: Any, *where: Any) -> dict[str, int]:
        query = select(column, func.count()).group_by(column)
        for clause in where:
            query = query.where(clause)
        return {str(k): int(v) for k, v in session.exec(query).all()}

    return {
        "households_by_tier": counts(HouseholdView.tier),
        "open_alerts_by_severity": counts(
            AlertView.severity, AlertView.status == AlertStatus.OPEN.value
        ),
        "running_escalations": sum(
            counts(
                EscalationView.status, EscalationView.status == EscalationStatus.RUNNING.value
            ).values()
        ),
        "tasks_by_status": counts(TaskView.status),
        "notifications_by_status": counts(NotificationView.status),
        "unassigned_tasks": sum(
            counts(TaskView.status, TaskView.status == TaskStatus.UNASSIGNED.value).values()
        ),
    }


def open_alerts(session: Session, limit: int = 100) -> Sequence[AlertView]:
    return session.exec(
        select(AlertView)
        .where(AlertView.status == AlertStatus.OPEN.value)
        .order_by(col(AlertView.opened_at).desc())
        .limit(limit)
    ).all()


def running_escalations(session: Session, limit: int = 100) -> Sequence[EscalationView]:
    return session.exec(
        select(EscalationView)
        .where(EscalationView.status == EscalationStatus.RUNNING.value)
        .order_by(col(EscalationView.triggered_at).desc())
        .limit(limit)
    ).all()


def recent_feed(session: Session, limit: int = 50) -> Sequence[FeedEntry]:
    return session.exec(select(FeedEntry).order_by(col(FeedEntry.id).desc()).limit(limit)).all()
