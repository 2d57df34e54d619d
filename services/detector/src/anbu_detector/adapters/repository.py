"""The detector's SQL: loading and saving domain objects (the heartbeat flush and the index
load are :class:`.index_store.IndexStore`'s, which it extends).

Handlers see a :class:`Repository` as ``uow.repos`` (through the bundle in
``handlers/unit.py``); HTTP reads use it directly. No other module writes SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func
from sqlmodel import Session, col, select

from anbu_contracts import (
    AlertReason,
    AlertStatus,
    EscalationStatus,
    HouseholdSnapshot,
    TaskAction,
)

from ..domain.alerts import Alert
from ..domain.protocols import Escalation
from ..domain.safety_calls import SafetyCallState
from .index_store import IndexStore
from .orm import (
    APPROVALS,
    EVIDENCE,
    AlertRow,
    EscalationRow,
    HouseholdRow,
    RuleStateRow,
    SafetyCallRow,
    StepExecutionRow,
    UnknownHouseholdRow,
    alert_of,
    escalation_of,
    household_values,
)
from .staging import CHUNK, Staged, Staging, staged_row


class Repository(IndexStore, Staging):
    """Loads and saves the detector's domain objects inside one session (a consumer
    batch's households from what it prefetched and staged: :class:`.staging.Staging`)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        Staging.__init__(self, session)

    # households
    def household(self, household_id: str) -> HouseholdRow | None:
        return self._get(HouseholdRow, household_id)

    def save_household(self, snapshot: HouseholdSnapshot, partition: int) -> HouseholdRow | None:
        """Keep the snapshot unless a newer revision is stored; the row if it changed."""
        row = self._get(HouseholdRow, snapshot.household_id)
        if row is not None and row.revision >= snapshot.revision:
            return None
        values = household_values(snapshot, partition)
        if row is None:
            row = HouseholdRow(household_id=snapshot.household_id, **values)
            self._absent.discard((HouseholdRow, snapshot.household_id))
        else:
            for key, value in values.items():
                setattr(row, key, value)
        self.session.add(row)
        unknown = self.session.get(UnknownHouseholdRow, snapshot.household_id)
        if unknown is not None:  # announced at last: no longer unknown
            self.session.delete(unknown)
        return row

    def note_hospital_stay(self, row: HouseholdRow, until: datetime) -> None:
        """A partner hospital has the resident until ``until`` (the detector's own column)."""
        row.hospital_until = until
        self.session.add(row)

    def note_device_status(
        self, row: HouseholdRow, channel: str, status: str, since: datetime
    ) -> bool:
        """A partner's notice that a channel's device went offline or came back (the
        detector's own column); False when an equally recent or newer notice is on file
        (notices can arrive late and out of order)."""
        known = dict(row.device_status or {})
        current = known.get(channel)
        if current is not None and datetime.fromisoformat(current["since"]) >= since:
            return False
        known[channel] = {"status": status, "since": since.isoformat()}
        row.device_status = known  # a new dict: the JSON column sees the change
        self.session.add(row)
        return True

    def note_unknown(self, counts: dict[str, dict[str, int]], now: datetime) -> None:
        for household_id, kinds in counts.items():
            row = self.session.get(UnknownHouseholdRow, household_id)
            if row is None:
                row = UnknownHouseholdRow(household_id=household_id, first_seen=now, last_seen=now)
            row.last_seen = now
            row.signals += sum(kinds.values())
            merged = dict(row.kinds)
            for kind, n in kinds.items():
                merged[kind] = merged.get(kind, 0) + n
            row.kinds = merged
            self.session.add(row)

    # event-rule memory
    def safety_calls(self, household_id: str) -> SafetyCallState:
        row = self.session.get(SafetyCallRow, household_id)
        if row is None:
            return SafetyCallState()
        return SafetyCallState(
            consecutive_unanswered=row.consecutive_unanswered,
            streak=tuple(EVIDENCE.validate_python(row.streak)),
            last_call_at=row.last_call_at,
        )

    def save_safety_calls(self, household_id: str, state: SafetyCallState) -> None:
        row = self.session.get(SafetyCallRow, household_id) or SafetyCallRow(
            household_id=household_id
        )
        row.consecutive_unanswered = state.consecutive_unanswered
        row.streak = EVIDENCE.dump_python(list(state.streak), mode="json")
        row.last_call_at = state.last_call_at
        self.session.add(row)

    def rule_state(self, household_id: str, rule: str) -> dict[str, Any]:
        staged = self._staged_rule_state(household_id, rule)
        if staged is not None:
            return dict(staged)
        row = self._get(RuleStateRow, (household_id, rule))
        return dict(row.state) if row else {}

    def save_rule_state(self, household_id: str, rule: str, state: dict[str, Any]) -> None:
        if self._stage_rule_state(household_id, rule, state):
            return
        row = self._get(RuleStateRow, (household_id, rule)) or RuleStateRow(
            household_id=household_id, rule=rule
        )
        row.state = state
        self.session.add(row)
        self._absent.discard((RuleStateRow, (household_id, rule)))

    # alerts
    def open_alert(self, household_id: str, reason: AlertReason) -> Alert | None:
        if staged := self._fresh(household_id):
            for found in staged.alerts_of(household_id):
                if found.reason == reason.value and found.status == AlertStatus.OPEN.value:
                    return alert_of(found)
            return None
        row = self.session.exec(
            select(AlertRow).where(
                AlertRow.household_id == household_id,
                AlertRow.reason == reason.value,
                AlertRow.status == AlertStatus.OPEN.value,
            )
        ).first()
        return alert_of(row) if row else None

    def open_alerts_of(self, household_id: str) -> list[Alert]:
        if staged := self._fresh(household_id):
            found = staged.alerts_of(household_id)
            return [alert_of(r) for r in found if r.status == AlertStatus.OPEN.value]
        rows = self.session.exec(
            select(AlertRow).where(
                AlertRow.household_id == household_id, AlertRow.status == AlertStatus.OPEN.value
            )
        ).all()
        return [alert_of(r) for r in rows]

    def alert(self, alert_id: UUID) -> Alert | None:
        row = self._alert_row(alert_id)
        return alert_of(row) if row else None

    def alert_correlation(self, alert_id: UUID) -> str | None:
        row = self._alert_row(alert_id)
        return row.correlation_id if row else None

    def save_alert(self, alert: Alert, correlation_id: str | None = None) -> None:
        staged = self._fresh(alert.household_id)
        row = staged.alerts.get(alert.alert_id) if staged else self._alert_row(alert.alert_id)
        values = {
            "household_id": alert.household_id,
            "reason": alert.reason.value,
            "severity": alert.severity.value,
            "status": alert.status.value,
            "opened_at": alert.opened_at,
            "resolved_at": alert.resolved_at,
            "resolution": alert.resolution.value if alert.resolution else None,
            "rule": alert.rule.model_dump(mode="json"),
            "evidence": EVIDENCE.dump_python(list(alert.evidence), mode="json"),
            "protocol_id": alert.protocol_id,
        }
        if row is None:
            make = staged_row if staged else AlertRow
            row = make(
                alert_id=alert.alert_id, correlation_id=correlation_id, escalation_id=None, **values
            )
        else:
            for key, value in values.items():
                setattr(row, key, value)
        if staged:
            staged.add_alert(row)
            return
        self.session.add(row)
        self.session.flush()

    # escalations
    def escalation_row(self, escalation_id: UUID) -> EscalationRow | None:
        if self.staged is not None and escalation_id in self.staged.escalations:
            return self.staged.escalations[escalation_id]
        return self.session.get(EscalationRow, escalation_id)

    def prefetch_escalations(self, escalation_ids: list[UUID]) -> Staged:
        """``prefetch`` for timers going off: the escalations' rows (kept in the session),
        their executed steps' actions (``given_tasks``) and their households'."""
        rows = self.session.exec(
            select(EscalationRow).where(col(EscalationRow.escalation_id).in_(escalation_ids))
        ).all()
        self._loaded.extend(rows)
        executed = self.session.exec(
            select(StepExecutionRow.escalation_id, StepExecutionRow.actions).where(
                col(StepExecutionRow.escalation_id).in_(escalation_ids),
                StepExecutionRow.state == "executed",
            )
        ).all()
        self._actions = {escalation_id: [] for escalation_id in escalation_ids}
        for escalation_id, actions in executed:
            self._actions[escalation_id].append(actions)
        # Their households' rows only: a firing reads no rule state, and none of them is
        # fresh (each has this running escalation), so the batch prefetch's rule-state and
        # open-alert/running-escalation reads (half the firing's reads) would find nothing
        # to use.
        households = sorted({row.household_id for row in rows})
        for start in range(0, len(households), CHUNK):
            chunk = households[start : start + CHUNK]
            found = self.session.exec(
                select(HouseholdRow).where(col(HouseholdRow.household_id).in_(chunk))
            ).all()
            self._loaded.extend(found)
            known = {row.household_id for row in found}
            self._absent.update((HouseholdRow, h) for h in chunk if h not in known)
        self.staged = Staged(self.session, set())
        return self.staged

    def escalation(self, escalation_id: UUID) -> Escalation | None:
        row = self.escalation_row(escalation_id)
        return escalation_of(row) if row else None

    def running_escalations(self, household_id: str) -> list[Escalation]:
        if staged := self._fresh(household_id):
            found = staged.escalations_of(household_id)
            return [escalation_of(r) for r in found if r.status == EscalationStatus.RUNNING.value]
        rows = self.session.exec(
            select(EscalationRow).where(
                EscalationRow.household_id == household_id,
                EscalationRow.status == EscalationStatus.RUNNING.value,
            )
        ).all()
        return [escalation_of(r) for r in rows]

    def escalation_for_alert(self, alert_id: UUID) -> Escalation | None:
        """The escalation the alert started or joined."""
        alert = self._alert_row(alert_id)
        if alert is not None and alert.escalation_id is not None:
            return self.escalation(alert.escalation_id)
        if alert is not None and (staged := self._fresh(alert.household_id)):
            found = staged.escalations_of(alert.household_id)
            started = [e for e in found if e.alert_id == alert_id]
            return escalation_of(started[0]) if started else None
        # Alerts from before the link was kept: the escalation they started.
        row = self.session.exec(
            select(EscalationRow).where(EscalationRow.alert_id == alert_id)
        ).first()
        return escalation_of(row) if row else None

    def link_alert(self, alert_id: UUID, escalation_id: UUID) -> bool:
        """Make the alert evidence for the escalation; False if it already was."""
        row = self._alert_row(alert_id)
        if row is None or row.escalation_id == escalation_id:
            return False
        row.escalation_id = escalation_id
        if self.staged is None or alert_id not in self.staged.alerts:
            self.session.add(row)
            self.session.flush()
        return True

    def open_alerts_of_escalation(self, escalation: Escalation) -> list[Alert]:
        """The open alerts an escalation answers: the one that started it and those that
        joined it."""
        if staged := self._fresh(escalation.household_id):
            answers = [
                r
                for r in staged.alerts_of(escalation.household_id)
                if r.status == AlertStatus.OPEN.value
                and (
                    r.escalation_id == escalation.escalation_id or r.alert_id == escalation.alert_id
                )
            ]
            return [alert_of(r) for r in sorted(answers, key=lambda r: r.opened_at)]
        rows = self.session.exec(
            select(AlertRow)
            .where(
                (AlertRow.escalation_id == escalation.escalation_id)
                | (AlertRow.alert_id == escalation.alert_id),
                AlertRow.status == AlertStatus.OPEN.value,
            )
            .order_by(col(AlertRow.opened_at))
        ).all()
        return [alert_of(r) for r in rows]

    def given_tasks(self, escalation_id: UUID) -> list[TaskAction]:
        """The tasks the escalation's executed steps gave to people."""
        if self.staged is not None and escalation_id in self.staged.escalations:
            steps = self.staged.steps_of(escalation_id)
            done = [s.actions for s in steps if s.state == "executed"]
            tasks = [a for actions in done for a in actions if a["action"] == "task"]
            return [TaskAction.model_validate(a) for a in tasks]
        rows: Sequence[Any] | None = self._actions.get(escalation_id)
        if rows is None:
            rows = self.session.exec(
                select(StepExecutionRow.actions).where(
                    StepExecutionRow.escalation_id == escalation_id,
                    StepExecutionRow.state == "executed",
                )
            ).all()
        tasks = [a for actions in rows for a in actions if a["action"] == "task"]
        return [TaskAction.model_validate(a) for a in tasks]

    def save_escalation(
        self,
        escalation: Escalation,
        *,
        partition: int | None = None,
        facts: dict[str, Any] | None = None,
        correlation_id: str | None = None,
        next_due_at: datetime | None = None,
    ) -> EscalationRow:
        staged = self._fresh(escalation.household_id)
        row = (
            staged.escalations.get(escalation.escalation_id)
            if staged
            else self.session.get(EscalationRow, escalation.escalation_id)
        )
        values = {
            "alert_id": escalation.alert_id,
            "household_id": escalation.household_id,
            "protocol_id": escalation.protocol_id,
            "protocol_version": escalation.protocol_version,
            "status": escalation.status.value,
            "triggered_at": escalation.triggered_at,
            "steps": {k: v.value for k, v in escalation.steps.items()},
            "approvals": APPROVALS.dump_python(list(escalation.approvals), mode="json"),
            "advanced": sorted(escalation.advanced),
            "closure": escalation.closure.value if escalation.closure else None,
            "closed_at": escalation.closed_at,
            "next_due_at": next_due_at,
        }
        if row is None:
            assert partition is not None
            row = (staged_row if staged else EscalationRow)(
                escalation_id=escalation.escalation_id,
                partition=partition,
                trigger_facts=facts or {},
                correlation_id=correlation_id,
                **values,
            )
        else:
            for key, value in values.items():
                # Only what changed (a step moves ``steps`` and ``next_due_at``): setting an
                # attribute of an ORM row costs ~20 µs even to the same value, twelve a step.
                if getattr(row, key) != value:
                    setattr(row, key, value)
            if facts is not None:  # an upgrade: the stronger alert's facts count too
                row.trigger_facts = {**row.trigger_facts, **facts}
        if staged:
            staged.add_escalation(row)
            return row
        self.session.add(row)
        if self.staged is None:  # a batch's session flushes once, at its commit
            self.session.flush()
        return row

    def record_step(
        self,
        escalation_id: UUID,
        step_id: str,
        state: str,
        due_at: datetime,
        ran_at: datetime,
        instance: str,
        actions: list[dict[str, Any]],
    ) -> None:
        """Insert the step's execution row; a duplicate (a second firing) fails the transaction.

        Staged (one bulk insert at the commit) for a new escalation staged in this unit and
        for one whose timer went off (``prefetch_escalations``: its executed steps are read
        from the prefetch, never from the table, in this unit); through the ORM otherwise."""
        staged = self.staged is not None and (
            escalation_id in self.staged.escalations or escalation_id in self._actions
        )
        row = (staged_row if staged else StepExecutionRow)(
            escalation_id=escalation_id,
            step_id=step_id,
            state=state,
            due_at=due_at,
            ran_at=ran_at,
            instance=instance,
            actions=actions,
        )
        if escalation_id in self._actions and state == "executed":
            self._actions[escalation_id].append(actions)
        if staged:
            assert self.staged is not None
            self.staged.add_step(row)
            return
        self.session.add(row)
        if self.staged is None:  # a batch's session flushes once, at its commit
            self.session.flush()

    def running_due(self, partitions: set[int]) -> list[tuple[UUID, int, datetime | None]]:
        """Running escalations of ``partitions``: id, partition, when the next step is due."""
        rows = self.session.exec(
            select(
                EscalationRow.escalation_id, EscalationRow.partition, EscalationRow.next_due_at
            ).where(
                col(EscalationRow.partition).in_(partitions),
                EscalationRow.status == EscalationStatus.RUNNING.value,
            )
        )
        return [(r[0], r[1], r[2]) for r in rows]

    # figures
    def open_alerts_by_severity(self) -> dict[str, int]:
        rows = self.session.exec(
            select(AlertRow.severity, func.count())
            .where(AlertRow.status == AlertStatus.OPEN.value)
            .group_by(AlertRow.severity)
        )
        return {severity: n for severity, n in rows}

    def running_by_protocol(self) -> dict[str, int]:
        rows = self.session.exec(
            select(EscalationRow.protocol_id, func.count())
            .where(EscalationRow.status == EscalationStatus.RUNNING.value)
            .group_by(EscalationRow.protocol_id)
        )
        return {protocol: n for protocol, n in rows}
