"""The detector's service layer: load state, let the domain decide, save, stage events.

Each handler runs inside one database transaction (the caller opens it) and stages its
events in the outbox in that same transaction, so state and events never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from sqlmodel import Session

from anbu_contracts import (
    AlertChange,
    AlertEvent,
    AlertResolution,
    EscalationChange,
    EscalationEvent,
    EscalationStatus,
    HouseholdSnapshot,
    HouseholdStatus,
    OutcomeEvent,
    OutcomeResult,
    SafetyCallSignal,
    Signal,
    StepRecord,
)
from anbu_contracts.topics import DETECTOR_ALERT, DETECTOR_ESCALATION
from anbu_runtime.clock import Clock
from anbu_runtime.logs import get_logger
from anbu_runtime.outbox import Outbox

from .adapters.orm import Repository
from .domain import alerts, protocols, safety_calls
from .domain.alerts import Alert, Finding
from .domain.protocols import Escalation, ProtocolSpec
from .domain.rules import RuleSet

log = get_logger(__name__)
SOURCE = "detector"


@dataclass
class Detector:
    ruleset: RuleSet
    protocols: dict[str, ProtocolSpec]
    outbox: Outbox
    clock: Clock

    # -- registry --------------------------------------------------------------------

    def on_household(self, session: Session, snapshot: HouseholdSnapshot) -> None:
        repo = Repository(session)
        if not repo.save_household(snapshot):
            return
        if snapshot.status in (HouseholdStatus.MOVED, HouseholdStatus.CLOSED):
            self._stand_down(repo, snapshot.household_id, snapshot.correlation_id)

    # -- signals ---------------------------------------------------------------------

    def is_monitored(self, repo: Repository, household_id: str, at: datetime) -> bool:
        """False while a household is suspended, moved or closed: its signals do nothing."""
        household = repo.household(household_id)
        if household is None or household.status is HouseholdStatus.ACTIVE:
            return True
        if household.status is HouseholdStatus.SUSPENDED:
            return household.suspended_until is not None and household.suspended_until <= at
        return False

    def on_safety_call(self, session: Session, signal: SafetyCallSignal) -> None:
        repo = Repository(session)
        if not self.is_monitored(repo, signal.household_id, signal.occurred_at):
            log.info("signal for an inactive household ignored", household_id=signal.household_id)
            return
        state = repo.safety_calls(signal.household_id)
        new_state, finding = safety_calls.apply_safety_call(
            state, signal, self.ruleset.safety_call, self.ruleset.version
        )
        repo.save_safety_calls(signal.household_id, new_state)
        if finding is not None:
            self._conclude(repo, signal, finding)

    def _conclude(self, repo: Repository, signal: Signal, finding: Finding) -> None:
        now = self.clock.now()
        correlation = signal.correlation_id or str(signal.event_id)
        causation = str(signal.event_id)
        existing = repo.open_alert(signal.household_id, finding.reason)
        if existing is not None:
            updated, change = alerts.absorb(existing, finding)
            if change is not None:
                repo.save_alert(updated)
                self._emit_alert(repo, updated, change, now, correlation, causation)
            return
        protocol_id = self.ruleset.protocol_for(finding.reason)
        alert = alerts.open_alert(uuid4(), signal.household_id, finding, now, protocol_id)
        repo.save_alert(alert, correlation)
        self._emit_alert(repo, alert, AlertChange.OPENED, now, correlation, causation)
        log.info(
            "alert opened",
            alert_id=str(alert.alert_id),
            household_id=alert.household_id,
            reason=alert.reason.value,
            severity=alert.severity.value,
            rule=alert.rule.rule_id,
        )
        if protocol_id is not None:
            self._start_protocol(repo, self.protocols[protocol_id], alert, now, correlation)

    # -- protocols -------------------------------------------------------------------

    def _start_protocol(
        self,
        repo: Repository,
        protocol: ProtocolSpec,
        alert: Alert,
        now: datetime,
        correlation: str,
    ) -> None:
        escalation = protocols.start(protocol, uuid4(), alert.alert_id, alert.household_id, now)
        repo.save_escalation(escalation, correlation)
        self._emit_escalation(
            repo,
            protocol,
            escalation,
            EscalationChange.STARTED,
            None,
            now,
            correlation,
            str(alert.alert_id),
        )
        self.run_due_steps(repo, protocol, escalation, now, correlation)

    def run_due_steps(
        self,
        repo: Repository,
        protocol: ProtocolSpec,
        escalation: Escalation,
        now: datetime,
        correlation: str,
    ) -> Escalation:
        for step in protocols.due_steps(protocol, escalation, now):
            escalation, record = protocols.execute(escalation, step, now)
            repo.save_escalation(escalation)
            self._emit_escalation(
                repo,
                protocol,
                escalation,
                EscalationChange.STEP_EXECUTED,
                record,
                now,
                correlation,
                str(escalation.escalation_id),
            )
            log.info(
                "protocol step executed",
                escalation_id=str(escalation.escalation_id),
                protocol_id=protocol.id,
                step_id=step.id,
            )
        return escalation

    # -- outcomes --------------------------------------------------------------------

    def on_outcome(self, session: Session, outcome: OutcomeEvent) -> None:
        repo = Repository(session)
        now = self.clock.now()
        if outcome.escalation_id is not None:
            escalation = repo.escalation(outcome.escalation_id)
            targets = [escalation] if escalation is not None else []
        else:
            targets = repo.running_escalations(outcome.household_id)
        for escalation in targets:
            if escalation.status is not EscalationStatus.RUNNING:
                continue  # a late or replayed outcome does not reopen anything
            protocol = self.protocols[escalation.protocol_id]
            closure = protocols.closure_for(protocol, outcome.result)
            if closure is None:
                continue
            closed = protocols.close(escalation, closure, now)
            repo.save_escalation(closed)
            correlation = repo.escalation_correlation(closed.escalation_id) or str(outcome.event_id)
            self._emit_escalation(
                repo,
                protocol,
                closed,
                EscalationChange.CLOSED,
                None,
                now,
                correlation,
                str(outcome.event_id),
            )
            self._resolve_alert(repo, closed, AlertResolution.OUTCOME, now, correlation, outcome)
            log.info(
                "escalation closed",
                escalation_id=str(closed.escalation_id),
                closure=closure.value,
            )
        if outcome.result is OutcomeResult.CONTACT_CONFIRMED:
            state = repo.safety_calls(outcome.household_id)
            repo.save_safety_calls(outcome.household_id, safety_calls.reset(state))

    def _resolve_alert(
        self,
        repo: Repository,
        escalation: Escalation,
        resolution: AlertResolution,
        now: datetime,
        correlation: str,
        cause: OutcomeEvent | None,
    ) -> None:
        alert = repo.alert(escalation.alert_id)
        if alert is None or alert.status.value != "open":
            return
        resolved = alerts.resolve(alert, resolution, now)
        repo.save_alert(resolved)
        self._emit_alert(
            repo,
            resolved,
            AlertChange.RESOLVED,
            now,
            correlation,
            str(cause.event_id) if cause else str(escalation.escalation_id),
        )

    def _stand_down(self, repo: Repository, household_id: str, correlation: str | None) -> None:
        """A household moved or closed: close its running protocols and open alerts."""
        now = self.clock.now()
        for escalation in repo.running_escalations(household_id):
            protocol = self.protocols[escalation.protocol_id]
            closed = protocols.close(
                escalation, protocols.EscalationClosure.HOUSEHOLD_INACTIVE, now
            )
            repo.save_escalation(closed)
            corr = repo.escalation_correlation(closed.escalation_id) or correlation or ""
            self._emit_escalation(
                repo, protocol, closed, EscalationChange.CLOSED, None, now, corr, household_id
            )
            self._resolve_alert(repo, closed, AlertResolution.HOUSEHOLD_INACTIVE, now, corr, None)

    # -- events ----------------------------------------------------------------------

    def _emit_alert(
        self,
        repo: Repository,
        alert: Alert,
        change: AlertChange,
        now: datetime,
        correlation: str,
        causation: str,
    ) -> None:
        event = AlertEvent(
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
        self.outbox.add(repo.session, DETECTOR_ALERT, event)

    def _emit_escalation(
        self,
        repo: Repository,
        protocol: ProtocolSpec,
        escalation: Escalation,
        change: EscalationChange,
        step: StepRecord | None,
        now: datetime,
        correlation: str,
        causation: str,
    ) -> None:
        upcoming = protocols.next_step(protocol, escalation)
        running = escalation.status is EscalationStatus.RUNNING
        event = EscalationEvent(
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
            next_step_id=upcoming.id if upcoming and running else None,
            next_step_due_at=protocols.due_at(escalation, upcoming)
            if upcoming and running
            else None,
            closure=escalation.closure,
        )
        self.outbox.add(repo.session, DETECTOR_ESCALATION, event)
