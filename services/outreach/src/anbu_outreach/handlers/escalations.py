"""What a protocol step asks of people: tasks and messages; its closure cancels the rest.

``ESCALATIONS`` is the escalation consumer's handler table. The tasks that consecutive
steps of a unit of work ask for are created together (:func:`create_tasks`: a few
statements for the lot, not a dozen per task): each step adds its tasks and messages to
the unit's :class:`StepBatch`, which is written just before the commit (the repository's
deferred writes), or earlier when a closure must first see what came before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from anbu_contracts import (
    EscalationChange,
    EscalationEvent,
    NotifyAction,
    TaskAction,
    TaskStatus,
)
from anbu_runtime.uow import HandlerTable

from ..adapters.repository import OutreachRepository, Uow
from . import messages
from .creation import NewTask, create_tasks
from .offering import end_task

ESCALATIONS: HandlerTable[OutreachRepository] = HandlerTable()


class StepBatch:
    """The tasks and messages the unit's steps asked for, not written yet."""

    def __init__(self, uow: Uow) -> None:
        self.uow = uow
        self.pending: list[NewTask] = []
        self.stage = messages.Staged()

    def write(self) -> None:
        create_tasks(self.uow, self.pending, self.stage)
        self.pending.clear()
        self.stage.flush(self.uow)


def _batch(uow: Uow) -> StepBatch:
    return uow.deferred("outreach.steps", lambda: StepBatch(uow))


@ESCALATIONS.register(EscalationEvent)
def on_escalation(event: EscalationEvent, uow: Uow) -> None:
    if event.change is EscalationChange.CLOSED:
        _batch(uow).write()  # what came before the closure first
        reason = f"protocol closed: {event.closure.value if event.closure else 'closed'}"
        cancel_for_escalation(uow, event.escalation_id, reason, str(event.event_id))
        return
    if event.change is not EscalationChange.STEP_EXECUTED or event.step is None:
        return  # started, skipped, waiting for approval: nothing to do for people yet
    batch = _batch(uow)
    for action in event.step.actions:
        origin = f"{event.escalation_id}:{event.step.step_id}:{action.action_id}"
        if isinstance(action, TaskAction):
            batch.pending.append(_task_for(event, event.step.step_id, action, origin))
        elif isinstance(action, NotifyAction):
            protocol_notification(uow, event, action, origin, batch.stage)
        # Log actions are written to the consultation log by the registry.


def on_escalations(uow: Uow, events: Sequence[EscalationEvent]) -> None:
    """Escalation events in order, in ``uow`` (what the consumer does for a chunk)."""
    for event in events:
        ESCALATIONS.dispatch(event, uow)


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
    uow: Uow,
    event: EscalationEvent,
    action: NotifyAction,
    key: str,
    stage: messages.Stage | None = None,
) -> None:
    """A protocol's message, with what the notifier's templates can show: the household,
    its dong, the step, the protocol and a link to the escalation in the console."""
    household = uow.repos.household(event.household_id)
    variables = {
        "household_id": event.household_id,
        "protocol": event.protocol_id,
        "link": uow.repos.ctx.escalation_link(event.escalation_id),
    }
    if event.step is not None:
        variables["step"] = event.step.step_id
    if household is not None:
        variables["dong_code"] = household.dong_code
    messages.request(
        uow,
        stage or uow.publish,
        key=key,
        recipient=action.recipient,
        template=action.template,
        urgency=action.urgency,
        variables={**variables, **action.variables, "household_id": event.household_id},
        household_id=event.household_id,
        correlation_id=event.correlation_id,
        causation_id=str(event.event_id),
    )


def cancel_for_escalation(uow: Uow, escalation_id: UUID, reason: str, causation: str | None) -> int:
    ids = uow.repos.open_tasks_of_escalation(escalation_id)
    for task_id in ids:
        end_task(uow, uow.repos.load(task_id), TaskStatus.CANCELLED, reason, causation)
    return len(ids)
