"""Real contract events for the console's tests, on a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel
from sqlmodel import Session

from anbu_console import handlers
from anbu_console.adapters.orm import metadata
from anbu_console.adapters.repository import ReadModel
from anbu_console.domain.changes import Change
from anbu_contracts import (
    AlertEvent,
    CaseEvent,
    EscalationEvent,
    EvidenceRef,
    HeartbeatSignal,
    HouseholdSnapshot,
    JobKind,
    JobProgress,
    NotificationStatusEvent,
    OutcomeEvent,
    RuleRef,
    SosSignal,
    StepRecord,
    TaskEvent,
)
from anbu_runtime.outbox import Outbox, install
from anbu_runtime.uow import UnitOfWork

T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 09:00 in Seoul
DONG_A, DONG_B = "1111051500", "1111053000"
# The console never publishes; a unit of work has an outbox all the same.
OUTBOX = Outbox(install(metadata), "console")


def unit_of_work(session: Session) -> UnitOfWork[ReadModel]:
    """The unit of work the consumer folds a batch in, over the caller's session."""
    return UnitOfWork(session, ReadModel(session), OUTBOX, T0)


def project_batch(session: Session, events: list[Any]) -> list[Change]:
    """Fold a batch in the caller's transaction, exactly as the live consumer does."""
    return handlers.project_batch(unit_of_work(session), events)


def project(session: Session, event: BaseModel) -> Change | None:
    """Fold one event through the handler table."""
    change: Change | None = handlers.HANDLERS.dispatch(event, unit_of_work(session))
    return change


def household(n: int, tier: str = "high_risk", dong: str = DONG_A, revision: int = 1) -> Any:
    return HouseholdSnapshot(
        occurred_at=T0,
        produced_at=T0,
        source="registry",
        household_id=f"HH-CON{n:04d}",
        revision=revision,
        district_code=dong[:5],
        dong_code=dong,
        tier=tier,  # type: ignore[arg-type]
    )


def alert(
    alert_id: UUID,
    n: int,
    change: str = "opened",
    at: datetime = T0,
    severity: str = "alert",
    reason: str = "safety_not_confirmed",
    evidence: int = 3,
) -> AlertEvent:
    resolved = change == "resolved"
    return AlertEvent(
        occurred_at=at,
        produced_at=at,
        source="detector",
        alert_id=alert_id,
        household_id=f"HH-CON{n:04d}",
        reason=reason,  # type: ignore[arg-type]
        change=change,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        status="resolved" if resolved else "open",  # type: ignore[arg-type]
        opened_at=T0,
        resolved_at=at if resolved else None,
        resolution="outcome" if resolved else None,  # type: ignore[arg-type]
        rule=RuleRef(
            rule_id="safety-call.unanswered-streak", rule_version="3", thresholds={"streak": 3}
        ),
        evidence=[
            EvidenceRef(
                event_id=uuid4(),
                kind="safety_call",  # type: ignore[arg-type]
                partner_id="ai-call-clova",
                occurred_at=T0 - timedelta(hours=i),
            )
            for i in range(evidence)
        ],
        protocol_id="safety-not-confirmed",
    )


def escalation(
    escalation_id: UUID,
    alert_id: UUID,
    n: int,
    change: str = "step_executed",
    at: datetime = T0,
    step: str | None = "day1.contact",
    next_due: datetime | None = T0 + timedelta(hours=24),
) -> EscalationEvent:
    closed = change == "closed"
    return EscalationEvent(
        occurred_at=at,
        produced_at=at,
        source="detector",
        escalation_id=escalation_id,
        alert_id=alert_id,
        household_id=f"HH-CON{n:04d}",
        protocol_id="safety-not-confirmed",
        protocol_version="2",
        change=change,  # type: ignore[arg-type]
        status="closed" if closed else "running",  # type: ignore[arg-type]
        triggered_at=T0,
        step=StepRecord(step_id=step, title="1일차 — 문자 발송", due_at=at, executed_at=at)
        if step
        else None,
        next_step_id=None if closed else "day2.visit",
        next_step_due_at=None if closed else next_due,
        closure="contact_confirmed" if closed else None,  # type: ignore[arg-type]
    )


def task(
    task_id: UUID, n: int, status: str, at: datetime, deadline: datetime | None = None
) -> TaskEvent:
    return TaskEvent(
        occurred_at=at,
        produced_at=at,
        source="outreach",
        task_id=task_id,
        household_id=f"HH-CON{n:04d}",
        dong_code=DONG_A,
        task_type="phone_check",  # type: ignore[arg-type]
        team=["official"],  # type: ignore[list-item]
        deadline=deadline or T0 + timedelta(hours=4),
        status=status,  # type: ignore[arg-type]
        assignees=[] if status == "unassigned" else ["W-DEMO001"],
    )


def outcome(n: int, at: datetime, needs: list[str], linked: bool) -> OutcomeEvent:
    return OutcomeEvent(
        occurred_at=at,
        produced_at=at,
        source="outreach",
        outcome_id=uuid4(),
        household_id=f"HH-CON{n:04d}",
        result="contact_confirmed",  # type: ignore[arg-type]
        contact_mode="visit",  # type: ignore[arg-type]
        recorded_by="W-DEMO001",
        needs=needs,  # type: ignore[arg-type]
        monitoring={"service_linkage": "ok" if linked else "not_checked"},  # type: ignore[arg-type]
    )


