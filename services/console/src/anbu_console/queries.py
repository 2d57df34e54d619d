"""Reads of the read model for the pages, always within the viewer's scope.

Alerts, escalations, tasks and outcomes carry a household id; the household's dong comes
from the registry's snapshot (``household_view``), so a scoped read joins it. Items of a
household the console has not seen a snapshot of yet are visible to everyone-scope only.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import false, func, or_
from sqlmodel import Session, col, select

from anbu_contracts import AlertStatus, EscalationStatus, TaskStatus

from .adapters.orm import (
    AlertView,
    CaseView,
    EscalationView,
    HouseholdView,
    NotificationView,
    OutcomeView,
    PartnerFeedView,
    PartnerSignalHour,
    StepView,
    TaskView,
    TimelineEntry,
)
from .domain.scope import Scope

OPEN_TASK = (
    TaskStatus.CREATED.value,
    TaskStatus.OFFERED.value,
    TaskStatus.ACCEPTED.value,
    TaskStatus.DECLINED.value,
    TaskStatus.STARTED.value,
    TaskStatus.UNASSIGNED.value,
)
MONITORED = ("active", "suspended")
RESOLVED_FAST = timedelta(hours=48)


def _scoped(query: Any, household_column: Any, scope: Scope) -> Any:
    if scope.everything:
        return query
    entity = household_column.class_
    if entity is not HouseholdView:
        query = query.select_from(entity).join(
            HouseholdView, col(HouseholdView.household_id) == household_column
        )
    clauses = []
    if scope.dong_codes is not None:
        clauses.append(col(HouseholdView.dong_code).in_(scope.dong_codes))
    if scope.district_codes is not None:
        clauses.append(col(HouseholdView.district_code).in_(scope.district_codes))
    return query.where(or_(*clauses)) if clauses else query.where(false())


def _counts(
    session: Session, column: Any, household: Any, scope: Scope, *where: Any
) -> dict[str, int]:
    query = select(column, func.count()).where(*where).group_by(column)
    return {str(k): int(v) for k, v in session.exec(_scoped(query, household, scope)).all()}


def overview(session: Session, scope: Scope, now: datetime) -> dict[str, Any]:
    """Every figure of the overview page."""
    hh = col(HouseholdView.household_id)
    by_dong: dict[str, dict[str, int]] = defaultdict(dict)
    query = (
        select(HouseholdView.dong_code, HouseholdView.tier, func.count())
        .where(col(HouseholdView.status).in_(MONITORED))
        .group_by(HouseholdView.dong_code, HouseholdView.tier)
    )
    for dong, tier, n in session.exec(_scoped(query, hh, scope)).all():
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
            _scoped(by_step, col(EscalationView.household_id), scope)
        )
    ]
    late = select(func.count()).where(
        col(TaskView.status).in_(OPEN_TASK), col(TaskView.deadline) < now
    )
    failed = select(func.count()).where(col(NotificationView.status) == "failed")
    return {
        "households_by_tier": dict(by_tier),
        "households_by_dong": {d: by_dong[d] for d in sorted(by_dong)},
        "open_alerts_by_severity": _counts(session, AlertView.severity, alert_hh, scope, is_open),
        "open_alerts_by_source": _counts(session, AlertView.source, alert_hh, scope, is_open),
        "running_escalations": sum(step["count"] for step in steps),
        "escalations_by_step": steps,
        "tasks_by_status": _counts(session, TaskView.status, task_hh, scope),
        "unassigned_tasks": _counts(
            session,
            TaskView.status,
            task_hh,
            scope,
            col(TaskView.status) == TaskStatus.UNASSIGNED.value,
        ).get(TaskStatus.UNASSIGNED.value, 0),
        "late_tasks": int(session.exec(_scoped(late, task_hh, scope)).one()),
        "failed_notifications": int(
            session.exec(_scoped(failed, col(NotificationView.household_id), scope)).one()
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
        _scoped(
            select(OutcomeView.household_id, OutcomeView.needs, OutcomeView.services_linked),
            col(OutcomeView.household_id),
            scope,
        )
    ).all()
    cases = session.exec(
        _scoped(
            select(CaseView.household_id, CaseView.opened_at, CaseView.linked_at),
            col(CaseView.household_id),
            scope,
        )
    ).all()
    linked = {h for h, _, done in rows if done} | {h for h, _, at in cases if at is not None}
    return {
        "found": int(session.exec(_scoped(found, col(AlertView.household_id), scope)).one()),
        "confirmed": len({h for h, needs, _ in rows if needs}),
        "case_opened": len({h for h, at, _ in cases if at is not None}),
        "services_linked": len(linked),
    }


def open_alerts(
    session: Session, scope: Scope, limit: int = 200, dong_code: str | None = None
) -> Sequence[AlertView]:
    """Open alerts, newest first; only those of ``dong_code`` when one is given."""
    query = (
        select(AlertView)
        .where(col(AlertView.status) == AlertStatus.OPEN.value)
        .order_by(col(AlertView.opened_at).desc())
        .limit(limit)
    )
    if dong_code is not None:
        if not scope.sees(dong_code):
            return []
        query = query.join(
            HouseholdView, col(HouseholdView.household_id) == AlertView.household_id
        ).where(col(HouseholdView.dong_code) == dong_code)
        return session.exec(query).all()
    rows: Sequence[AlertView] = session.exec(
        _scoped(query, col(AlertView.household_id), scope)
    ).all()
    return rows


def running_escalations(session: Session, scope: Scope, limit: int = 500) -> Sequence[Any]:
    """Running protocols, the most urgent next step first, with the household's dong."""
    query = (
        select(EscalationView, HouseholdView.dong_code)
        .outerjoin(HouseholdView, col(HouseholdView.household_id) == EscalationView.household_id)
        .where(col(EscalationView.status) == EscalationStatus.RUNNING.value)
        .order_by(
            col(EscalationView.next_step_due_at).is_(None),
            col(EscalationView.next_step_due_at),
            col(EscalationView.triggered_at).desc(),
        )
        .limit(limit)
    )
    rows = session.exec(query).all()
    return [(e, dong) for e, dong in rows if scope.sees(dong)]


