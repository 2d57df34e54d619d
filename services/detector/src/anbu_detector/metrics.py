"""Detector figures: gauges of durable state and of the in-memory index (refreshed by the
``figures`` job in entrypoints/jobs.py; the per-record counters live in handlers).

``anbu_detector_overdue_steps`` counts running escalations whose next protocol step is past
due by more than a grace period of *real* time: a timer that should have fired and did not
(its partition unowned, the scheduler stuck, a step that keeps failing). The grace is in
real seconds so that an accelerated clock does not turn ordinary scheduling jitter into an
alarm. Every instance reads the shared table, so dashboards and rules take ``max`` over
instances, not ``sum``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from prometheus_client import Gauge
from sqlmodel import Session, col, select

from anbu_contracts import EscalationStatus
from anbu_runtime.clock import Clock

from .adapters.orm import EscalationRow
from .domain.monitor import Monitor

OVERDUE_GRACE = timedelta(seconds=60)
SEVERITIES = ("watch", "caution", "alert", "critical")

OPEN_ALERTS = Gauge("anbu_detector_open_alerts", "Open alerts, by severity.", ["severity"])
RUNNING = Gauge(
    "anbu_detector_running_escalations", "Running escalations, by protocol.", ["protocol"]
)
WATCHED = Gauge("anbu_detector_watched_households", "Households in this instance's index.")
DEADLINES = Gauge("anbu_detector_pending_deadlines", "Inactivity deadlines in the index.")

OVERDUE_STEPS = Gauge(
    "anbu_detector_overdue_steps",
    "Running escalations whose next protocol step is past due by more than a minute of "
    "real time, by protocol (every instance reads the shared table: take max, not sum).",
    ["protocol"],
)


def overdue_steps(
    session: Session, clock: Clock, *, grace: timedelta = OVERDUE_GRACE
) -> dict[str, int]:
    """Per protocol, running escalations whose next step is overdue by more than ``grace``."""
    rows = session.exec(
        select(EscalationRow.protocol_id, EscalationRow.next_due_at).where(
            EscalationRow.status == EscalationStatus.RUNNING.value,
            col(EscalationRow.next_due_at).is_not(None),
            col(EscalationRow.next_due_at) <= clock.now(),
        )
    ).all()
    late_before = datetime.now(UTC) - grace
    return dict(
        Counter(
            protocol
            for protocol, due in rows
            if due is not None and clock.real_instant(due) < late_before
        )
    )


def publish_overdue(counts: dict[str, int], protocols: Iterable[str]) -> None:
    """Set the gauge for every known protocol (0 when none is overdue) and any other seen."""
    for protocol in {*protocols, *counts}:
        OVERDUE_STEPS.labels(protocol).set(counts.get(protocol, 0))


def publish_index(monitor: Monitor) -> None:
    """The index's own figures (counted every few seconds and on assignment, not per batch)."""
    WATCHED.set(len(monitor.households))
    DEADLINES.set(monitor.pending())


def publish_open(
    by_severity: dict[str, int], by_protocol: dict[str, int], protocols: Iterable[str]
) -> None:
    for severity in SEVERITIES:
        OPEN_ALERTS.labels(severity).set(by_severity.get(severity, 0))
    for protocol_id in protocols:
        RUNNING.labels(protocol_id).set(by_protocol.get(protocol_id, 0))
