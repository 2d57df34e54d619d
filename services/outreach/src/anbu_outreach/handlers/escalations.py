"""What a protocol step asks of people: tasks and messages; its closure cancels the rest."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlmodel import Session, col, select

from anbu_contracts import (
    EscalationChange,
    EscalationEvent,
    NotifyAction,
    TaskAction,
    TaskStatus,
)

from ..adapters.orm import HouseholdRow, TaskRow
from . import messages
from .context import Context
from .creation import NewTask, create_tasks
from .offering import OPEN_VALUES, end_task, load


def on_escalation(ctx: Context, session: Session, event: EscalationEvent) -> None:
    on_escalations(ctx, session, [event])


def on_escalations(ctx: Context, session: Session, events: Sequence[EscalationEvent]) -> None:
    """Escalation events in order. The tasks that consecutive steps ask for are created
    together (:func:`create_tasks`: a few statements for the lot, not a dozen per task);
    a closure first writes what came before it, then cancels what is left open."""
    pending: list[NewTask] = []
    stage = messages.Staged()

    def write() -> None:
        create_tasks(ctx, session, pending, stage)
        pending.clear()
        stage.flush(ctx, session)

    for event in events:
        if event.change is EscalationChange.CLOSED:
            write()
            reason = f"protocol closed: {event.closure.value if event.closure else 'closed'}"
            cancel_for_escalation(ctx, session, event.escalation_id, reason, str(event.event_id))
            continue
        if event.change is not EscalationChange.STEP_EXECUTED or event.step is None:
            continue  # started, skipped, waiting for approval: nothing to do for people yet
        for action in event.step.actions:
            origin = f"{event.escalation_id}:{event.step.step_id}:{action.action_id}"
            if isinstance(action, TaskAction):
                pending.append(_task_for(event, event.step.step_id, action, origin))
            elif isinstance(action, NotifyAction):
                protocol_notification(ctx, session, event, action, origin, stage)
            # Log actions are written to the consultation log by the registry.
    write()


def _task_for(event: EscalationEvent, step_id: str, action: TaskAction, origin: str) -> NewTask:
    return NewTask(
        origin_key=origin,
        household_id=event.household_id,
        task_type=action.task_type,
        team=action.team,
        deadline=action.deadline,
        correlation_id=event.correlation_id,
        causation_id=str(event.event_id),
        escalation_id=event.escalation_id,
        protocol_id=event.protocol_id,
        step_id=step_id,
        action_id=action.action_id,
        preconditions=tuple(action.preconditions),
    )


def protocol_notification(
    ctx: Context,
    session: Session,
    event: EscalationEvent,
    action: NotifyAction,
    key: str,
    stage: messages.Stage | None = None,
) -> None:
    """A protocol's message, with what the notifier's templates can show: the household,
    its dong, the step, the protocol and a link to the escalation in the console."""
    household = session.get(HouseholdRow, event.household_id)
    variables = {
        "household_id": event.household_id,
        "protocol": event.protocol_id,
        "link": ctx.escalation_link(event.escalation_id),
    }
    if event.step is not None:
        variables["step"] = event.step.step_id
    if household is not None:
        variables["dong_code"] = household.dong_code
    messages.request(
        ctx,
        stage or messages.outbox_stage(ctx, session),
        key=key,
        recipient=action.recipient,
        template=action.template,
        urgency=action.urgency,
        variables={**variables, **action.variables, "household_id": event.household_id},
        household_id=event.household_id,
        correlation_id=event.correlation_id,
        causation_id=str(event.event_id),
    )


def cancel_for_escalation(
    ctx: Context, session: Session, escalation_id: UUID, reason: str, causation: str | None
) -> int:
    ids = session.exec(
        select(TaskRow.task_id).where(
            TaskRow.escalation_id == escalation_id, col(TaskRow.status).in_(OPEN_VALUES)
        )
    ).all()
    for task_id in ids:
        end_task(ctx, session, load(session, task_id), TaskStatus.CANCELLED, reason, causation)
    return len(ids)