def alert(session: Session, scope: Scope, alert_id: UUID) -> dict[str, Any] | None:
    row = session.get(AlertView, alert_id)
    if row is None or not visible(session, scope, row.household_id):
        return None
    escalations = session.exec(
        select(EscalationView)
        .where(col(EscalationView.alert_id) == alert_id)
        .order_by(col(EscalationView.triggered_at))
    ).all()
    steps = session.exec(
        select(StepView)
        .where(col(StepView.escalation_id).in_([e.escalation_id for e in escalations]))
        .order_by(col(StepView.executed_at))
    ).all()
    return {"alert": row, "escalations": escalations, "steps": steps}


def visible(session: Session, scope: Scope, household_id: str) -> bool:
    if scope.everything:
        return True
    row = session.get(HouseholdView, household_id)
    return row is not None and scope.sees(row.dong_code)


def household(session: Session, scope: Scope, household_id: str) -> dict[str, Any] | None:
    if not visible(session, scope, household_id):
        return None
    timeline = session.exec(
        select(TimelineEntry)
        .where(col(TimelineEntry.household_id) == household_id)
        .order_by(col(TimelineEntry.at).desc(), col(TimelineEntry.topic))
        .limit(500)
    ).all()
    alerts = session.exec(
        select(AlertView)
        .where(col(AlertView.household_id) == household_id)
        .order_by(col(AlertView.opened_at).desc())
    ).all()
    if not timeline and not alerts and session.get(HouseholdView, household_id) is None:
        return None
    return {
        "household": session.get(HouseholdView, household_id),
        "timeline": timeline,
        "alerts": alerts,
    }


def partner_feeds(session: Session) -> Sequence[PartnerFeedView]:
    return session.exec(
        select(PartnerFeedView).order_by(col(PartnerFeedView.partner_id), PartnerFeedView.kind)
    ).all()


def partner_signal_hours(
    session: Session, since: datetime
) -> dict[tuple[str, str], dict[datetime, int]]:
    """Signals per (partner, kind) and UTC hour, from ``since`` on. Partners are not
    area-scoped: every console role sees every feed, as on the partner feeds page."""
    rows = session.exec(select(PartnerSignalHour).where(col(PartnerSignalHour.hour) >= since)).all()
    out: dict[tuple[str, str], dict[datetime, int]] = {}
    for row in rows:
        out.setdefault((row.partner_id, row.kind), {})[row.hour] = row.count
    return out


