"""The detector's own tables and the repository that maps them to domain objects."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy import JSON, Column, Index, text
from sqlalchemy.orm import registry
from sqlmodel import Field, Session, SQLModel, select

from anbu_contracts import (
    AlertReason,
    AlertResolution,
    AlertStatus,
    ApprovalRecord,
    EscalationClosure,
    EscalationStatus,
    EvidenceRef,
    HouseholdSnapshot,
    HouseholdStatus,
    MonitoringChannel,
    RuleRef,
    Severity,
)
from anbu_runtime.db import UtcDateTime

from ..domain.absence import QuietHours
from ..domain.alerts import Alert
from ..domain.monitor import WatchConfig
from ..domain.protocols import Context, Escalation, StepState
from ..domain.safety_calls import SafetyCallState


class Table(SQLModel, registry=registry()):
    """Base of the detector's tables (its own metadata, apart from other services)."""


metadata = Table.metadata

_evidence = TypeAdapter(list[EvidenceRef])
_approvals = TypeAdapter(list[ApprovalRecord])


def _tz() -> Any:
    return Column(UtcDateTime(), nullable=True)


def _json() -> Any:
    return Column(JSON, nullable=False)


class HouseholdRow(Table, table=True):
    """What the detector keeps of a registry snapshot: only what its rules need."""

    __tablename__ = "household"
    household_id: str = Field(primary_key=True, max_length=32)
    partition: int = Field(index=True)
    revision: int
    status: str = Field(max_length=16)
    suspended_until: datetime | None = Field(default=None, sa_column=_tz())
    timezone: str = Field(max_length=64)
    quiet_start: time
    quiet_end: time
    programme: str = Field(max_length=64)
    windows: dict[str, float | None] = Field(default_factory=dict, sa_column=_json())
    rule_overrides: dict[str, float] = Field(default_factory=dict, sa_column=_json())
    medical_aid: bool = False
    landlord_on_file: bool = False
    guardians_on_file: bool = False
    dong_code: str = Field(max_length=10)


class ChannelStateRow(Table, table=True):
    """A channel's last activity, as epoch seconds: written for every heartbeat flush, so it
    is kept in the cheapest form to write and to load back."""

    __tablename__ = "channel_clock"
    household_id: str = Field(primary_key=True, max_length=32)
    channel: str = Field(primary_key=True, max_length=32)
    partition: int = Field(index=True)
    last_active: float
    silent: bool = False


class SafetyCallRow(Table, table=True):
    __tablename__ = "safety_call_state"
    household_id: str = Field(primary_key=True, max_length=32)
    consecutive_unanswered: int = 0
    streak: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json())
    last_call_at: datetime | None = Field(default=None, sa_column=_tz())


class RuleStateRow(Table, table=True):
    """Per household and rule, what an event rule remembers (for example recent arrears)."""

    __tablename__ = "rule_state"
    household_id: str = Field(primary_key=True, max_length=32)
    rule: str = Field(primary_key=True, max_length=64)
    state: dict[str, Any] = Field(default_factory=dict, sa_column=_json())


class AlertRow(Table, table=True):
    __tablename__ = "alert"
    __table_args__ = (
        # Never two open alerts for one household and reason.
        Index(
            "uq_alert_open_reason",
            "household_id",
            "reason",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )
    alert_id: UUID = Field(primary_key=True)
    household_id: str = Field(index=True, max_length=32)
    reason: str = Field(max_length=40)
    severity: str = Field(max_length=16)
    status: str = Field(max_length=16, index=True)
    opened_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    resolved_at: datetime | None = Field(default=None, sa_column=_tz())
    resolution: str | None = None
    rule: dict[str, Any] = Field(sa_column=_json())
    evidence: list[dict[str, Any]] = Field(sa_column=_json())
    protocol_id: str | None = None
    correlation_id: str | None = None


class EscalationRow(Table, table=True):
    __tablename__ = "escalation"
    escalation_id: UUID = Field(primary_key=True)
    alert_id: UUID = Field(index=True)
    household_id: str = Field(index=True, max_length=32)
    partition: int = Field(index=True)
    protocol_id: str
    protocol_version: str
    status: str = Field(max_length=16, index=True)
    triggered_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    steps: dict[str, str] = Field(default_factory=dict, sa_column=_json())
    approvals: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json())
    advanced: list[str] = Field(default_factory=list, sa_column=_json())
    trigger_facts: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    closure: str | None = None
    closed_at: datetime | None = Field(default=None, sa_column=_tz())
    next_due_at: datetime | None = Field(default=None, sa_column=_tz())
    correlation_id: str | None = None


class StepExecutionRow(Table, table=True):
    """One row per step that ran: the primary key makes a second firing impossible."""

    __tablename__ = "step_execution"
    escalation_id: UUID = Field(primary_key=True)
    step_id: str = Field(primary_key=True, max_length=64)
    state: str = Field(max_length=24)
    due_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    ran_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    instance: str = Field(max_length=128)
    actions: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json())


