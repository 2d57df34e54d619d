"""Escalation protocols as data, and the pure state machine that runs them.

A protocol is a list of steps. A step is due at an offset from the trigger, or at a local
wall-clock time on a given day ("day 2, 09:00" in the household's time zone); it may hold
only under a condition (a medical-aid beneficiary, a landlord on file), may wait for a
recorded approval (opening a door), and produces actions: tasks for people, notifications,
consultation-log records. Outcomes close the protocol or bring steps forward. Timers and
I/O live at the edge: here a step is turned into a :class:`StepRecord` for a given instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import cached_property
from uuid import UUID
from zoneinfo import ZoneInfo

from anbu_contracts import (
    ApprovalRecord,
    EscalationClosure,
    EscalationStatus,
    LogAction,
    NotifyAction,
    OutcomeResult,
    RecipientRef,
    StepRecord,
    TaskAction,
)

from .calendar import add_working_days
from .protocol_specs import (
    Condition,
    Deadline,
    LogSpec,
    NotifySpec,
    ProtocolSpec,
    StepSpec,
    TaskSpec,
    Text,
)

__all__ = [
    "Condition",
    "Deadline",
    "LogSpec",
    "NotifySpec",
    "ProtocolSpec",
    "StepSpec",
    "TaskSpec",
    "Text",
]


@dataclass(frozen=True)
class Context:
    """What a protocol's conditions and deadlines may look at (no personal data)."""

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Seoul"))
    medical_aid: bool = False
    landlord_on_file: bool = False
    guardians_on_file: bool = False
    triggered_by_visit: bool = False
    abuse: bool = False
    signal_date: date | None = None

    def holds(self, conditions: list[Condition]) -> bool:
        if not conditions:  # most steps
            return True
        facts = self._facts
        return all(facts[c] for c in conditions)

    @cached_property  # asked for every step of every protocol run (4 % of a storm, py-spy)
    def _facts(self) -> dict[Condition, bool]:
        return {
            Condition.MEDICAL_AID: self.medical_aid,
            Condition.LANDLORD_ON_FILE: self.landlord_on_file,
            Condition.GUARDIANS_ON_FILE: self.guardians_on_file,
            Condition.TRIGGERED_BY_VISIT: self.triggered_by_visit,
            Condition.ABUSE: self.abuse,
            Condition.NOT_ABUSE: not self.abuse,
        }


class StepState(StrEnum):
    EXECUTED = "executed"
    SKIPPED = "skipped"
    AWAITING_APPROVAL = "awaiting_approval"
    CANCELLED = "cancelled"  # still pending (or waiting for approval) when the protocol closed


@dataclass(frozen=True)
class Escalation:
    escalation_id: UUID
    alert_id: UUID
    household_id: str
    protocol_id: str
    protocol_version: str
    status: EscalationStatus
    triggered_at: datetime
    steps: dict[str, StepState] = field(default_factory=dict)
    approvals: tuple[ApprovalRecord, ...] = ()
    advanced: frozenset[str] = frozenset()  # steps brought forward by an outcome
    closure: EscalationClosure | None = None
    closed_at: datetime | None = None

    @cached_property  # asked for by every look at the pending steps; the steps never change
    def done(self) -> frozenset[str]:
        return frozenset(s for s, st in self.steps.items() if st is not StepState.AWAITING_APPROVAL)


@dataclass(frozen=True)
class StepResult:
    state: StepState
    record: StepRecord


def start(
    protocol: ProtocolSpec, escalation_id: UUID, alert_id: UUID, household_id: str, now: datetime
) -> Escalation:
    return Escalation(
        escalation_id=escalation_id,
        alert_id=alert_id,
        household_id=household_id,
        protocol_id=protocol.id,
        protocol_version=protocol.version,
        status=EscalationStatus.RUNNING,
        triggered_at=now,
    )