def dong_grid(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Per dong: monitored households and open alerts."""
    hh = col(HouseholdView.household_id)
    monitored = dict(
        session.exec(
            _scoped(
                select(HouseholdView.dong_code, func.count())
                .where(col(HouseholdView.status).in_(MONITORED))
                .group_by(HouseholdView.dong_code),
                hh,
                scope,
            )
        ).all()
    )
    alerts = dict(
        session.exec(
            select(HouseholdView.dong_code, func.count())
            .join(AlertView, col(AlertView.household_id) == hh)
            .where(col(AlertView.status) == AlertStatus.OPEN.value)
            .group_by(HouseholdView.dong_code)
        ).all()
    )
    dongs = sorted(d for d in set(monitored) | set(alerts) if scope.sees(d))
    return [
        {
            "dong_code": d,
            "monitored": int(monitored.get(d, 0)),
            "open_alerts": int(alerts.get(d, 0)),
        }
        for d in dongs
    ]


def kpi_actuals(session: Session, scope: Scope) -> dict[str, float | None]:
    """The actual value of every catalogued KPI over the whole read model."""
    resolved = session.exec(
        _scoped(
            select(AlertView.opened_at, AlertView.resolved_at).where(
                col(AlertView.resolved_at).is_not(None)
            ),
            col(AlertView.household_id),
            scope,
        )
    ).all()
    tasks = session.exec(
        _scoped(
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
    notes = _counts(session, NotificationView.status, col(NotificationView.household_id), scope)
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
        _scoped(query, col(TimelineEntry.household_id), scope)
    ).all()
    return rows


def dong_measures(session: Session, scope: Scope, now: datetime) -> dict[str, dict[str, int]]:
    """Per dong: watched households, open alerts and running protocols past their next step.

    Counts per dong only: the map never places a household.
    """
    measures: dict[str, dict[str, int]] = {
        cell["dong_code"]: {
            "watched": cell["monitored"],
            "open_alerts": cell["open_alerts"],
            "overdue_steps": 0,
        }
        for cell in dong_grid(session, scope)
    }
    overdue = session.exec(
        select(HouseholdView.dong_code, func.count())
        .join(EscalationView, col(EscalationView.household_id) == HouseholdView.household_id)
        .where(
            col(EscalationView.status) == EscalationStatus.RUNNING.value,
            col(EscalationView.next_step_due_at) < now,
        )
        .group_by(HouseholdView.dong_code)
    ).all()
    for dong, n in overdue:
        if scope.sees(dong):
            measures.setdefault(dong, {"watched": 0, "open_alerts": 0, "overdue_steps": 0})
            measures[dong]["overdue_steps"] = int(n)
    return measures


def trend_rows(session: Session, scope: Scope, since: datetime) -> dict[str, list[Any]]:
    """The raw rows of the trend charts since ``since``: alerts, outcomes, tasks (scoped)."""
    alerts = session.exec(
        _scoped(
            select(
                AlertView.household_id,
                AlertView.opened_at,
                AlertView.severity,
                AlertView.reason,
                AlertView.evidence,
            ).where(col(AlertView.opened_at) >= since),
            col(AlertView.household_id),
            scope,
        )
    ).all()
    outcomes = session.exec(
        _scoped(
            select(OutcomeView.household_id, OutcomeView.recorded_at).where(
                col(OutcomeView.recorded_at) >= since
            ),
            col(OutcomeView.household_id),
            scope,
        )
    ).all()
    tasks = session.exec(
        _scoped(
            select(TaskView.deadline, TaskView.completed_at, TaskView.status).where(
                col(TaskView.deadline) >= since
            ),
            col(TaskView.household_id),
            scope,
        )
    ).all()
    return {"alerts": list(alerts), "outcomes": list(outcomes), "tasks": list(tasks)}


def day_two_steps(session: Session, scope: Scope, start: datetime, end: datetime) -> dict[str, Any]:
    """Day-2 protocol work between ``start`` and ``end``, with each household's dong:
    steps still to come (running protocols whose next step is a ``day2.`` step due then) and
    the tasks day-2 steps already created (deadline then)."""
    upcoming = session.exec(
        select(EscalationView, HouseholdView.dong_code)
        .outerjoin(HouseholdView, col(HouseholdView.household_id) == EscalationView.household_id)
        .where(
            col(EscalationView.status) == EscalationStatus.RUNNING.value,
            col(EscalationView.next_step_id).startswith("day2."),
            col(EscalationView.next_step_due_at) >= start,
            col(EscalationView.next_step_due_at) < end,
        )
        .order_by(col(EscalationView.next_step_due_at))
    ).all()
    tasks = session.exec(
        select(TaskView, HouseholdView.dong_code)
        .outerjoin(HouseholdView, col(HouseholdView.household_id) == TaskView.household_id)
        .where(
            col(TaskView.step_id).startswith("day2."),
            col(TaskView.deadline) >= start,
            col(TaskView.deadline) < end,
        )
        .order_by(col(TaskView.deadline))
    ).all()
    return {
        "upcoming": [(e, d) for e, d in upcoming if scope.sees(d)],
        "tasks": [(t, d or t.dong_code) for t, d in tasks if scope.sees(d or t.dong_code)],
    }
