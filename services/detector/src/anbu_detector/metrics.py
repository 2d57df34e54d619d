"""Detector figures computed from durable state (the per-record counters live in handlers).

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

OVERDUE_GRACE = timedelta(seconds=60)

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
