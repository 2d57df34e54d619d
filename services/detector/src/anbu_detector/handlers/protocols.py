"""Protocol steps: start an escalation, run its due steps, apply outcomes and approvals, close.

An escalation's row is read once per step: :class:`Running` carries the escalation with
what its row adds (partition, correlation id) and the protocol context, and every event of
the step is built from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from anbu_contracts import (
    AlertResolution,
    ApprovalRecord,
    EscalationChange,
    EscalationClosure,
    EscalationStatus,
    OutcomeEvent,
    OutcomeResult,
    StepRecord,
)
from anbu_contracts.topics import DETECTOR_ESCALATION
from anbu_runtime.logs import get_logger

from ..adapters.events import escalation_event, new_id
from ..adapters.orm import EscalationRow, escalation_of, protocol_context
from ..domain import merging, protocols, safety_calls, signal_rules
from ..domain.alerts import Alert
from ..domain.protocols import Escalation, ProtocolSpec, StepResult, StepSpec, StepState
from ..domain.signal_rules import ArrearsMemory
from .alerts import emit, resolve_alert
from .unit import Uow

# A person found the household well, or in no need: what it owes as of now is known.
FOUND_WELL = frozenset({OutcomeResult.CONTACT_CONFIRMED, OutcomeResult.NO_NEED})

log = get_logger(__name__)

CHANGES = {
    StepState.EXECUTED: EscalationChange.STEP_EXECUTED,
    StepState.SKIPPED: EscalationChange.STEP_SKIPPED,
    StepState.AWAITING_APPROVAL: EscalationChange.STEP_AWAITING_APPROVAL,
    StepState.CANCELLED: EscalationChange.STEP_CANCELLED,
}
RESOLUTIONS = {
    EscalationClosure.OPERATOR: AlertResolution.OPERATOR,
    EscalationClosure.ACTIVITY_RESUMED: AlertResolution.RECOVERY,
    EscalationClosure.HOUSEHOLD_INACTIVE: AlertResolution.HOUSEHOLD_INACTIVE,
}


@dataclass
class Running:
    """An escalation and what its row and household add, read once for a step."""

    escalation: Escalation
    protocol: ProtocolSpec
    ctx: protocols.Context
    partition: int
    correlation_id: str | None

    @classmethod
    def of(cls, uow: Uow, escalation: Escalation, row: EscalationRow | None) -> Running:
        repos = uow.repos
        household = repos.household(escalation.household_id)
        return cls(
            escalation=escalation,
            protocol=repos.protocols[escalation.protocol_id],
            ctx=protocol_context(household, row.trigger_facts if row else {}),
            partition=row.partition if row else 0,
            correlation_id=row.correlation_id if row else None,
        )

    def upcoming(self) -> tuple[StepSpec, datetime] | None:
        return protocols.next_due(self.protocol, self.escalation, self.ctx)


def load(uow: Uow, escalation_id: UUID) -> Running | None:
    row = uow.repos.escalation_row(escalation_id)
    if row is None:
        return None
    return Running.of(uow, escalation_of(row), row)


def publish(
    uow: Uow,
    running: Running,
    changes: Sequence[tuple[EscalationChange, StepRecord | None]],
    correlation: str,
    causation: str,
    *,
    joined_alert_id: UUID | None = None,
    previous_protocol_id: str | None = None,
) -> None:
    """Stage the events of one step (the next due step computed once for all of them)."""
    upcoming = running.upcoming()
    for change, record in changes:
        event = escalation_event(
            running.escalation,
            change,
            record,
            upcoming,
            uow.now,
            correlation,
            causation,
            joined_alert_id=joined_alert_id,
            previous_protocol_id=previous_protocol_id,
        )
        emit(uow, DETECTOR_ESCALATION, event)


def start(
    uow: Uow,
    protocol: ProtocolSpec,
    alert: Alert,
    partition: int,
    correlation: str,
    facts: dict[str, Any],
) -> None:
    repos = uow.repos
    escalation = protocols.start(protocol, new_id(), alert.alert_id, alert.household_id, uow.now)
    row = repos.save_escalation(
        escalation, partition=partition, facts=facts, correlation_id=correlation
    )
    repos.link_alert(alert.alert_id, escalation.escalation_id)
    running = Running.of(uow, escalation, row)
    publish(uow, running, [(EscalationChange.STARTED, None)], correlation, str(alert.alert_id))
    advance(uow, running)


def advance(uow: Uow, running: Running) -> Escalation:
    """Run what is due, record each step once, and set the timer for the next."""
    repos, now = uow.repos, uow.now
    escalation, results = protocols.run_due(running.protocol, running.escalation, running.ctx, now)
    results = without_given_tasks(uow, escalation.escalation_id, results)
    running.escalation = escalation
    correlation = running.correlation_id or str(escalation.escalation_id)
    for result in results:
        if result.state is StepState.AWAITING_APPROVAL:
            continue  # recorded when it finally runs
        repos.record_step(
            escalation.escalation_id,
            result.record.step_id,
            result.state.value,
            result.record.due_at,
            now,
            repos.instance,
            [a.model_dump(mode="json") for a in result.record.actions],
        )
    upcoming = running.upcoming()
    due = upcoming[1] if upcoming else None
    repos.save_escalation(escalation, next_due_at=due)
    steps = [(CHANGES[r.state], r.record) for r in results]
    publish(uow, running, steps, correlation, str(escalation.escalation_id))
    for result in results:
        repos.tally.step(
            escalation.escalation_id, running.protocol.id, result.record.step_id, result.state.value
        )
    repos.set_timer(escalation.escalation_id, running.partition, due)
    return escalation


def without_given_tasks(
    uow: Uow, escalation_id: UUID, results: list[StepResult]
) -> list[StepResult]:
    """The steps' records without the tasks people already have in this escalation (after
    an upgrade, the stronger protocol's phone check when the official already has one)."""
    executed = [r for r in results if r.state is StepState.EXECUTED]
    if not any(merging.tasks_in(r.record.actions) for r in executed):
        return results
    given = merging.open_tasks(uow.repos.given_tasks(escalation_id), uow.now)
    return [
        replace(r, record=merging.without_duplicates(r.record, given))
        if r.state is StepState.EXECUTED
        else r
        for r in results
    ]