def notification(key: str, status: str, at: datetime, n: int = 1) -> NotificationStatusEvent:
    return NotificationStatusEvent(
        occurred_at=at,
        produced_at=at,
        source="notifier",
        request_id=uuid4(),
        request_key=key,
        status=status,  # type: ignore[arg-type]
        channel="sms",  # type: ignore[arg-type]
        reason="gateway refused" if status == "failed" else None,
        household_id=f"HH-CON{n:04d}",
    )


def sos(n: int, at: datetime, partner: str = "sos-button-co") -> SosSignal:
    return SosSignal(
        occurred_at=at,
        produced_at=at,
        source=partner,
        household_id=f"HH-CON{n:04d}",
        partner_id=partner,
        partner_event_id=f"sos-{uuid4()}",
        device_id="btn-1",
    )


def heartbeat(n: int, at: datetime, partner: str = "plug-co") -> HeartbeatSignal:
    return HeartbeatSignal(
        occurred_at=at,
        produced_at=at,
        source=partner,
        household_id=f"HH-CON{n:04d}",
        partner_id=partner,
        partner_event_id=f"hb-{uuid4()}",
        channel="smart_plug",  # type: ignore[arg-type]
        device_id="plug-1",
        last_active_at=at,
    )


def case(
    n: int,
    change: str,
    at: datetime,
    state: str,
    dong: str = DONG_A,
    **detail: Any,
) -> CaseEvent:
    """A registry.case.v1 event about household ``n``'s case (one case per household)."""
    return CaseEvent(
        occurred_at=at,
        produced_at=at,
        source="registry",
        case_id=f"C-CON{n:04d}",
        household_id=f"HH-CON{n:04d}",
        change=change,  # type: ignore[arg-type]
        dong_code=dong,
        state=state,  # type: ignore[arg-type]
        **detail,
    )


def story() -> list[Any]:
    """A small day: four households in two dongs, alerts, a protocol, tasks, outcomes."""
    a1, a2, a3, e1 = uuid4(), uuid4(), uuid4(), uuid4()
    t1, t2, t3 = uuid4(), uuid4(), uuid4()
    h = timedelta(hours=1)
    return [
        household(1),
        household(2, "watch"),
        household(3),
        household(4, "caution", dong=DONG_B),
        household(3, "caution", revision=2),
        alert(a1, 1),
        escalation(e1, a1, 1, "started", step=None),
        escalation(e1, a1, 1, at=T0 + timedelta(seconds=1)),
        alert(a2, 2, at=T0 + timedelta(minutes=1), severity="critical", reason="sos", evidence=1),
        alert(a3, 4, at=T0 + timedelta(minutes=2), severity="caution"),
        alert(a1, 1, "resolved", at=T0 + 5 * h),
        escalation(e1, a1, 1, "closed", at=T0 + 5 * h, step=None),
        task(t1, 1, "offered", T0),
        task(t1, 1, "accepted", T0 + timedelta(minutes=30)),
        task(t1, 1, "completed", T0 + 2 * h),
        task(t2, 2, "unassigned", T0 + h),
        task(t3, 4, "offered", T0 + h, deadline=T0 + 2 * h),
        outcome(1, T0 + 2 * h, ["food"], linked=True),
        outcome(2, T0 + 3 * h, ["housing"], linked=False),
        notification("k1", "queued", T0),
        notification("k1", "delivered", T0 + timedelta(minutes=1)),
        notification("k2", "failed", T0 + timedelta(minutes=2), n=4),
        sos(2, T0 - h),
        sos(2, T0 - 2 * h),
        # Household 2's case opens and gets a service; household 4's moves dong and closes.
        case(2, "discovered", T0 + 3 * h, "discovered"),
        case(2, "progressed", T0 + 3 * h + timedelta(minutes=5), "counselling"),
        case(2, "progressed", T0 + 3 * h + timedelta(minutes=10), "crisis_confirmed"),
        case(2, "opened", T0 + 4 * h, "opened", level="high_difficulty"),
        case(
            2,
            "services_linked",
            T0 + 5 * h,
            "planned",
            level="high_difficulty",
            services=["housing_deposit"],
        ),
        case(4, "discovered", T0 + h, "discovered"),
        case(4, "transferred", T0 + 2 * h, "discovered", dong=DONG_B, from_dong_code=DONG_A),
        case(4, "closed", T0 + 3 * h, "closed", dong=DONG_B, closure_reason="no_need"),
    ]


def job(
    job_id: str,
    rows: int,
    at: datetime,
    *,
    total: int = 2_000_000,
    finished: bool = False,
    kind: JobKind = JobKind.PARTNER_FILE,
) -> JobProgress:
    """A long file job's progress report: ``rows`` of ``total`` done at 25,000 rows a second."""
    return JobProgress(
        occurred_at=at,
        produced_at=at,
        source="gateway" if kind is JobKind.PARTNER_FILE else "registry",
        job_id=job_id,
        kind=kind,
        partner_id="kepco" if kind is JobKind.PARTNER_FILE else None,
        detail="arrears" if kind is JobKind.PARTNER_FILE else None,
        state="completed" if finished else "processing",
        finished=finished,
        succeeded=True if finished else None,
        progress=1.0 if finished else rows / total,
        rows=rows,
        rejected=3,
        rows_per_second=25_000.0,
        eta_seconds=None if finished else (total - rows) / 25_000,
        started_at=T0,
        updated_at=at,
    )
