"""What the registry learns from other services' events.

- outcomes (outreach.outcome): a consultation-log entry for every contact; a discovery case
  when the worker found needs or asked for follow-up and no case is open yet;
- protocol steps (detector.escalation): the consultation-log records the protocol asks for;
- tasks (outreach.task): an accepted task lets its team read the household's personal
  data until the task ends.

Each is an ``on_x(event, uow)`` in :data:`HANDLERS`, which the consumer dispatches through.
"""

from __future__ import annotations

from anbu_contracts import (
    EscalationChange,
    EscalationEvent,
    ItemState,
    LogAction,
    OutcomeEvent,
    TaskEvent,
    TaskStatus,
)
from anbu_runtime.auth import SERVICE
from anbu_runtime.uow import HandlerTable

from ..adapters.orm import CaseEventRow, TaskGrantRow
from ..adapters.repository import Repositories, UoW
from ..domain.model import CaseIn
from . import cases, consultations

ENDED = (TaskStatus.COMPLETED, TaskStatus.CANCELLED, TaskStatus.EXPIRED, TaskStatus.DECLINED)


def on_outcome(outcome: OutcomeEvent, uow: UoW) -> None:
    if not uow.repos.has_household(outcome.household_id):
        return  # not a household of this registry
    concerns = [
        name
        for name, state in outcome.monitoring.model_dump().items()
        if state == ItemState.CONCERN
    ]
    summary = outcome.result.value
    if concerns:
        summary += "; concerns: " + ", ".join(concerns)
    if outcome.needs:
        summary += "; needs: " + ", ".join(n.value for n in outcome.needs)
    open_case = cases.open_case_of(uow.repos, outcome.household_id)
    consultations.record(
        uow,
        household_id=outcome.household_id,
        kind="visit" if outcome.contact_mode.value == "visit" else "contact",
        channel=outcome.contact_mode.value,
        actor=outcome.recorded_by,
        summary=summary,
        result=outcome.result.value,
        at=outcome.contacted_at or outcome.occurred_at,
        case_id=open_case.case_id if open_case else None,
        source_key=f"outcome:{outcome.outcome_id}",
    )
    if open_case is not None:
        uow.session.add(
            CaseEventRow(
                case_id=open_case.case_id,
                at=uow.now,
                actor=outcome.recorded_by,
                kind="contact",
                detail={"outcome_id": str(outcome.outcome_id), "result": outcome.result.value},
            )
        )
    elif outcome.follow_up or outcome.needs:
        cases.open_case(
            uow,
            CaseIn(household_id=outcome.household_id, source=f"outcome:{outcome.outcome_id}"),
            SERVICE,
            actor=outcome.recorded_by,
        )


def on_escalation(event: EscalationEvent, uow: UoW) -> None:
    if not uow.repos.has_household(event.household_id):
        return
    if event.change is EscalationChange.STEP_EXECUTED and event.step is not None:
        for action in event.step.actions:
            if isinstance(action, LogAction):
                consultations.record(
                    uow,
                    household_id=event.household_id,
                    kind="protocol_step",
                    channel="system",
                    actor="system",
                    summary=f"{event.protocol_id} {event.step.step_id}: {action.entry_type}",
                    at=event.step.executed_at,
                    source_key=f"{event.escalation_id}:{event.step.step_id}:{action.action_id}",
                )
    elif event.change is EscalationChange.CLOSED:
        consultations.record(
            uow,
            household_id=event.household_id,
            kind="protocol_step",
            channel="system",
            actor="system",
            summary=f"{event.protocol_id} closed: {event.closure.value if event.closure else '-'}",
            at=event.occurred_at,
            source_key=f"{event.escalation_id}:closed",
        )


def on_task(event: TaskEvent, uow: UoW) -> None:
    if event.status in (TaskStatus.ACCEPTED, TaskStatus.STARTED):
        for worker_id in event.assignees:
            if uow.repos.task_grant(event.task_id, worker_id) is None:
                uow.session.add(
                    TaskGrantRow(
                        task_id=event.task_id,
                        worker_id=worker_id,
                        household_id=event.household_id,
                        granted_at=uow.now,
                    )
                )
    elif event.status in ENDED:
        for grant in uow.repos.open_task_grants(event.task_id):
            grant.revoked_at = uow.now
            uow.session.add(grant)


HANDLERS = HandlerTable[Repositories](
    {OutcomeEvent: on_outcome, EscalationEvent: on_escalation, TaskEvent: on_task}
)
