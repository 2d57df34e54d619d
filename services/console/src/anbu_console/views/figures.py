"""The overview figures, the funnel and the KPI actuals (all within the scope)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from anbu_contracts import AlertStatus, EscalationStatus, TaskStatus

from ..adapters.orm import (
    AlertView,
    CaseView,
    EscalationView,
    HouseholdView,
    NotificationView,
    OutcomeView,
    TaskView,
    TimelineEntry,
)
from ..domain.scope import Scope
from .scoping import MONITORED, OPEN_TASK, RESOLVED_FAST, counts, scoped


def overview(session: Session, scope: Scope, now: datetime) -> dict[str, Any]:
    """Every figure of the overview page."""
    hh = col(HouseholdView.household_id)
    by_dong: dict[str, dict[str, int]] = defaultdict(dict)
    query = (
        select(HouseholdView.dong_code, HouseholdView.tier, func.count())
        .where(col(HouseholdView.status).in_(MONITORED))
        .group_by(HouseholdView.dong_code, HouseholdView.tier)
    )
    for dong, tier, n in session.exec(scoped(query, hh, scope)).all():
        by_dong[dong][tier] = int(n)
    by_tier: dict[str, int] = defaultdict(int)
    for tiers in by_dong.values():
        for tier, n in tiers.items():
            by_tier[tier] += n
    alert_hh = col(AlertView.household_id)
    is_open = col(AlertView.status) == AlertStatus.OPEN.value
    task_hh = col(TaskView.household_id)
    running = col(EscalationView.status) == EscalationStatus.RUNNING.value
    protocol, step = col(EscalationView.protocol_id), col(EscalationView.last_step_id)
    by_step = (
        select(protocol, step, func.count())
        .where(running)
        .group_by(protocol, step)
        .order_by(protocol, step)
    )
    steps = [
        {"protocol_id": protocol_id, "step_id": step_id, "count": int(n)}
        for protocol_id, step_id, n in session.exec(
            scoped(by_step, col(EscalationView.household_id), scope)
        )
    ]
    late = select(func.count()).where(
        col(TaskView.status).in_(OPEN_TASK), col(TaskView.deadline) < now
    )
    failed = select(func.count()).where(col(NotificationView.status) == "failed")
    return {
        "households_by_tier": dict(by_tier),
        "households_by_dong": {d: by_dong[d] for d in sorted(by_dong)},
        "open_alerts_by_severity": counts(session, AlertView.severity, alert_hh, scope, is_open),
        "open_alerts_by_source": counts(session, AlertView.source, alert_hh, scope, is_open),
        "running_escalations": sum(step["count"] for step in steps),
        "escalations_by_step": steps,
        "tasks_by_status": counts(session, TaskView.status, task_hh, scope),
        "unassigned_tasks": counts(
            session,
            TaskView.status,
            task_hh,
            scope,
            col(TaskView.status) == TaskStatus.UNASSIGNED.value,
        ).get(TaskStatus.UNASSIGNED.value, 0),
        "late_tasks": int(session.exec(scoped(late, task_hh, scope)).one()),
        "failed_notifications": int(
            session.exec(scoped(failed, col(NotificationView.household_id), scope)).one()
        ),
        "funnel": funnel(session, scope),
    }


def funnel(session: Session, scope: Scope) -> dict[str, int | None]:
    """found → confirmed → case opened → services linked: households at each stage.

    found: households with an alert; confirmed: households where a person recorded needs;
    case opened: households whose case reached 사례 개입 (registry.case.v1); services linked:
    households with a service linked to their case, or a confirmed contact whose
    service-linkage item was checked "ok".
    """
    found = select(func.count(func.distinct(AlertView.household_id)))
    rows = session.exec(
        scoped(
            select(OutcomeView.household_id, OutcomeView.needs, OutcomeView.services_linked),
            col(OutcomeView.household_id),
            scope,
        )
    ).all()
    cases = session.exec(
        scoped(
            select(CaseView.household_id, CaseView.opened_at, CaseView.linked_at),
            col(CaseView.household_id),
            scope,
        )
    ).all()
    linked = {h for h, _, done in rows if done} | {h for h, _, at in cases if at is not None}
    return {
        "found": int(session.exec(scoped(found, col(AlertView.household_id), scope)).one()),
        "confirmed": len({h for h, needs, _ in rows if needs}),
        "case_opened": len({h for h, at, _ in cases if at is not None}),
        "services_linked": len(linked),
    }


def kpi_actuals(session: Session, scope: Scope) -> dict[str, float | None]:
    """The actual value of every catalogued KPI over the whole read model."""
    resolved = session.exec(
        scoped(
            select(AlertView.opened_at, AlertView.resolved_at).where(
                col(AlertView.resolved_at).is_not(None)
            ),
            col(AlertView.household_id),
            scope,
        )
    ).all()
    tasks = session.exec(
        scoped(
            select(
                TaskView.created_at, TaskView.accepted_at, TaskView.completed_at, TaskView.deadline
            ),
            col(TaskView.household_id),
            scope,
        )
    ).all()
    acceptance = [(a - c).total_seconds() / 60 for c, a, _, _ in tasks if a is not None]
    completed = [(done, deadline) for _, _, done, deadline in tasks if done is not None]
    outcome = funnel(session, scope)
    notes = counts(session, NotificationView.status, col(NotificationView.household_id), scope)
    settled = notes.get("delivered", 0) + notes.get("failed", 0)

    def rate(part: int, whole: int) -> float | None:
        return round(100.0 * part / whole, 1) if whole else None

    return {
        "households_found": float(outcome["found"] or 0),
        "alerts_resolved_in_48h": rate(
            sum(1 for o, r in resolved if r is not None and r - o <= RESOLVED_FAST), len(resolved)
        ),
        "task_acceptance_minutes": round(statistics.median(acceptance), 1) if acceptance else None,
        "tasks_on_time": rate(sum(1 for d, dl in completed if d <= dl), len(completed)),
        "notifications_delivered": rate(notes.get("delivered", 0), settled),
        "needs_linked_to_services": rate(
            outcome["services_linked"] or 0, outcome["confirmed"] or 0
        ),
    }


def recent_feed(session: Session, scope: Scope, limit: int = 30) -> Sequence[TimelineEntry]:
    query = select(TimelineEntry).order_by(col(TimelineEntry.at).desc()).limit(limit)
    rows: Sequence[TimelineEntry] = session.exec(
        scoped(query, col(TimelineEntry.household_id), scope)
    ).all()
    return rows
