"""The detector over HTTP: alerts and their "why", running protocols, approvals, operators."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from anbu_contracts import AlertStatus, ApprovalRecord, MonitoringChannel
from anbu_contracts.envelope import ShortText
from anbu_runtime.auth import Caller, UserRole
from anbu_runtime.batch import BatchConsumer
from anbu_runtime.problems import Problem
from anbu_runtime.service import ServiceRuntime

from ..adapters.orm import EscalationRow, Repository, StepExecutionRow, UnknownHouseholdRow
from ..domain.alerts import Alert
from ..handlers import Detector

OFFICE = (UserRole.OPERATOR, UserRole.DONG_OFFICIAL)


class AlertView(BaseModel):
    alert_id: UUID
    household_id: str
    reason: str
    severity: str
    status: str
    opened_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    rule: dict[str, Any]
    evidence: list[dict[str, Any]]
    protocol_id: str | None

    @classmethod
    def of(cls, alert: Alert) -> AlertView:
        return cls(
            alert_id=alert.alert_id,
            household_id=alert.household_id,
            reason=alert.reason.value,
            severity=alert.severity.value,
            status=alert.status.value,
            opened_at=alert.opened_at,
            resolved_at=alert.resolved_at,
            resolution=alert.resolution.value if alert.resolution else None,
            rule=alert.rule.model_dump(mode="json"),
            evidence=[e.model_dump(mode="json") for e in alert.evidence],
            protocol_id=alert.protocol_id,
        )


class StepView(BaseModel):
    step_id: str
    state: str
    due_at: datetime
    ran_at: datetime
    instance: str
    actions: list[dict[str, Any]]


class EscalationView(BaseModel):
    escalation_id: UUID
    alert_id: UUID
    household_id: str
    protocol_id: str
    protocol_version: str
    status: str
    triggered_at: datetime
    steps: dict[str, str]
    next_due_at: datetime | None
    closure: str | None
    closed_at: datetime | None
    approvals: list[dict[str, Any]]
    history: list[StepView] = Field(default_factory=list)


class ApprovalIn(BaseModel):
    kind: str = Field(pattern=r"^(door_opening|missing_person_report)$")
    requested_by: ShortText
    approved_by: ShortText
    present: list[ShortText] = Field(default_factory=list, max_length=20)


class ChannelView(BaseModel):
    channel: MonitoringChannel
    last_active_at: datetime
    silent: bool
    silent_after: datetime | None


class UnknownView(BaseModel):
    household_id: str
    first_seen: datetime
    last_seen: datetime
    signals: int
    kinds: dict[str, int]


def router(runtime: ServiceRuntime, detector: Detector, consumer: BatchConsumer) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["detector"])

    def office(who: Any) -> None:
        if not who.has_role(*OFFICE):
            raise Problem(403, "Forbidden", "operators and dong officials only", type_="forbidden")

    @api.get(
        "/alerts",
        response_model=list[AlertView],
        summary="Alerts with the rule, thresholds and evidence that decided them",
    )
    async def list_alerts(
        status: AlertStatus | None = AlertStatus.OPEN,
        household_id: Annotated[str | None, Query(max_length=32)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[AlertView]:
        found = await runtime.db.read(lambda s: Repository(s).alerts(status, household_id, limit))
        return [AlertView.of(a) for a in found]

    @api.get("/alerts/{alert_id}", response_model=AlertView)
    async def get_alert(alert_id: UUID) -> AlertView:
        alert = await runtime.db.read(lambda s: Repository(s).alert(alert_id))
        if alert is None:
            raise Problem(404, "Not found", f"alert {alert_id} not found")
        return AlertView.of(alert)

    @api.post(
        "/alerts/{alert_id}/resolve",
        status_code=204,
        summary="An operator resolves an alert (its protocol closes too)",
    )
    async def resolve(alert_id: UUID, who: Caller) -> None:
        office(who)
        try:
            async with consumer.lock:
                await detector.resolve_by_operator(alert_id, who.subject)
        except LookupError as exc:
            raise Problem(404, "Not found", str(exc)) from exc

    @api.get("/escalations", response_model=list[EscalationView], summary="Running protocols")
    async def list_escalations(
        status: Annotated[str, Query(pattern="^(running|closed)$")] = "running",
        household_id: Annotated[str | None, Query(max_length=32)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[EscalationView]:
        def read(session: Session) -> list[EscalationView]:
            query = select(EscalationRow).where(EscalationRow.status == status)
            if household_id:
                query = query.where(EscalationRow.household_id == household_id)
            rows = session.exec(query.order_by(col(EscalationRow.triggered_at).desc()).limit(limit))
            return [_escalation_view(r, []) for r in rows]

        return await runtime.db.read(read)

    @api.get(
        "/escalations/{escalation_id}",
        response_model=EscalationView,
        summary="A protocol with every step: when due, when run, by which instance",
    )
    async def get_escalation(escalation_id: UUID) -> EscalationView:
        def read(session: Session) -> EscalationView | None:
            row = session.get(EscalationRow, escalation_id)
            if row is None:
                return None
            history = session.exec(
                select(StepExecutionRow)
                .where(StepExecutionRow.escalation_id == escalation_id)
                .order_by(col(StepExecutionRow.ran_at))
            )
            return _escalation_view(row, list(history))

        view = await runtime.db.read(read)
        if view is None:
            raise Problem(404, "Not found", f"escalation {escalation_id} not found")
        return view

    @api.post(
        "/escalations/{escalation_id}/approvals",
        response_model=EscalationView,
        summary="Record who asked, who approved and who was present (door opening)",
    )
    async def approve(escalation_id: UUID, body: ApprovalIn, who: Caller) -> EscalationView:
        office(who)
        approval = ApprovalRecord(
            kind=body.kind,
            requested_by=body.requested_by,
            approved_by=body.approved_by,
            present=body.present,
            recorded_at=runtime.clock.now(),
        )
        try:
            async with consumer.lock:
                await detector.record_approval(escalation_id, approval)
        except LookupError as exc:
            raise Problem(404, "Not found", str(exc)) from exc
        except ValueError as exc:
            raise Problem(409, "Conflict", str(exc), type_="escalation-closed") from exc
        return await get_escalation(escalation_id)

    @api.get(
        "/households/{household_id}/channels",
        response_model=list[ChannelView],
        summary="Each enrolled channel's last activity and when it would fall silent",
    )
    async def channels(household_id: str) -> list[ChannelView]:
        watch = detector.monitor.households.get(household_id)
        if watch is None:
            raise Problem(404, "Not found", f"household {household_id} is not watched here")
        return [
            ChannelView(
                channel=channel,
                last_active_at=datetime.fromtimestamp(clock.last_active, tz=_utc()),
                silent=clock.silent,
                silent_after=detector.monitor.deadline_of(household_id, channel),
            )
            for channel, clock in sorted(watch.channels.items())
        ]

    @api.get(
        "/unknown-households",
        response_model=list[UnknownView],
        summary="Signals for households the registry never announced (counted, not dropped)",
    )
    async def unknown(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[UnknownView]:
        def read(session: Session) -> list[UnknownView]:
            rows = session.exec(
                select(UnknownHouseholdRow)
                .order_by(col(UnknownHouseholdRow.last_seen).desc())
                .limit(limit)
            )
            return [UnknownView.model_validate(r, from_attributes=True) for r in rows]

        return await runtime.db.read(read)

    return api


def _utc() -> Any:
    from datetime import UTC

    return UTC


def _escalation_view(row: EscalationRow, history: list[StepExecutionRow]) -> EscalationView:
    return EscalationView(
        escalation_id=row.escalation_id,
        alert_id=row.alert_id,
        household_id=row.household_id,
        protocol_id=row.protocol_id,
        protocol_version=row.protocol_version,
        status=row.status,
        triggered_at=row.triggered_at,
        steps=row.steps,
        next_due_at=row.next_due_at,
        closure=row.closure,
        closed_at=row.closed_at,
        approvals=row.approvals,
        history=[StepView.model_validate(h, from_attributes=True) for h in history],
    )