class UnknownHouseholdRow(Table, table=True):
    """Signals for households the registry never announced: counted and reported."""

    __tablename__ = "unknown_household"
    household_id: str = Field(primary_key=True, max_length=32)
    first_seen: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    last_seen: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    signals: int = 0
    kinds: dict[str, int] = Field(default_factory=dict, sa_column=_json())


# -- mapping -------------------------------------------------------------------------------


def household_values(snapshot: HouseholdSnapshot, partition: int) -> dict[str, Any]:
    return {
        "partition": partition,
        "revision": snapshot.revision,
        "status": snapshot.status.value,
        "suspended_until": snapshot.suspended_until,
        "timezone": snapshot.timezone,
        "quiet_start": snapshot.quiet_hours.start,
        "quiet_end": snapshot.quiet_hours.end,
        "programme": snapshot.programme,
        "windows": {c.channel.value: c.window_hours for c in snapshot.channels if c.consent},
        "rule_overrides": snapshot.rule_overrides,
        "medical_aid": snapshot.medical_aid,
        "landlord_on_file": snapshot.landlord_on_file,
        "guardians_on_file": snapshot.guardians_on_file,
        "dong_code": snapshot.dong_code,
    }


def watch_config(row: HouseholdRow, default_hours: dict[MonitoringChannel, float]) -> WatchConfig:
    """The household's watch configuration; identical ones are shared (a million households
    have a handful of distinct configurations)."""
    hours = tuple(
        sorted(
            (channel, float(h) if h else default_hours.get(MonitoringChannel(channel), 24.0))
            for channel, h in row.windows.items()
        )
    )
    suspended = row.suspended_until if row.status == HouseholdStatus.SUSPENDED.value else None
    active = row.status not in (HouseholdStatus.MOVED.value, HouseholdStatus.CLOSED.value)
    return _shared_config(hours, row.quiet_start, row.quiet_end, row.timezone, active, suspended)


@lru_cache(maxsize=65536)
def _shared_config(
    hours: tuple[tuple[str, float], ...],
    quiet_start: time,
    quiet_end: time,
    timezone: str,
    active: bool,
    suspended_until: datetime | None,
) -> WatchConfig:
    return WatchConfig(
        windows={MonitoringChannel(c): timedelta(hours=h) for c, h in hours},
        quiet=QuietHours(quiet_start, quiet_end),
        tz=ZoneInfo(timezone),
        active=active,
        suspended_until=suspended_until,
    )


def protocol_context(row: HouseholdRow | None, facts: dict[str, Any]) -> Context:
    signal_date = facts.get("signal_date")
    return Context(
        tz=ZoneInfo(row.timezone) if row else ZoneInfo("Asia/Seoul"),
        medical_aid=bool(row and row.medical_aid),
        landlord_on_file=bool(row and row.landlord_on_file),
        guardians_on_file=bool(row and row.guardians_on_file),
        triggered_by_visit=bool(facts.get("triggered_by_visit")),
        abuse=bool(facts.get("abuse")),
        signal_date=date.fromisoformat(signal_date) if signal_date else None,
    )


