"""Fold events into the console's read model.

Every projection is idempotent and keeps the newest state of its entity: an event older
than what is stored (a redelivered duplicate, a replay) changes nothing; first-seen and
first-done instants are kept as minimums; timeline entries are keyed by event id. So the
read model can be dropped and rebuilt by replaying the topics from the beginning, and the
rebuilt figures equal the original ones, whatever the interleaving of partitions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from sqlmodel import Session, col, delete, func, select

from anbu_contracts import (
    AlertEvent,
    CaseChange,
    CaseEvent,
    EscalationChange,
    EscalationEvent,
    HouseholdSnapshot,
    NotificationStatusEvent,
    OutcomeEvent,
    OutcomeResult,
    Signal,
    TaskEvent,
    TaskStatus,
)
from anbu_contracts.outreach import ItemState

from .adapters.orm import (
    AlertView,
    CaseView,
    EscalationView,
    HouseholdView,
    NotificationView,
    OutcomeView,
    PartnerFeedView,
    PartnerSignalHour,
    PartnerSignalSeen,
    StepView,
    TaskView,
    TimelineEntry,
)

ACCEPTED_OR_LATER = frozenset({TaskStatus.ACCEPTED, TaskStatus.STARTED, TaskStatus.COMPLETED})
# Signals per partner per hour are kept this long behind the newest hour counted: the
# trends page draws the last 48 hours; a week leaves room to look back at a quiet weekend.
SIGNAL_HOURS_KEPT = timedelta(days=7)


@dataclass(frozen=True)
class Change:
    """What the live pages should be told about."""

    kind: str  # alert, escalation, task, outcome, notification, case
    household_id: str | None
    dong_code: str | None
    ref: str
    summary: str


def stamp(event: BaseModel, timestamp_ms: int | None) -> BaseModel:
    """Give a signal that came without ``produced_at`` its record's timestamp.

    A partner may omit ``produced_at``; the contract then fills in the decoding instant,
    which differs on every replay. The record's own timestamp does not, so the partner
    feeds rebuild to the same values.
    """
    if (
        isinstance(event, Signal)
        and timestamp_ms is not None
        and "produced_at" not in event.model_fields_set
    ):
        received = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
        return event.model_copy(update={"produced_at": received})
    return event


def project_batch(session: Session, events: Iterable[BaseModel]) -> list[Change]:
    """Fold a batch of events (any order, duplicates allowed) in the caller's transaction."""
    changes: list[Change] = []
    feeds: dict[tuple[str, str], tuple[datetime, datetime]] = {}
    signals: list[Signal] = []
    seen: set[UUID] = set()
    for event in events:
        if isinstance(event, Signal):
            signals.append(event)
            key = (event.partner_id, str(getattr(event, "kind", "")))
            old = feeds.get(key)
            feeds[key] = (
                max(old[0], event.occurred_at) if old else event.occurred_at,
                max(old[1], event.produced_at) if old else event.produced_at,
            )
            continue
        event_id = getattr(event, "event_id", None)
        if event_id is not None:
            if event_id in seen:
                continue
            seen.add(event_id)
        change = project(session, event)
        if change is not None:
            changes.append(change)
    for (partner_id, kind), (observed, produced) in feeds.items():
        _partner_feed(session, partner_id, kind, observed, produced)
    count_signals(session, signals)
    return changes


def project(session: Session, event: Any) -> Change | None:
    """Fold one event; the change to announce, if any."""
    if isinstance(event, HouseholdSnapshot):
        _household(session, event)
        return None
    if isinstance(event, AlertEvent):
        return _alert(session, event)
    if isinstance(event, EscalationEvent):
        return _escalation(session, event)
    if isinstance(event, TaskEvent):
        return _task(session, event)
    if isinstance(event, OutcomeEvent):
        return _outcome(session, event)
    if isinstance(event, NotificationStatusEvent):
        return _notification(session, event)
    if isinstance(event, CaseEvent):
        return _case(session, event)
    if isinstance(event, Signal):
        _partner_feed(
            session,
            event.partner_id,
            str(getattr(event, "kind", "")),
            event.occurred_at,
            event.produced_at,
        )
        count_signals(session, [event])
    return None


