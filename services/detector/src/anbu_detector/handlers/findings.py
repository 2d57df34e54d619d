"""From a finding to an alert (opened, or an open one absorbing it) and its protocol; and
the ways alerts end without an outcome: recovery, a household that left, an operator."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from anbu_contracts import (
    AlertChange,
    AlertReason,
    AlertResolution,
    AlertStatus,
    EscalationClosure,
)

from ..adapters.events import new_id
from ..domain import alerts
from ..domain.alerts import Finding
from ..domain.rules import RuleSet
from . import protocols, responses
from .alerts import publish, resolve_alert
from .unit import Uow

ABSENCE_REASONS = (AlertReason.SAFETY_NOT_CONFIRMED, AlertReason.CHANNEL_SILENT)


def conclude(
    uow: Uow,
    household_id: str,
    partition: int,
    finding: Finding,
    rules: RuleSet,
    correlation: str,
    causation: str,
    facts: dict[str, Any],
) -> None:
    """Open an alert for the finding (or let the open one of its reason absorb it), and let
    it start, join or upgrade the household's one response (``responses.respond``)."""
    repos = uow.repos
    existing = repos.open_alert(household_id, finding.reason)
    if existing is not None:
        alert, change = alerts.absorb(existing, finding)
        if change is None:
            return
        repos.save_alert(alert)
        known = repos.alert_correlation(alert.alert_id) or correlation
        publish(uow, alert, change, known, causation)
    else:
        protocol_id = rules.protocol_for(finding.reason, finding.severity)
        alert = alerts.open_alert(new_id(), household_id, finding, uow.now, protocol_id)
        repos.save_alert(alert, correlation)
        publish(uow, alert, AlertChange.OPENED, correlation, causation)
        repos.tally.alert_opened(
            alert.alert_id,
            household_id,
            alert.reason.value,
            alert.severity.value,
            alert.rule.rule_id,
        )
    protocol_id = rules.protocol_for(alert.reason, alert.severity)
    responses.respond(uow, alert, protocol_id, partition, correlation, facts)


def resolve_absence(
    uow: Uow,
    household_id: str,
    resolution: AlertResolution,
    *,
    reasons: tuple[AlertReason, ...] = ABSENCE_REASONS,
    only_recoverable: bool = True,
) -> None:
    """Absence alerts end (activity resumed, channels withdrawn); their protocols close."""
    repos = uow.repos
    for alert in repos.open_alerts_of(household_id):
        if alert.reason not in reasons:
            continue
        if only_recoverable and not alert.rule.rule_id.startswith("absence."):
            continue  # e.g. a safety-call streak: only a person can settle it
        closure = (
            EscalationClosure.ACTIVITY_RESUMED
            if resolution is AlertResolution.RECOVERY
            else EscalationClosure.HOUSEHOLD_INACTIVE
        )
        correlation = repos.alert_correlation(alert.alert_id) or str(alert.alert_id)
        responses.end_alert(uow, alert, closure, resolution, correlation, str(alert.alert_id))


def stand_down(uow: Uow, household_id: str, correlation: str | None) -> None:
    """A household moved or closed: its protocols close and its alerts resolve."""
    repos = uow.repos
    for escalation in repos.running_escalations(household_id):
        corr = repos.alert_correlation(escalation.alert_id) or correlation or household_id
        closure = EscalationClosure.HOUSEHOLD_INACTIVE
        protocols.close_escalation(uow, escalation, closure, corr, household_id)
    for alert in repos.open_alerts_of(household_id):
        corr = repos.alert_correlation(alert.alert_id) or correlation or household_id
        resolution = AlertResolution.HOUSEHOLD_INACTIVE
        resolve_alert(uow, alert, resolution, corr, household_id)


def resolve_by_operator(uow: Uow, alert_id: UUID, actor: str) -> bool:
    """An operator settles an alert (closing its running protocol); False if not open."""
    repos = uow.repos
    alert = repos.alert(alert_id)
    if alert is None:
        raise LookupError(f"alert {alert_id} not found")
    if alert.status is not AlertStatus.OPEN:
        return False
    correlation = repos.alert_correlation(alert_id) or str(alert_id)
    closure, resolution = EscalationClosure.OPERATOR, AlertResolution.OPERATOR
    responses.end_alert(uow, alert, closure, resolution, correlation, actor)
    return True
