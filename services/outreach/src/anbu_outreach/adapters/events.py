"""Outreach's rows → its contract events, one function per event (handlers never build an
event field by field).

Events carry ids, codes, times and links only: never a name, number, address or a field
worker's note (an outcome names its note by ``note_ref``).
"""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from anbu_contracts import (
    ContactMode,
    MonitoringItems,
    Need,
    NotificationRequest,
    OutcomeEvent,
    OutcomeResult,
    RecipientRef,
    Role,
    TaskEvent,
    TaskStatus,
    TaskType,
    Urgency,
)

from ..domain.offers import TaskAssignment
from .orm import AnyTask, OutcomeRow, TaskRow

SOURCE = "outreach"


def task_event(
    task: AnyTask,
    assignment: TaskAssignment,
    now: datetime,
    causation: str | None,
    status: TaskStatus | None = None,
) -> TaskEvent:
    """The task's state after a change (``status`` overrides it for a transitional event
    such as ``declined``)."""
    return TaskEvent(
        occurred_at=now,
        produced_at=now,
        source=SOURCE,
        correlation_id=task.correlation_id,
        causation_id=causation,
        task_id=task.task_id,
        household_id=task.household_id,
        dong_code=task.dong_code,
        task_type=TaskType(task.task_type),
        team=[Role(r) for r in task.team],
        deadline=task.deadline,
        status=status or TaskStatus(task.status),
        assignees=assignment.assignees(),
        escalation_id=task.escalation_id,
        step_id=task.step_id,
        action_id=task.action_id,
        reason=task.reason,
    )


def notification_request(
    now: datetime,
    *,
    key: str,
    recipient: RecipientRef,
    template: str,
    urgency: Urgency,
    variables: dict[str, str],
    household_id: str | None,
    correlation_id: str | None,
    causation_id: str | None,
) -> NotificationRequest:
    return NotificationRequest(
        occurred_at=now,
        produced_at=now,
        source=SOURCE,
        correlation_id=correlation_id,
        causation_id=causation_id,
        request_id=uuid4(),
        request_key=key[:128],
        recipient=recipient,
        template=template,
        urgency=urgency,
        variables=variables,
        household_id=household_id,
    )


def outcome_event(outcome: OutcomeRow, task: TaskRow) -> OutcomeEvent:
    """What a worker recorded, from the row they wrote (the note itself stays in the row)."""
    return OutcomeEvent(
        occurred_at=outcome.recorded_at,
        produced_at=outcome.recorded_at,
        source=SOURCE,
        correlation_id=task.correlation_id,
        causation_id=str(task.task_id),
        outcome_id=outcome.outcome_id,
        household_id=outcome.household_id,
        result=OutcomeResult(outcome.result),
        contact_mode=ContactMode(outcome.contact_mode),
        recorded_by=outcome.recorded_by,
        task_id=task.task_id,
        escalation_id=task.escalation_id,
        step_id=task.step_id,
        action_id=task.action_id,
        monitoring=MonitoringItems.model_validate(outcome.monitoring),
        needs=list(dict.fromkeys(Need(n) for n in outcome.needs)),
        follow_up=outcome.follow_up,
        note_ref=str(outcome.outcome_id) if outcome.note else None,
        contacted_at=outcome.recorded_at,
    )