class Repository:
    """Loads and saves the detector's domain objects inside one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # households
    def household(self, household_id: str) -> HouseholdRow | None:
        return self.session.get(HouseholdRow, household_id)

    def save_household(self, snapshot: HouseholdSnapshot, partition: int) -> HouseholdRow | None:
        """Keep the snapshot unless a newer revision is stored; the row if it changed."""
        row = self.session.get(HouseholdRow, snapshot.household_id)
        if row is not None and row.revision >= snapshot.revision:
            return None
        values = household_values(snapshot, partition)
        if row is None:
            row = HouseholdRow(household_id=snapshot.household_id, **values)
        else:
            for key, value in values.items():
                setattr(row, key, value)
        self.session.add(row)
        unknown = self.session.get(UnknownHouseholdRow, snapshot.household_id)
        if unknown is not None:  # announced at last: no longer unknown
            self.session.delete(unknown)
        return row

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
            streak=tuple(_evidence.validate_python(row.streak)),
            last_call_at=row.last_call_at,
        )

    def save_safety_calls(self, household_id: str, state: SafetyCallState) -> None:
        row = self.session.get(SafetyCallRow, household_id) or SafetyCallRow(
            household_id=household_id
        )
        row.consecutive_unanswered = state.consecutive_unanswered
        row.streak = _evidence.dump_python(list(state.streak), mode="json")
        row.last_call_at = state.last_call_at
        self.session.add(row)

    def rule_state(self, household_id: str, rule: str) -> dict[str, Any]:
        row = self.session.get(RuleStateRow, (household_id, rule))
        return dict(row.state) if row else {}

    def save_rule_state(self, household_id: str, rule: str, state: dict[str, Any]) -> None:
        row = self.session.get(RuleStateRow, (household_id, rule)) or RuleStateRow(
            household_id=household_id, rule=rule
        )
        row.state = state
        self.session.add(row)

    # alerts
    def open_alert(self, household_id: str, reason: AlertReason) -> Alert | None:
        row = self.session.exec(
            select(AlertRow).where(
                AlertRow.household_id == household_id,
                AlertRow.reason == reason.value,
                AlertRow.status == AlertStatus.OPEN.value,
            )
        ).first()
        return alert_of(row) if row else None

    def open_alerts_of(self, household_id: str) -> list[Alert]:
        rows = self.session.exec(
            select(AlertRow).where(
                AlertRow.household_id == household_id, AlertRow.status == AlertStatus.OPEN.value
            )
        ).all()
        return [alert_of(r) for r in rows]

    def alert(self, alert_id: UUID) -> Alert | None:
        row = self.session.get(AlertRow, alert_id)
        return alert_of(row) if row else None

    def alert_correlation(self, alert_id: UUID) -> str | None:
        row = self.session.get(AlertRow, alert_id)
        return row.correlation_id if row else None

    def save_alert(self, alert: Alert, correlation_id: str | None = None) -> None:
        row = self.session.get(AlertRow, alert.alert_id)
        values = {
            "household_id": alert.household_id,
            "reason": alert.reason.value,
            "severity": alert.severity.value,
            "status": alert.status.value,
            "opened_at": alert.opened_at,
            "resolved_at": alert.resolved_at,
            "resolution": alert.resolution.value if alert.resolution else None,
            "rule": alert.rule.model_dump(mode="json"),
            "evidence": _evidence.dump_python(list(alert.evidence), mode="json"),
            "protocol_id": alert.protocol_id,
        }
        if row is None:
            row = AlertRow(alert_id=alert.alert_id, correlation_id=correlation_id, **values)
        else:
            for key, value in values.items():
                setattr(row, key, value)
        self.session.add(row)
        self.session.flush()

    # escalations
    def escalation_row(self, escalation_id: UUID) -> EscalationRow | None:
        return self.session.get(EscalationRow, escalation_id)

    def escalation(self, escalation_id: UUID) -> Escalation | None:
        row = self.session.get(EscalationRow, escalation_id)
        return escalation_of(row) if row else None

    def running_escalations(self, household_id: str) -> list[Escalation]:
        rows = self.session.exec(
            select(EscalationRow).where(
                EscalationRow.household_id == household_id,
                EscalationRow.status == EscalationStatus.RUNNING.value,
            )
        ).all()
        return [escalation_of(r) for r in rows]

    def escalation_for_alert(self, alert_id: UUID) -> Escalation | None:
        row = self.session.exec(
            select(EscalationRow).where(EscalationRow.alert_id == alert_id)
        ).first()
        return escalation_of(row) if row else None

    def save_escalation(
        self,
        escalation: Escalation,
        *,
        partition: int | None = None,
        facts: dict[str, Any] | None = None,
        correlation_id: str | None = None,
        next_due_at: datetime | None = None,
    ) -> EscalationRow:
        row = self.session.get(EscalationRow, escalation.escalation_id)
        values = {
            "alert_id": escalation.alert_id,
            "household_id": escalation.household_id,
            "protocol_id": escalation.protocol_id,
            "protocol_version": escalation.protocol_version,
            "status": escalation.status.value,
            "triggered_at": escalation.triggered_at,
            "steps": {k: v.value for k, v in escalation.steps.items()},
            "approvals": _approvals.dump_python(list(escalation.approvals), mode="json"),
            "advanced": sorted(escalation.advanced),
            "closure": escalation.closure.value if escalation.closure else None,
            "closed_at": escalation.closed_at,
            "next_due_at": next_due_at,
        }
        if row is None:
            assert partition is not None
            row = EscalationRow(
                escalation_id=escalation.escalation_id,
                partition=partition,
                trigger_facts=facts or {},
                correlation_id=correlation_id,
                **values,
            )
        else:
            for key, value in values.items():
                setattr(row, key, value)
        self.session.add(row)
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
        """Insert the step's execution row; a duplicate (a second firing) fails the transaction."""
        self.session.add(
            StepExecutionRow(
                escalation_id=escalation_id,
                step_id=step_id,
                state=state,
                due_at=due_at,
                ran_at=ran_at,
                instance=instance,
                actions=actions,
            )
        )
        self.session.flush()


def escalation_of(row: EscalationRow) -> Escalation:
    return Escalation(
        escalation_id=row.escalation_id,
        alert_id=row.alert_id,
        household_id=row.household_id,
        protocol_id=row.protocol_id,
        protocol_version=row.protocol_version,
        status=EscalationStatus(row.status),
        triggered_at=row.triggered_at,
        steps={k: StepState(v) for k, v in row.steps.items()},
        approvals=tuple(_approvals.validate_python(row.approvals)),
        advanced=frozenset(row.advanced),
        closure=EscalationClosure(row.closure) if row.closure else None,
        closed_at=row.closed_at,
    )


def alert_of(row: AlertRow) -> Alert:
    return Alert(
        alert_id=row.alert_id,
        household_id=row.household_id,
        reason=AlertReason(row.reason),
        severity=Severity(row.severity),
        status=AlertStatus(row.status),
        opened_at=row.opened_at,
        rule=RuleRef.model_validate(row.rule),
        evidence=tuple(_evidence.validate_python(row.evidence)),
        resolved_at=row.resolved_at,
        resolution=AlertResolution(row.resolution) if row.resolution else None,
        protocol_id=row.protocol_id,
    )
