"""What outreach tells the world: task changes on ``outreach.task.v1`` and notification
requests on ``notify.request.v1``, both staged in the outbox of the current transaction.

Variables carry ids, codes, times and links only: never a name, number or address.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import uuid4

from sqlmodel import Session

from anbu_contracts import (
    NotificationRequest,
    RecipientKind,
    RecipientRef,
    Role,
    TaskEvent,
    TaskStatus,
    TaskType,
    Urgency,
)
from anbu_contracts.topics import NOTIFY_REQUEST, OUTREACH_TASK

from ..adapters.orm import TaskRow
from ..domain.offers import Offer, TaskAssignment
from .context import SOURCE, Context


def emit_task(
    ctx: Context,
    session: Session,
    task: TaskRow,
    assignment: TaskAssignment,
    causation: str | None,
    status: TaskStatus | None = None,
) -> None:
    """Publish the task's state after a change (``status`` overrides it for a transitional
    event such as ``declined``)."""
    now = ctx.now()
    ctx.outbox.add(
        session,
        OUTREACH_TASK,
        TaskEvent(
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
        ),
    )


def request(
    ctx: Context,
    session: Session,
    *,
    key: str,
    recipient: RecipientRef,
    template: str,
    urgency: Urgency,
    variables: dict[str, str],
    household_id: str | None,
    correlation_id: str | None,
    causation_id: str | None,
) -> None:
    now = ctx.now()
    ctx.outbox.add(
        session,
        NOTIFY_REQUEST,
        NotificationRequest(
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
        ),
    )


def task_variables(ctx: Context, task: TaskRow) -> dict[str, str]:
    variables = {
        "task_id": str(task.task_id),
        "task_type": task.task_type,
        "deadline": task.deadline.isoformat(),
        "household_id": task.household_id,
        "link": ctx.task_link(task.task_id),
    }
    if task.dong_code:
        variables["dong_code"] = task.dong_code
    if task.step_id:
        variables["step"] = task.step_id
    return variables


def offers_made(
    ctx: Context, session: Session, task: TaskRow, offers: Iterable[Offer], causation: str | None
) -> None:
    """Each person offered a slot gets ``task.offered`` with a link to the task page."""
    for offer in offers:
        request(
            ctx,
            session,
            key=f"task:{task.task_id}:offer:{offer.worker_id}",
            recipient=RecipientRef(kind=RecipientKind.STAFF, ref=offer.worker_id),
            template="task.offered",
            urgency=Urgency(task.urgency),
            variables=task_variables(ctx, task),
            household_id=task.household_id,
            correlation_id=task.correlation_id,
            causation_id=causation,
        )


def handed_to_duty_officer(
    ctx: Context, session: Session, task: TaskRow, causation: str | None
) -> None:
    """A slot nobody can take: the duty officer gets ``task.unassigned`` (once per vacancy)."""
    task.vacancies_reported += 1
    request(
        ctx,
        session,
        key=f"task:{task.task_id}:unassigned:{task.vacancies_reported}",
        recipient=RecipientRef(kind=RecipientKind.DUTY_OFFICER, household_id=task.household_id),
        template="task.unassigned",
        urgency=Urgency.CRITICAL if task.urgency == Urgency.CRITICAL else Urgency.HIGH,
        variables=task_variables(ctx, task),
        household_id=task.household_id,
        correlation_id=task.correlation_id,
        causation_id=causation,
    )