def _dong_of(session: Session, household_id: str | None) -> str | None:
    if household_id is None:
        return None
    row = session.get(HouseholdView, household_id)
    return row.dong_code if row else None


def _household(session: Session, event: HouseholdSnapshot) -> None:
    row = session.get(HouseholdView, event.household_id)
    if row is not None and row.revision >= event.revision:
        return
    row = row or HouseholdView(
        household_id=event.household_id, revision=0, dong_code="", tier="", status=""
    )
    row.revision, row.district_code, row.dong_code = (
        event.revision,
        event.district_code,
        event.dong_code,
    )
    row.tier, row.status, row.programme = event.tier.value, event.status.value, event.programme
    session.add(row)


def _stale(row: Any, at: datetime) -> bool:
    return row is not None and row.updated_at > at


def _timeline(
    session: Session,
    event: Any,
    topic: str,
    household_id: str | None,
    ref: str,
    summary: str,
    label: str | None = None,
    terms: list[str] | None = None,
) -> None:
    if session.get(TimelineEntry, event.event_id) is None:
        session.add(
            TimelineEntry(
                event_id=event.event_id,
                at=event.produced_at,
                topic=topic,
                household_id=household_id,
                ref=ref,
                summary=summary,
                label=label,
                terms=terms or [],
            )
        )


def _change(
    session: Session, kind: str, household_id: str | None, ref: str, summary: str
) -> Change:
    return Change(kind, household_id, _dong_of(session, household_id), ref, summary)


def _alert(session: Session, event: AlertEvent) -> Change:
    summary = f"{event.change.value}: {event.reason.value} ({event.severity.value})"
    _timeline(session, event, "detector.alert", event.household_id, str(event.alert_id), summary)
    row = session.get(AlertView, event.alert_id)
    if not _stale(row, event.produced_at):
        values: dict[str, Any] = {
            "household_id": event.household_id,
            "reason": event.reason.value,
            "source": event.evidence[0].kind.value if event.evidence else event.reason.value,
            "severity": event.severity.value,
            "status": event.status.value,
            "opened_at": event.opened_at,
            "resolved_at": event.resolved_at,
            "resolution": event.resolution.value if event.resolution else None,
            "protocol_id": event.protocol_id,
            "rule": event.rule.model_dump(mode="json"),
            "evidence": [e.model_dump(mode="json") for e in event.evidence],
            "updated_at": event.produced_at,
        }
        if row is None:
            row = AlertView(alert_id=event.alert_id, **values)
        else:
            for key, value in values.items():
                setattr(row, key, value)
        session.add(row)
    return _change(session, "alert", event.household_id, str(event.alert_id), summary)


def _escalation(session: Session, event: EscalationEvent) -> Change:
    step = event.step
    summary = f"{event.protocol_id} {event.change.value}" + (f" {step.step_id}" if step else "")
    _timeline(
        session,
        event,
        "detector.escalation",
        event.household_id,
        str(event.escalation_id),
        summary,
    )
    if step is not None:
        stored = session.get(StepView, (event.escalation_id, step.step_id))
        if stored is None or stored.executed_at <= step.executed_at:
            stored = stored or StepView(
                escalation_id=event.escalation_id,
                step_id=step.step_id,
                title=step.title,
                change=event.change.value,
                due_at=step.due_at,
                executed_at=step.executed_at,
            )
            stored.title, stored.change = step.title, event.change.value
            stored.due_at, stored.executed_at = step.due_at, step.executed_at
            stored.actions, stored.note = len(step.actions), step.note
            session.add(stored)
    row = session.get(EscalationView, event.escalation_id)
    if not _stale(row, event.produced_at):
        row = row or EscalationView(
            escalation_id=event.escalation_id,
            household_id=event.household_id,
            protocol_id=event.protocol_id,
            status=event.status.value,
            triggered_at=event.triggered_at,
            updated_at=event.produced_at,
        )
        row.alert_id, row.protocol_version = event.alert_id, event.protocol_version
        row.status, row.change = event.status.value, event.change.value
        if step is not None:
            row.last_step_id, row.last_step_title = step.step_id, step.title
            row.last_step_at = step.executed_at
        row.awaiting_approval = event.change is EscalationChange.STEP_AWAITING_APPROVAL
        row.next_step_id, row.next_step_due_at = event.next_step_id, event.next_step_due_at
        row.closure = event.closure.value if event.closure else None
        row.closed_at = event.occurred_at if event.closure else None
        row.updated_at = event.produced_at
        session.add(row)
    return _change(session, "escalation", event.household_id, str(event.escalation_id), summary)


