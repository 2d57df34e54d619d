"""Domain → contract: one function per event the detector publishes, built here only."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from anbu_contracts import (
    AlertChange,
    AlertEvent,
    EscalationChange,
    EscalationEvent,
    StepRecord,
)

from ..domain.alerts import Alert
from ..domain.protocols import Escalation, StepSpec

SOURCE = "detector"


def alert_event(
    alert: Alert, change: AlertChange, now: datetime, correlation: str, causation: str
) -> AlertEvent:
    return AlertEvent(
        occurred_at=now,
        produced_at=now,
        source=SOURCE,
        correlation_id=correlation,
        causation_id=causation,
        alert_id=alert.alert_id,
        household_id=alert.household_id,
        reason=alert.reason,
        change=change,
        severity=alert.severity,
        status=alert.status,
        opened_at=alert.opened_at,
        resolved_at=alert.resolved_at,
        resolution=alert.resolution,
        rule=alert.rule,
        evidence=list(alert.evidence),
        protocol_id=alert.protocol_id,
    )


def escalation_event(
    escalation: Escalation,
    change: EscalationChange,
    step: StepRecord | None,
    upcoming: tuple[StepSpec, datetime] | None,
    now: datetime,
    correlation: str,
    causation: str,
    *,
    joined_alert_id: UUID | None = None,
    previous_protocol_id: str | None = None,
) -> EscalationEvent:
    """``upcoming`` is the next step and when it is due (``protocols.next_due``), if any;
    ``joined_alert_id`` and ``previous_protocol_id`` tell of a join or an upgrade."""
    return EscalationEvent(
        occurred_at=now,
        produced_at=now,
        source=SOURCE,
        correlation_id=correlation,
        causation_id=causation,
        escalation_id=escalation.escalation_id,
        alert_id=escalation.alert_id,
        household_id=escalation.household_id,
        protocol_id=escalation.protocol_id,
        protocol_version=escalation.protocol_version,
        change=change,
        status=escalation.status,
        triggered_at=escalation.triggered_at,
        step=step,
        next_step_id=upcoming[0].id if upcoming else None,
        next_step_due_at=upcoming[1] if upcoming else None,
        closure=escalation.closure,
        joined_alert_id=joined_alert_id,
        previous_protocol_id=previous_protocol_id,
    )