def due_at(escalation: Escalation, step: StepSpec, ctx: Context) -> datetime:
    """When ``step`` is due; a local time already past on its day is due at once."""
    if step.id in escalation.advanced:
        return escalation.triggered_at
    if step.offset is not None:
        return escalation.triggered_at + step.offset
    assert step.day is not None and step.at is not None
    trigger_local = escalation.triggered_at.astimezone(ctx.tz)
    day = trigger_local.date() + timedelta(days=step.day - 1)
    local = datetime.combine(day, step.at, ctx.tz)
    return max(local.astimezone(escalation.triggered_at.tzinfo), escalation.triggered_at)


def pending(protocol: ProtocolSpec, escalation: Escalation) -> list[StepSpec]:
    done = escalation.done
    return [s for s in protocol.steps if s.id not in done]


def _by_due(
    protocol: ProtocolSpec, escalation: Escalation, ctx: Context
) -> list[tuple[datetime, int, StepSpec]]:
    """The pending steps with when each is due, soonest first (protocol order on a tie);
    each step's time computed once."""
    timed = [
        (due_at(escalation, s, ctx), n, s) for n, s in enumerate(pending(protocol, escalation))
    ]
    timed.sort(key=lambda x: (x[0], x[1]))
    return timed


def next_due(
    protocol: ProtocolSpec, escalation: Escalation, ctx: Context
) -> tuple[StepSpec, datetime] | None:
    """The next pending step that a timer should wake (not one waiting for approval)."""
    if escalation.status is not EscalationStatus.RUNNING:
        return None
    steps = escalation.steps
    best: tuple[StepSpec, datetime] | None = None
    for s in pending(protocol, escalation):
        if steps.get(s.id) is StepState.AWAITING_APPROVAL:
            continue
        due = due_at(escalation, s, ctx)
        if best is None or due < best[1]:  # the first of equal times, as min() chose
            best = (s, due)
    return best


def run_due(
    protocol: ProtocolSpec, escalation: Escalation, ctx: Context, now: datetime
) -> tuple[Escalation, list[StepResult]]:
    """Run every step due at ``now`` (in order); each becomes executed, skipped or waiting."""
    if escalation.status is not EscalationStatus.RUNNING:
        return escalation, []
    results: list[StepResult] = []
    for due, _, step in _by_due(protocol, escalation, ctx):
        if due > now:
            continue
        if not ctx.holds(step.when):
            state, record = (
                StepState.SKIPPED,
                _record(
                    step,
                    due,
                    now,
                    [],
                    "condition not met: " + ", ".join(c.value for c in step.when),
                ),
            )
        elif step.requires_approval and not _approval(escalation, step.requires_approval):
            if escalation.steps.get(step.id) is StepState.AWAITING_APPROVAL:
                continue
            state = StepState.AWAITING_APPROVAL
            record = _record(
                step, due, now, [], f"waiting for a recorded {step.requires_approval} approval"
            )
        else:
            approval = (
                _approval(escalation, step.requires_approval) if step.requires_approval else None
            )
            record = _record(step, due, now, _actions(step, escalation, ctx, now), None, approval)
            state = StepState.EXECUTED
        escalation = replace(escalation, steps={**escalation.steps, step.id: state})
        results.append(StepResult(state, record))
    return escalation, results


def _approval(escalation: Escalation, kind: str | None) -> ApprovalRecord | None:
    for approval in escalation.approvals:
        if approval.kind == kind:
            return approval
    return None


def _record(
    step: StepSpec,
    due: datetime,
    now: datetime,
    actions: list[TaskAction | NotifyAction | LogAction],
    note: str | None,
    approval: ApprovalRecord | None = None,
) -> StepRecord:
    # The approval given here, not by ``model_copy(update=...)`` after: that copy was 12 %
    # of an alert storm's worker thread (py-spy).
    return StepRecord(
        step_id=step.id,
        title=step.heading.ko,
        due_at=due,
        executed_at=now,
        actions=actions,
        note=note,
        approval=approval,
    )