def _earliest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate < current else current


def _task(session: Session, event: TaskEvent) -> Change:
    summary = f"task {event.task_type.value} {event.status.value}"
    _timeline(session, event, "outreach.task", event.household_id, str(event.task_id), summary)
    row = session.get(TaskView, event.task_id)
    at = event.produced_at
    if row is None:
        row = TaskView(
            task_id=event.task_id,
            household_id=event.household_id,
            task_type=event.task_type.value,
            status=event.status.value,
            assignees=list(event.assignees),
            deadline=event.deadline,
            created_at=at,
            updated_at=at,
        )
    row.created_at = _earliest(row.created_at, at)
    if event.status in ACCEPTED_OR_LATER:
        row.accepted_at = _earliest(row.accepted_at, at)
    if event.status is TaskStatus.COMPLETED:
        row.completed_at = _earliest(row.completed_at, at)
    if row.updated_at <= at:
        row.status, row.assignees = event.status.value, list(event.assignees)
        row.dong_code, row.deadline = event.dong_code, event.deadline
        row.escalation_id, row.step_id = event.escalation_id, event.step_id
        row.updated_at = at
    session.add(row)
    return _change(session, "task", event.household_id, str(event.task_id), summary)


def _outcome(session: Session, event: OutcomeEvent) -> Change:
    summary = f"outcome {event.result.value} by {event.recorded_by}"
    ref = str(event.outcome_id)
    _timeline(session, event, "outreach.outcome", event.household_id, ref, summary)
    if session.get(OutcomeView, event.outcome_id) is None:
        session.add(
            OutcomeView(
                outcome_id=event.outcome_id,
                household_id=event.household_id,
                result=event.result.value,
                contact_mode=event.contact_mode.value,
                recorded_by=event.recorded_by,
                needs=[n.value for n in event.needs],
                services_linked=event.monitoring.service_linkage is ItemState.OK
                and event.result is OutcomeResult.CONTACT_CONFIRMED,
                follow_up=event.follow_up,
                recorded_at=event.contacted_at or event.produced_at,
            )
        )
    return _change(session, "outcome", event.household_id, ref, summary)


def _notification(session: Session, event: NotificationStatusEvent) -> Change:
    summary = f"notification {event.status.value}"
    _timeline(session, event, "notify.status", event.household_id, event.request_key, summary)
    row = session.get(NotificationView, event.request_key)
    if not _stale(row, event.produced_at):
        row = row or NotificationView(
            request_key=event.request_key, status="", updated_at=event.produced_at
        )
        row.status, row.household_id = event.status.value, event.household_id
        row.channel = event.channel.value if event.channel else row.channel
        row.reason, row.attempt, row.updated_at = event.reason, event.attempt, event.produced_at
        session.add(row)
    return _change(session, "notification", event.household_id, event.request_key, summary)


def _case_words(event: CaseEvent) -> tuple[str, list[str]]:
    """The English summary and the label keys (or dong codes) pages translate."""
    change, case = event.change, f"case {event.case_id}"
    if change is CaseChange.PROGRESSED:
        return f"{case} {change.value} to {event.state.value}", [f"case_state_{event.state.value}"]
    if change is CaseChange.OPENED and event.level is not None:
        return f"{case} opened ({event.level.value})", [f"case_level_{event.level.value}"]
    if change is CaseChange.TRANSFERRED and event.from_dong_code is not None:
        summary = f"{case} transferred {event.from_dong_code} -> {event.dong_code}"
        return summary, [event.from_dong_code, event.dong_code]
    if change is CaseChange.SERVICES_LINKED:
        services = [s.value for s in event.services]
        return f"{case} services linked: {', '.join(services)}", [f"service_{s}" for s in services]
    if change is CaseChange.CLOSED and event.closure_reason is not None:
        reason = event.closure_reason.value
        return f"{case} closed: {reason}", [f"closure_{reason}"]
    return f"{case} {change.value}", []


