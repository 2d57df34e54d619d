"""The alert lifecycle: open, absorb new evidence, change severity, resolve.

There is never more than one open alert per household and reason: a finding for a reason
that already has an open alert adds its evidence to that alert instead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from anbu_contracts import (
    AlertChange,
    AlertReason,
    AlertResolution,
    AlertStatus,
    EvidenceRef,
    RuleRef,
    Severity,
)

MAX_EVIDENCE = 500


@dataclass(frozen=True)
class Finding:
    """What a rule concluded from a household's state and the signal just applied."""

    reason: AlertReason
    severity: Severity
    rule: RuleRef
    evidence: tuple[EvidenceRef, ...]


@dataclass(frozen=True)
class Alert:
    alert_id: UUID
    household_id: str
    reason: AlertReason
    severity: Severity
    status: AlertStatus
    opened_at: datetime
    rule: RuleRef
    evidence: tuple[EvidenceRef, ...]
    resolved_at: datetime | None = None
    resolution: AlertResolution | None = None
    protocol_id: str | None = None


def open_alert(
    alert_id: UUID, household_id: str, finding: Finding, now: datetime, protocol_id: str | None
) -> Alert:
    return Alert(
        alert_id=alert_id,
        household_id=household_id,
        reason=finding.reason,
        severity=finding.severity,
        status=AlertStatus.OPEN,
        opened_at=now,
        rule=finding.rule,
        evidence=finding.evidence,
        protocol_id=protocol_id,
    )


def absorb(alert: Alert, finding: Finding) -> tuple[Alert, AlertChange | None]:
    """Add a finding's evidence to an open alert; raise its severity if the finding is worse."""
    known = {e.event_id for e in alert.evidence}
    new = tuple(e for e in finding.evidence if e.event_id not in known)
    severity = max(alert.severity, finding.severity, key=lambda s: s.rank)
    if not new and severity is alert.severity:
        return alert, None
    updated = replace(alert, evidence=(*alert.evidence, *new)[-MAX_EVIDENCE:], severity=severity)
    change = (
        AlertChange.SEVERITY_RAISED
        if severity is not alert.severity
        else AlertChange.EVIDENCE_ADDED
    )
    return updated, change


def resolve(alert: Alert, resolution: AlertResolution, now: datetime) -> Alert:
    if alert.status is AlertStatus.RESOLVED:
        return alert
    return replace(alert, status=AlertStatus.RESOLVED, resolved_at=now, resolution=resolution)
