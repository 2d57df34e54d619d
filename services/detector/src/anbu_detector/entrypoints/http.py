"""The detector over HTTP: alerts and their "why", running protocols, approvals, operators.

Every route needs a registry-issued token or the service token; office staff see and act on
the households of their area only (see ``views`` and docs/detector.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlmodel import Session

from anbu_contracts import AlertStatus, ApprovalRecord, MonitoringChannel
from anbu_contracts.envelope import ShortText
from anbu_runtime.auth import Caller, Principal, UserRole, forbidden
from anbu_runtime.batch import BatchConsumer
from anbu_runtime.problems import Problem
from anbu_runtime.service import ServiceRuntime

from .. import views
from ..adapters.orm import EscalationRow, StepExecutionRow
from ..adapters.repository import Repository
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
    # The device was reported offline then by its carrier or vendor (``device_status``) and
    # nothing was heard from it since: its silence counts only at the floor.
    offline_since: datetime | None = None


class UnknownView(BaseModel):
    household_id: str
    first_seen: datetime
    last_seen: datetime
    signals: int
    kinds: dict[str, int]


def router(runtime: ServiceRuntime, detector: Detector, consumer: BatchConsumer) -> APIRouter:
    """Every route needs a caller (``Caller``): office staff (operators, dong officials) of
    the household's area, admins, or a service. Field workers and volunteers get their work
    from outreach and are refused here (403)."""
    api = APIRouter(prefix="/v1", tags=["detector"])

    def office(who: Principal) -> None:
        if not who.has_role(*OFFICE):
            raise forbidden("operators and dong officials only")

    async def in_area(who: Principal, household_id: str) -> None:
        """403 for a household outside the caller's area, as the registry answers."""
        if not await runtime.db.read(lambda s: views.sees_household(s, who, household_id)):
            raise forbidden(f"household {household_id} is outside your area")

    @api.get(
        "/alerts",
        response_model=list[AlertView],
        summary="Alerts of your area, with the rule, thresholds and evidence that decided them",
    )
    async def list_alerts(
        who: Caller,
        status: AlertStatus | None = AlertStatus.OPEN,
        household_id: Annotated[str | None, Query(max_length=32)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[AlertView]:
        office(who)
        found = await runtime.db.read(lambda s: views.alerts(s, who, status, household_id, limit))
        return [AlertView.of(a) for a in found]

    async def visible_alert(who: Principal, alert_id: UUID) -> Alert:
        office(who)
        alert = await runtime.db.read(lambda s: Repository(s).alert(alert_id))
        if alert is None:
            raise Problem(404, "Not found", f"alert {alert_id} not found")
        await in_area(who, alert.household_id)
        return alert

    @api.get("/alerts/{alert_id}", response_model=AlertView)
    async def get_alert(alert_id: UUID, who: Caller) -> AlertView:
        return AlertView.of(await visible_alert(who, alert_id))

    @api.post(
        "/alerts/{alert_id}/resolve",
        status_code=204,
        summary="An operator resolves an alert (its protocol closes too)",
    )
    async def resolve(alert_id: UUID, who: Caller) -> None:
        await visible_alert(who, alert_id)
        try:
            async with consumer.lock:
                await detector.resolve_by_operator(alert_id, who.subject)
        except LookupError as exc:
            raise Problem(404, "Not found", str(exc)) from exc

    @api.get(
        "/escalations",
        response_model=list[EscalationView],
        summary="Running protocols of your area",
    )
    async def list_escalations(
        who: Caller,
        status: Annotated[str, Query(pattern="^(running|closed)$")] = "running",
        household_id: Annotated[str | None, Query(max_length=32)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[EscalationView]:
        office(who)

        def read(session: Session) -> list[EscalationView]:
            rows = views.escalations(session, who, status, household_id, limit)
            return [_escalation_view(r, []) for r in rows]  # inside the session: rows expire

        return await runtime.db.read(read)

    async def visible_escalation(who: Principal, escalation_id: UUID) -> EscalationView:
        office(who)

        def read(session: Session) -> EscalationView | None:
            row = session.get(EscalationRow, escalation_id)
            if row is None:
                return None
            return _escalation_view(row, views.step_history(session, escalation_id))

        view = await runtime.db.read(read)
        if view is None:
            raise Problem(404, "Not found", f"escalation {escalation_id} not found")
        await in_area(who, view.household_id)
        return view

    @api.get(
        "/escalations/{escalation_id}",
        response_model=EscalationView,
        summary="A protocol with every step: when due, when run, by which instance",
    )
    async def get_escalation(escalation_id: UUID, who: Caller) -> EscalationView:
        return await visible_escalation(who, escalation_id)

    @api.post(
        "/escalations/{escalation_id}/approvals",
        response_model=EscalationView,
        summary="Record who asked, who approved and who was present (door opening)",
    )
    async def approve(escalation_id: UUID, body: ApprovalIn, who: Caller) -> EscalationView:
        await visible_escalation(who, escalation_id)
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
        return await visible_escalation(who, escalation_id)

    @api.get(
        "/households/{household_id}/channels",
        response_model=list[ChannelView],
        summary="Each enrolled channel's last activity and when it would fall silent",
    )
    async def channels(
        household_id: Annotated[str, Path(max_length=32)], who: Caller
    ) -> list[ChannelView]:
        office(who)
        watch = detector.monitor.households.get(household_id)
        if watch is None:
            raise Problem(404, "Not found", f"household {household_id} is not watched here")
        await in_area(who, household_id)
        config = watch.config

        def offline_since(channel: MonitoringChannel, last_active: float) -> datetime | None:
            if config is None or not config.dark(channel, last_active):
                return None
            return datetime.fromtimestamp(config.offline[channel], tz=_utc())

        return [
            ChannelView(
                channel=channel,
                last_active_at=datetime.fromtimestamp(clock.last_active, tz=_utc()),
                silent=clock.silent,
                silent_after=detector.monitor.deadline_of(household_id, channel),
                offline_since=offline_since(channel, clock.last_active),
            )
            for channel, clock in sorted(watch.channels.items())
        ]

    @api.get(
        "/unknown-households",
        response_model=list[UnknownView],
        summary="Signals for households the registry never announced (admins and services)",
    )
    async def unknown(
        who: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[UnknownView]:
        # These households have no area (the registry never said where they live), so no
        # one's area covers them: only admins and services, who see everything.
        if not who.is_admin:
            raise forbidden("administrators and services only")
        return await runtime.db.read(
            lambda s: [
                UnknownView.model_validate(r, from_attributes=True)
                for r in views.unknown_households(s, limit)
            ]
        )

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