def _case(session: Session, event: CaseEvent) -> Change:
    summary, terms = _case_words(event)
    label = f"case_{event.change.value}"
    _timeline(
        session, event, "registry.case", event.household_id, event.case_id, summary, label, terms
    )
    at = event.occurred_at
    row = session.get(CaseView, event.case_id)
    if row is None:
        row = CaseView(
            case_id=event.case_id,
            household_id=event.household_id,
            dong_code=event.dong_code,
            state=event.state.value,
            updated_at=at,
        )
    # First openings and linkages are kept as minimums: the funnel counts them, whatever
    # order a replay delivers the case's events in.
    if event.change is CaseChange.OPENED:
        row.opened_at = _earliest(row.opened_at, at)
    if event.change is CaseChange.SERVICES_LINKED:
        row.linked_at = _earliest(row.linked_at, at)
    if row.updated_at <= at:
        row.dong_code, row.state = event.dong_code, event.state.value
        row.level = event.level.value if event.level else None
        if event.change is CaseChange.CLOSED:
            row.closed_at = at
            row.closure_reason = event.closure_reason.value if event.closure_reason else None
        elif event.change is CaseChange.DISCOVERED:  # a follow-up case starting again
            row.closed_at, row.closure_reason = None, None
        row.updated_at = at
    session.add(row)
    return _change(session, "case", event.household_id, event.case_id, summary)


def _partner_feed(
    session: Session, partner_id: str, kind: str, observed: datetime, produced: datetime
) -> None:
    row = session.get(PartnerFeedView, (partner_id, kind))
    if row is None:
        row = PartnerFeedView(
            partner_id=partner_id, kind=kind, last_observed_at=observed, last_produced_at=produced
        )
    else:
        row.last_observed_at = max(row.last_observed_at, observed)
        row.last_produced_at = max(row.last_produced_at, produced)
    session.add(row)


def signal_hour(at: datetime) -> datetime:
    """The UTC hour a signal is counted in."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def count_signals(session: Session, signals: Sequence[Signal]) -> None:
    """Add each signal not counted before to its partner's, kind's and hour's count.

    A signal is counted once per (partner, partner's event id), the contract's idempotency
    key, whichever batch or replay brings it again. Hours older than ``SIGNAL_HOURS_KEPT``
    behind the newest hour counted are dropped, and signals that old are not counted, so a
    replay from the beginning of the topics ends with the same window as the live fold.
    """
    if not signals:
        return
    newest = session.exec(select(func.max(PartnerSignalHour.hour))).one()
    batch_newest = max(signal_hour(s.produced_at) for s in signals)
    newest = batch_newest if newest is None else max(signal_hour(newest), batch_newest)
    cutoff = newest - SIGNAL_HOURS_KEPT
    fresh = {(s.partner_id, s.partner_event_id): s for s in signals}
    fresh = {key: s for key, s in fresh.items() if signal_hour(s.produced_at) >= cutoff}
    ids = sorted({event_id for _, event_id in fresh})
    for start in range(0, len(ids), 500):  # stay under the databases' bound-parameter limits
        chunk = ids[start : start + 500]
        query = select(PartnerSignalSeen.partner_id, PartnerSignalSeen.partner_event_id).where(
            col(PartnerSignalSeen.partner_event_id).in_(chunk)
        )
        for partner_id, event_id in session.exec(query):
            fresh.pop((partner_id, event_id), None)
    counts: Counter[tuple[str, str, datetime]] = Counter()
    for (partner_id, event_id), signal in fresh.items():
        hour = signal_hour(signal.produced_at)
        session.add(PartnerSignalSeen(partner_id=partner_id, partner_event_id=event_id, hour=hour))
        counts[(partner_id, str(getattr(signal, "kind", "")), hour)] += 1
    for (partner_id, kind, hour), n in counts.items():
        row = session.get(PartnerSignalHour, (partner_id, kind, hour))
        row = row or PartnerSignalHour(partner_id=partner_id, kind=kind, hour=hour, count=0)
        row.count += n
        session.add(row)
    session.exec(delete(PartnerSignalHour).where(col(PartnerSignalHour.hour) < cutoff))
    session.exec(delete(PartnerSignalSeen).where(col(PartnerSignalSeen.hour) < cutoff))
