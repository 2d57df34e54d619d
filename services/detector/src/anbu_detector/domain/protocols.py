"""Escalation protocols as data, and the pure state machine that runs them.

A protocol is a list of steps, each due at an offset from the trigger, and each producing
actions (tasks for people, notifications, consultation-log records). Outcomes end the
protocol. Timers and I/O live at the edge; here a step is executed by turning its
definition into a :class:`StepRecord` for a given trigger time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from anbu_contracts import (
    EscalationClosure,
    EscalationStatus,
    LogAction,
    NotifyAction,
    OutcomeResult,
    RecipientKind,
    RecipientRef,
    Role,
    StepRecord,
    TaskAction,
    TaskType,
    Urgency,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    ko: str
    en: str


class TaskSpec(_Strict):
    kind: Literal["task"] = "task"
    id: str
    task_type: TaskType
    team: list[Role] = Field(min_length=1)
    deadline: timedelta = Field(description="Time allowed after the step runs.")


class NotifySpec(_Strict):
    kind: Literal["notify"] = "notify"
    id: str
    recipient: RecipientKind
    template: str
    urgency: Urgency = Urgency.HIGH


class LogSpec(_Strict):
    kind: Literal["log"] = "log"
    id: str
    entry_type: str


ActionSpec = Annotated[TaskSpec | NotifySpec | LogSpec, Field(discriminator="kind")]


class StepSpec(_Strict):
    id: str
    title: Text
    offset: timedelta = Field(default=timedelta(0), description="Due this long after trigger.")
    actions: list[ActionSpec] = Field(default_factory=list)


class ProtocolSpec(_Strict):
    id: str
    version: str
    title: Text
    steps: list[StepSpec] = Field(min_length=1)
    closes_on: dict[OutcomeResult, EscalationClosure] = Field(
        default_factory=lambda: {
            OutcomeResult.CONTACT_CONFIRMED: EscalationClosure.CONTACT_CONFIRMED,
            OutcomeResult.HOSPITALISED: EscalationClosure.HOSPITALISED,
            OutcomeResult.EMERGENCY_SERVICES: EscalationClosure.EMERGENCY_SERVICES,
            OutcomeResult.MOVED: EscalationClosure.MOVED,
            OutcomeResult.DECEASED: EscalationClosure.DECEASED,
            OutcomeResult.REFUSED: EscalationClosure.REFUSED,
            OutcomeResult.NO_NEED: EscalationClosure.NO_NEED,
        }
    )

    def step(self, step_id: str) -> StepSpec:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(f"protocol {self.id} has no step {step_id}")


@dataclass(frozen=True)
class Escalation:
    escalation_id: UUID
    alert_id: UUID
    household_id: str
    protocol_id: str
    protocol_version: str
    status: EscalationStatus
    triggered_at: datetime
    executed_steps: tuple[str, ...] = ()
    closure: EscalationClosure | None = None
    closed_at: datetime | None = None


def start(
    protocol: ProtocolSpec,
    escalation_id: UUID,
    alert_id: UUID,
    household_id: str,
    triggered_at: datetime,
) -> Escalation:
    return Escalation(
        escalation_id=escalation_id,
        alert_id=alert_id,
        household_id=household_id,
        protocol_id=protocol.id,
        protocol_version=protocol.version,
        status=EscalationStatus.RUNNING,
        triggered_at=triggered_at,
    )


def due_at(escalation: Escalation, step: StepSpec) -> datetime:
    return escalation.triggered_at + step.offset


def due_steps(protocol: ProtocolSpec, escalation: Escalation, now: datetime) -> list[StepSpec]:
    """Steps of a running escalation that are due at ``now`` and have not run yet, in order."""
    if escalation.status is not EscalationStatus.RUNNING:
        return []
    return [
        step
        for step in protocol.steps
        if step.id not in escalation.executed_steps and due_at(escalation, step) <= now
    ]


def next_step(protocol: ProtocolSpec, escalation: Escalation) -> StepSpec | None:
    pending = [s for s in protocol.steps if s.id not in escalation.executed_steps]
    return min(pending, key=lambda s: due_at(escalation, s)) if pending else None


def execute(escalation: Escalation, step: StepSpec, now: datetime) -> tuple[Escalation, StepRecord]:
    """Run ``step``: the escalation remembers it, and the record lists what it produces."""
    actions: list[TaskAction | NotifyAction | LogAction] = []
    for spec in step.actions:
        if isinstance(spec, TaskSpec):
            actions.append(
                TaskAction(
                    action_id=spec.id,
                    task_type=spec.task_type,
                    team=spec.team,
                    deadline=now + spec.deadline,
                )
            )
        elif isinstance(spec, NotifySpec):
            actions.append(
                NotifyAction(
                    action_id=spec.id,
                    recipient=RecipientRef(
                        kind=spec.recipient, household_id=escalation.household_id
                    ),
                    template=spec.template,
                    urgency=spec.urgency,
                )
            )
        else:
            actions.append(LogAction(action_id=spec.id, entry_type=spec.entry_type))
    record = StepRecord(
        step_id=step.id,
        title=step.title.ko,
        due_at=due_at(escalation, step),
        executed_at=now,
        actions=actions,
    )
    return replace(escalation, executed_steps=(*escalation.executed_steps, step.id)), record


def closure_for(protocol: ProtocolSpec, result: OutcomeResult) -> EscalationClosure | None:
    """How an outcome ends the protocol, or None when it does not (for example not found)."""
    return protocol.closes_on.get(result)


def close(escalation: Escalation, closure: EscalationClosure, now: datetime) -> Escalation:
    if escalation.status is EscalationStatus.CLOSED:
        return escalation
    return replace(escalation, status=EscalationStatus.CLOSED, closure=closure, closed_at=now)
