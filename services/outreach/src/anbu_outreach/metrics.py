"""Outreach's Prometheus metrics (served on ``/metrics`` beside the runtime's own).

Durations are measured on the service clock (simulated seconds under an accelerated clock).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import func
from sqlmodel import Session, col, select

from anbu_contracts.vocabulary import Urgency

from .adapters.orm import TaskRow

_DURATION_BUCKETS = (60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 86400, 3 * 86400)

TASKS = Gauge("anbu_outreach_tasks", "Outreach tasks by status.", ["status"])
UNASSIGNED_TASKS = Gauge(
    "anbu_outreach_unassigned_tasks", "Open tasks with a team slot nobody could take."
)
OPEN_STATUSES = ("offered", "accepted", "started", "unassigned")
OPEN_TASKS = Gauge(
    "anbu_outreach_open_tasks",
    "Tasks not yet ended, by status (offered, accepted, started, unassigned) and urgency.",
    ["status", "urgency"],
)
TASKS_CREATED = Counter(
    "anbu_outreach_tasks_created_total", "Tasks created, by origin.", ["origin"]
)
OFFERS_MADE = Counter("anbu_outreach_offers_total", "Offers made to people.")
OFFERS_EXPIRED = Counter(
    "anbu_outreach_offers_expired_total", "Offers not answered within their window."
)
OFFERS_DECLINED = Counter(
    "anbu_outreach_offers_declined_total", "Offers declined, by reason.", ["reason"]
)
HANDED_TO_DUTY_OFFICER = Counter(
    "anbu_outreach_handed_to_duty_officer_total",
    "Times a task had a slot nobody could take and went to the duty officer.",
)
TIME_TO_ACCEPTANCE = Histogram(
    "anbu_outreach_time_to_acceptance_seconds",
    "From task creation until the whole team has accepted.",
    ["urgency"],
    buckets=_DURATION_BUCKETS,
)
TIME_TO_COMPLETION = Histogram(
    "anbu_outreach_time_to_completion_seconds",
    "From task creation until its outcome was recorded.",
    ["urgency"],
    buckets=_DURATION_BUCKETS,
)
CONTACTS = Gauge(
    "anbu_outreach_contacts",
    "Households whose routine contact is due or overdue, by tier and cycle.",
    ["tier", "cycle", "state"],
)


def open_task_counts(session: Session) -> dict[tuple[str, str], int]:
    """Tasks in an open status, by (status, urgency)."""
    rows = session.exec(
        select(TaskRow.status, TaskRow.urgency, func.count())
        .where(col(TaskRow.status).in_(OPEN_STATUSES))
        .group_by(TaskRow.status, TaskRow.urgency)
    ).all()
    return {(status, urgency): count for status, urgency, count in rows}


def publish_open_tasks(counts: dict[tuple[str, str], int]) -> None:
    """Set every (open status, urgency) pair, 0 where there is none, so alerts see zeros."""
    pairs = {(s, u.value) for s in OPEN_STATUSES for u in Urgency} | set(counts)
    for status, urgency in pairs:
        OPEN_TASKS.labels(status, urgency).set(counts.get((status, urgency), 0))
