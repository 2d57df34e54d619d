"""The detector's own tables and the repository that maps them to domain objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter
from sqlalchemy import JSON, Column, Index, text
from sqlalchemy.orm import registry
from sqlmodel import Field, Session, SQLModel, select

from anbu_contracts import (
    AlertReason,
    AlertResolution,
    AlertStatus,
    EscalationClosure,
    EscalationStatus,
    EvidenceRef,
    HouseholdSnapshot,
    RuleRef,
    Severity,
)
from anbu_runtime.db import UtcDateTime

from ..domain.alerts import Alert
from ..domain.protocols import Escalation
from ..domain.safety_calls import SafetyCallState


class Table(SQLModel, registry=registry()):
    """Base of the detector's tables (its own metadata, apart from other services)."""


metadata = Table.metadata

_evidence = TypeAdapter(list[EvidenceRef])


def _tz() -> Any:
    return Column(UtcDateTime(), nullable=True)


class HouseholdRow(Table, table=True):
    __tablename__ = "household"
    household_id: str = Field(primary_key=True, max_length=32)
    revision: int
    snapshot: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class SafetyCallRow(Table, table=True):
    __tablename__ = "safety_call_state"
    household_id: str = Field(primary_key=True, max_length=32)
    consecutive_unanswered: int = 0
    streak: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    last_call_at: datetime | None = Field(default=None, sa_column=_tz())


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
    rule: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    evidence: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    protocol_id: str | None = None
    correlation_id: str | None = None


class EscalationRow(Table, table=True):
    __tablename__ = "escalation"
    escalation_id: UUID = Field(primary_key=True)
    alert_id: UUID = Field(index=True)
    household_id: str = Field(index=True, max_length=32)
    protocol_id: str
    protocol_version: str
    status: str = Field(max_length=16, index=True)
    triggered_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    executed_steps: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    closure: str | None = None
    closed_at: datetime | None = Field(default=None, sa_column=_tz())
    correlation_id: str | None = None


class Repository:
    """Loads and saves the detector's domain objects inside one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # households
    def household(self, household_id: str) -> HouseholdSnapshot | None:
        row = self.session.get(HouseholdRow, household_id)
        return HouseholdSnapshot.model_validate(row.snapshot) if row else None

    def save_household(self, snapshot: HouseholdSnapshot) -> bool:
        """Keep the snapshot unless a newer revision is already stored; True if saved."""
        row = self.session.get(HouseholdRow, snapshot.household_id)
        if row is not None and row.revision >= snapshot.revision:
            return False
        data = snapshot.model_dump(mode="json")
        if row is None:
            self.session.add(
                HouseholdRow(
                    household_id=snapshot.household_id, revision=snapshot.revision, snapshot=data
                )
            )
        else:
            row.revision, row.snapshot = snapshot.revision, data
            self.session.add(row)
        return True

    # safety calls
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

    # alerts
    def open_alert(self, household_id: str, reason: AlertReason) -> Alert | None:
        row = self.session.exec(
            select(AlertRow).where(
                AlertRow.household_id == household_id,
                AlertRow.reason == reason.value,
                AlertRow.status == AlertStatus.OPEN.value,
            )
        ).first()
        return _alert(row) if row else None

    def alert(self, alert_id: UUID) -> Alert | None:
        row = self.session.get(AlertRow, alert_id)
        return _alert(row) if row else None

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

    def open_alerts(self, limit: int = 200) -> list[Alert]:
        rows = self.session.exec(
            select(AlertRow)
            .where(AlertRow.status == AlertStatus.OPEN.value)
            .order_by(AlertRow.opened_at.desc())  # type: ignore[attr-defined]
            .limit(limit)
        ).all()
        return [_alert(r) for r in rows]

    # escalations
    def escalation(self, escalation_id: UUID) -> Escalation | None:
        row = self.session.get(EscalationRow, escalation_id)
        return _escalation(row) if row else None

    def running_escalations(self, household_id: str) -> list[Escalation]:
        rows = self.session.exec(
            select(EscalationRow).where(
                EscalationRow.household_id == household_id,
                EscalationRow.status == EscalationStatus.RUNNING.value,
            )
        ).all()
        return [_escalation(r) for r in rows]

    def escalation_correlation(self, escalation_id: UUID) -> str | None:
        row = self.session.get(EscalationRow, escalation_id)
        return row.correlation_id if row else None

    def save_escalation(self, escalation: Escalation, correlation_id: str | None = None) -> None:
        row = self.session.get(EscalationRow, escalation.escalation_id)
        values = {
            "alert_id": escalation.alert_id,
            "household_id": escalation.household_id,
            "protocol_id": escalation.protocol_id,
            "protocol_version": escalation.protocol_version,
            "status": escalation.status.value,
            "triggered_at": escalation.triggered_at,
            "executed_steps": list(escalation.executed_steps),
            "closure": escalation.closure.value if escalation.closure else None,
            "closed_at": escalation.closed_at,
        }
        if row is None:
            row = EscalationRow(
                escalation_id=escalation.escalation_id, correlation_id=correlation_id, **values
            )
        else:
            for key, value in values.items():
                setattr(row, key, value)
        self.session.add(row)
        self.session.flush()


def _alert(row: AlertRow) -> Alert:
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


def _escalation(row: EscalationRow) -> Escalation:
    return Escalation(
        escalation_id=row.escalation_id,
        alert_id=row.alert_id,
        household_id=row.household_id,
        protocol_id=row.protocol_id,
        protocol_version=row.protocol_version,
        status=EscalationStatus(row.status),
        triggered_at=row.triggered_at,
        executed_steps=tuple(row.executed_steps),
        closure=EscalationClosure(row.closure) if row.closure else None,
        closed_at=row.closed_at,
    )
