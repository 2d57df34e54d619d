"""One active response per household: an alert starts, joins or upgrades the response, and
an alert that ends on its own ends the response only if it was the last one open.

The decision is :mod:`anbu_detector.domain.merging`; this module loads and carries it out.
"""

from __future__ import annotations

from typing import Any

from anbu_contracts import AlertResolution, EscalationChange, EscalationClosure, EscalationStatus

from ..domain import merging
from ..domain.alerts import Alert
from ..domain.merging import Merge
from ..domain.protocols import Escalation
from . import protocols
from .alerts import resolve_alert
from .unit import Uow


def respond(
    uow: Uow,
    alert: Alert,
    protocol_id: str | None,
    partition: int,
    correlation: str,
    facts: dict[str, Any],
) -> None:
    """The alert (new, or open and just changed) meets the household's running response:
    it starts one, joins it as evidence, or upgrades it to ``protocol_id``."""
    repos = uow.repos
    own = repos.escalation_for_alert(alert.alert_id)
    response: Escalation | None = own
    if own is None or own.status is not EscalationStatus.RUNNING:
        response = merging.response_among(repos.running_escalations(alert.household_id))
    merge = merging.decide(response.protocol_id if response else None, protocol_id)
    if response is None or merge in (Merge.START, Merge.SEPARATE):
        if protocol_id is not None:
            protocol = repos.protocols[protocol_id]
            protocols.start(uow, protocol, alert, partition, correlation, facts)
        return
    joined = repos.link_alert(alert.alert_id, response.escalation_id)
    running = protocols.Running.of(uow, response, repos.escalation_row(response.escalation_id))
    known = running.correlation_id or correlation
    if merge is Merge.UPGRADE:
        assert protocol_id is not None  # decide() upgrades only to a protocol
        protocols.upgrade(uow, running, repos.protocols[protocol_id], alert, facts, known)
    elif joined:
        change = [(EscalationChange.ALERT_JOINED, None)]
        causation = str(alert.alert_id)
        protocols.publish(uow, running, change, known, causation, joined_alert_id=alert.alert_id)


def end_alert(
    uow: Uow,
    alert: Alert,
    closure: EscalationClosure,
    resolution: AlertResolution,
    correlation: str,
    causation: str,
) -> None:
    """An alert ends without a person's outcome (activity resumed, an operator settled it).
    Its escalation closes with it only if no other alert it answers is still open: the
    response to a household goes on while any of its reasons stands."""
    repos = uow.repos
    escalation = repos.escalation_for_alert(alert.alert_id)
    if escalation is not None and escalation.status is EscalationStatus.RUNNING:
        others = [
            a for a in repos.open_alerts_of_escalation(escalation) if a.alert_id != alert.alert_id
        ]
        if not others:
            protocols.close_escalation(uow, escalation, closure, correlation, causation)
            return
        if merging.steps_back(escalation.protocol_id, [a.protocol_id for a in others]):
            step_back(uow, escalation, alert, others, closure, correlation, causation)
            return
    resolve_alert(uow, alert, resolution, correlation, causation)


def step_back(
    uow: Uow,
    escalation: Escalation,
    ended: Alert,
    others: list[Alert],
    closure: EscalationClosure,
    correlation: str,
    causation: str,
) -> None:
    """The alert that called for the stronger protocol ended: the response closes (only that
    alert resolves) and the remaining alerts start the response they call for, the
    strongest first so that the others join it."""
    repos = uow.repos
    running = protocols.Running.of(uow, escalation, repos.escalation_row(escalation.escalation_id))
    protocols.close(uow, running, closure, correlation, causation, resolve=[ended])

    def strongest_first(alert: Alert) -> int:
        found = merging.rank(alert.protocol_id) if alert.protocol_id else None
        return -1 if found is None else found

    for other in sorted(others, key=strongest_first, reverse=True):
        known = repos.alert_correlation(other.alert_id) or correlation
        respond(uow, other, other.protocol_id, running.partition, known, {})
