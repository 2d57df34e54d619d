"""The detector's alerts and escalations (with each executed step)."""

from __future__ import annotations

from typing import Any

from anbu_contracts import AlertEvent, EscalationChange, EscalationEvent

from ..adapters.orm import AlertView, EscalationView, StepView
from ..domain.changes import Change
from .common import Uow, change, stale, timeline


def on_alert(event: AlertEvent, uow: Uow) -> Change:
    summary = f"{event.change.value}: {event.reason.value} ({event.severity.value})"
    timeline(uow, event, "detector.alert", event.household_id, str(event.alert_id), summary)
    row = uow.repos.get(AlertView, event.alert_id)
    if not stale(row, event.produced_at):
        values: dict[str, Any] = {
            "household_id": event.household_id,
            "reason": event.reason.value,
            "source": event.evidence[0].kind.value if event.evidence else event.reason.value,
            "severity": event.severity.value,
            "status": event.status.value,
            "opened_at": event.opened_at,
            "resolved_at": event.resolved_at,
            "resolution": event.resolution.value if event.resolution else None,
            "protocol_id": event.protocol_id,
            "rule": event.rule.model_dump(mode="json"),
            "evidence": [e.model_dump(mode="json") for e in event.evidence],
            "updated_at": event.produced_at,
        }
        if row is None:
            row = AlertView(alert_id=event.alert_id, **values)
        else:
            for key, value in values.items():
                setattr(row, key, value)
        uow.repos.add(row)
    return change(uow, "alert", event.household_id, str(event.alert_id), summary)


def on_escalation(event: EscalationEvent, uow: Uow) -> Change:
    step = event.step
    summary = f"{event.protocol_id} {event.change.value}" + (f" {step.step_id}" if step else "")
    timeline(
        uow,
        event,
        "detector.escalation",
        event.household_id,
        str(event.escalation_id),
        summary,
    )
    if step is not None:
        stored = uow.repos.get(StepView, (event.escalation_id, step.step_id))
        if stored is None or stored.executed_at <= step.executed_at:
            stored = stored or StepView(
                escalation_id=event.escalation_id,
                step_id=step.step_id,
                title=step.title,
                change=event.change.value,
                due_at=step.due_at,
                executed_at=step.executed_at,
            )
            stored.title, stored.change = step.title, event.change.value
            stored.due_at, stored.executed_at = step.due_at, step.executed_at
            stored.actions, stored.note = len(step.actions), step.note
            uow.repos.add(stored)
    row = uow.repos.get(EscalationView, event.escalation_id)
    if not stale(row, event.produced_at):
        row = row or EscalationView(
            escalation_id=event.escalation_id,
            household_id=event.household_id,
            protocol_id=event.protocol_id,
            status=event.status.value,
            triggered_at=event.triggered_at,
            updated_at=event.produced_at,
        )
        # an upgrade (one response per household) moves a running escalation to a stronger
        # protocol: every event names the protocol the escalation runs now
        row.protocol_id = event.protocol_id
        row.alert_id, row.protocol_version = event.alert_id, event.protocol_version
        row.status, row.change = event.status.value, event.change.value
        if step is not None:
            row.last_step_id, row.last_step_title = step.step_id, step.title
            row.last_step_at = step.executed_at
        row.awaiting_approval = event.change is EscalationChange.STEP_AWAITING_APPROVAL
        row.next_step_id, row.next_step_due_at = event.next_step_id, event.next_step_due_at
        row.closure = event.closure.value if event.closure else None
        row.closed_at = event.occurred_at if event.closure else None
        row.updated_at = event.produced_at
        uow.repos.add(row)
    return change(uow, "escalation", event.household_id, str(event.escalation_id), summary)