def _deadline(spec: Deadline, now: datetime, ctx: Context) -> datetime:
    if spec.by_signal_date and ctx.signal_date is not None:
        by = datetime.combine(ctx.signal_date, time(18, 0), ctx.tz).astimezone(now.tzinfo)
        if by > now:
            return by
    if spec.working_days is not None:
        return add_working_days(now, spec.working_days, ctx.tz)
    assert spec.after is not None
    return now + spec.after


def _actions(
    step: StepSpec, escalation: Escalation, ctx: Context, now: datetime
) -> list[TaskAction | NotifyAction | LogAction]:
    actions: list[TaskAction | NotifyAction | LogAction] = []
    for spec in step.actions:
        if not ctx.holds(spec.when):
            continue
        if isinstance(spec, TaskSpec):
            actions.append(
                TaskAction(
                    action_id=spec.id,
                    task_type=spec.task_type,
                    team=spec.team,
                    deadline=_deadline(spec.deadline, now, ctx),
                    preconditions=spec.preconditions,
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
                    variables={"step": step.heading.ko, "protocol": escalation.protocol_id},
                )
            )
        else:
            actions.append(LogAction(action_id=spec.id, entry_type=spec.entry_type))
    return actions


def record_approval(escalation: Escalation, approval: ApprovalRecord) -> Escalation:
    """Record an approval; a step waiting for it becomes due again at once."""
    steps: dict[str, StepState] = {
        step_id: state
        for step_id, state in escalation.steps.items()
        if state is not StepState.AWAITING_APPROVAL
    }
    return replace(
        escalation,
        approvals=(*escalation.approvals, approval),
        steps=steps,
        advanced=escalation.advanced
        | {s for s, st in escalation.steps.items() if st is StepState.AWAITING_APPROVAL},
    )


def apply_outcome(
    protocol: ProtocolSpec,
    escalation: Escalation,
    result: OutcomeResult,
    step_id: str | None,
) -> tuple[Escalation, EscalationClosure | None]:
    """How an outcome changes the protocol: it closes it, completes it, or brings steps
    forward (``not found``). A closed protocol is not changed by late outcomes."""
    if escalation.status is not EscalationStatus.RUNNING:
        return escalation, None
    closure = protocol.closes_on.get(result)
    if closure is not None:
        return escalation, closure
    if step_id is not None and result is not OutcomeResult.NOT_FOUND:
        try:
            step = protocol.step(step_id)
        except KeyError:
            step = None
        if step is not None and step.completes_protocol:
            return escalation, EscalationClosure.COMPLETED
    if result is OutcomeResult.NOT_FOUND:
        forward = {
            s.id
            for s in pending(protocol, escalation)
            if s.advance_on_not_found and escalation.steps.get(s.id) is None
        }
        if forward:
            return replace(escalation, advanced=escalation.advanced | forward), None
    return escalation, None


def close(
    protocol: ProtocolSpec,
    escalation: Escalation,
    closure: EscalationClosure,
    now: datetime,
    ctx: Context,
) -> tuple[Escalation, list[StepResult]]:
    """Close the protocol; every step not yet run (or still waiting for an approval) is
    recorded as cancelled with the closure as the reason, so nothing is left pending."""
    if escalation.status is EscalationStatus.CLOSED:
        return escalation, []
    reason = f"cancelled: the escalation closed ({closure.value})"
    cancelled = [
        StepResult(StepState.CANCELLED, _record(step, due, now, [], reason))
        for due, _, step in _by_due(protocol, escalation, ctx)
    ]
    closed = replace(
        escalation,
        status=EscalationStatus.CLOSED,
        closure=closure,
        closed_at=now,
        steps={**escalation.steps, **{r.record.step_id: r.state for r in cancelled}},
    )
    return closed, cancelled