def upgrade(
    uow: Uow,
    running: Running,
    protocol: ProtocolSpec,
    alert: Alert,
    facts: dict[str, Any],
    correlation: str,
) -> Escalation:
    """A stronger alert joined: the escalation moves onto ``protocol``, carrying over what
    was done, and the new protocol's due steps run at once."""
    repos, now = uow.repos, uow.now
    previous = running.protocol.id
    escalation, superseded = merging.upgrade(
        running.protocol, protocol, running.escalation, running.ctx, now
    )
    row = repos.save_escalation(escalation, facts=facts)
    for record in superseded:
        state = StepState.CANCELLED.value
        repos.record_step(
            escalation.escalation_id, record.step_id, state, record.due_at, now, repos.instance, []
        )
    upgraded = Running.of(uow, escalation, row)
    causation = str(alert.alert_id)
    cancelled = [(EscalationChange.STEP_CANCELLED, r) for r in superseded]
    publish(uow, upgraded, cancelled, correlation, causation)
    change = [(EscalationChange.UPGRADED, None)]
    publish(
        uow,
        upgraded,
        change,
        correlation,
        causation,
        joined_alert_id=alert.alert_id,
        previous_protocol_id=previous,
    )
    log.info(
        "escalation upgraded",
        escalation_id=str(escalation.escalation_id),
        previous_protocol_id=previous,
        protocol_id=protocol.id,
        alert_id=causation,
    )
    return advance(uow, upgraded)


def close(
    uow: Uow,
    running: Running,
    closure: EscalationClosure,
    correlation: str,
    causation: str,
    *,
    resolve: Sequence[Alert] | None = None,
) -> None:
    """Close the escalation and resolve ``resolve`` (by default every alert it answers)."""
    repos, now = uow.repos, uow.now
    closed, cancelled = protocols.close(
        running.protocol, running.escalation, closure, now, running.ctx
    )
    running.escalation = closed
    repos.save_escalation(closed, next_due_at=None)
    for result in cancelled:
        repos.record_step(
            closed.escalation_id,
            result.record.step_id,
            result.state.value,
            result.record.due_at,
            now,
            repos.instance,
            [],
        )
    changes: list[tuple[EscalationChange, StepRecord | None]] = [
        (CHANGES[r.state], r.record) for r in cancelled
    ]
    publish(uow, running, [*changes, (EscalationChange.CLOSED, None)], correlation, causation)
    repos.set_timer(closed.escalation_id, running.partition, None)
    resolution = RESOLUTIONS.get(closure, AlertResolution.OUTCOME)
    ending = repos.open_alerts_of_escalation(closed) if resolve is None else resolve
    for alert in ending:  # by default the one it started and those that joined
        resolve_alert(uow, alert, resolution, correlation, causation)
    log.info("escalation closed", escalation_id=str(closed.escalation_id), closure=closure.value)


def close_escalation(
    uow: Uow, escalation: Escalation, closure: EscalationClosure, correlation: str, causation: str
) -> None:
    """Close an escalation loaded as a domain object (reads its row once)."""
    row = uow.repos.escalation_row(escalation.escalation_id)
    close(uow, Running.of(uow, escalation, row), closure, correlation, causation)


def run_due_steps(uow: Uow, escalation_ids: list[str]) -> None:
    """Timers that went off together: the due steps of every running one.

    Set-based like a consumer batch: their rows and households read up front, the steps,
    escalation updates and events written together at the end (``staging.py``)."""
    repos = uow.repos
    ids = [UUID(e) for e in escalation_ids]
    repos.prefetch_escalations(ids)
    for escalation_id in ids:
        running = load(uow, escalation_id)
        if running is None or running.escalation.status is not EscalationStatus.RUNNING:
            continue
        advance(uow, running)
    uow.published += repos.write_staged()


def on_outcome(outcome: OutcomeEvent, uow: Uow) -> None:
    """Outreach reports what happened: a protocol may close, skip ahead or go on."""
    repos = uow.repos
    if outcome.escalation_id is not None:
        found = load(uow, outcome.escalation_id)
        targets = [found] if found is not None else []
    else:
        targets = [
            Running.of(uow, e, repos.escalation_row(e.escalation_id))
            for e in repos.running_escalations(outcome.household_id)
        ]
    for running in targets:
        escalation = running.escalation
        if escalation.status is not EscalationStatus.RUNNING:
            continue  # a late or replayed outcome does not reopen anything
        step_id = outcome.step_id if outcome.escalation_id == escalation.escalation_id else None
        updated, closure = protocols.apply_outcome(
            running.protocol, escalation, outcome.result, step_id
        )
        running.escalation = updated
        correlation = running.correlation_id or str(outcome.event_id)
        if closure is not None:
            close(uow, running, closure, correlation, str(outcome.event_id))
        elif updated is not escalation:
            repos.save_escalation(updated)
            advance(uow, running)
    if outcome.result is OutcomeResult.CONTACT_CONFIRMED:
        state = repos.safety_calls(outcome.household_id)
        repos.save_safety_calls(outcome.household_id, safety_calls.reset(state))
    if outcome.result in FOUND_WELL:
        memory = ArrearsMemory.of_state(repos.rule_state(outcome.household_id, "arrears"))
        if memory.levels:
            checked = signal_rules.found_well(memory)
            repos.save_rule_state(outcome.household_id, "arrears", checked.to_state())


def record_approval(uow: Uow, escalation_id: UUID, approval: ApprovalRecord) -> Escalation:
    """Record who asked, who approved, who was present; a waiting step runs at once."""
    running = load(uow, escalation_id)
    if running is None:
        raise LookupError(f"escalation {escalation_id} not found")
    escalation = running.escalation
    if escalation.status is not EscalationStatus.RUNNING:
        raise ValueError(f"escalation {escalation_id} is closed")
    waiting = [s for s, st in escalation.steps.items() if st is StepState.AWAITING_APPROVAL]
    updated = protocols.record_approval(escalation, approval)
    uow.repos.save_escalation(updated)
    running.escalation = updated
    correlation = running.correlation_id or str(escalation_id)
    step = running.protocol.step(waiting[0]) if waiting else None
    record = StepRecord(
        step_id=step.id if step else "approval",
        title=step.heading.ko if step else approval.kind,
        due_at=uow.now,
        executed_at=uow.now,
        approval=approval,
    )
    change = EscalationChange.APPROVAL_RECORDED
    publish(uow, running, [(change, record)], correlation, approval.approved_by)
    return advance(uow, running)
