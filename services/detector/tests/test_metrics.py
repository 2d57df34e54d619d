"""The overdue-step gauge: running escalations whose next step is late in real time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

from anbu_contracts import EscalationStatus
from anbu_detector import metrics
from anbu_detector.adapters.orm import EscalationRow, metadata
from anbu_runtime.clock import ManualClock
from anbu_runtime.db import Database

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def escalation(protocol: str, status: EscalationStatus, due: datetime | None) -> EscalationRow:
    return EscalationRow(
        escalation_id=uuid4(),
        alert_id=uuid4(),
        household_id="HH-METRICS01",
        partition=0,
        protocol_id=protocol,
        protocol_version="1",
        status=status.value,
        triggered_at=T0 - timedelta(days=1),
        next_due_at=due,
    )


def test_counts_running_escalations_late_beyond_the_grace(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'detector.db'}")
    db.create_all(metadata)
    clock = ManualClock(T0)
    running, closed = EscalationStatus.RUNNING, EscalationStatus.CLOSED
    with db.session() as session:
        session.add_all(
            [
                escalation("safety-not-confirmed", running, T0 - timedelta(minutes=10)),
                escalation("safety-not-confirmed", running, T0 - timedelta(hours=3)),
                escalation("emergency", running, T0 - timedelta(minutes=5)),
                escalation("emergency", running, T0 - timedelta(seconds=10)),  # within grace
                escalation("emergency", running, T0 + timedelta(minutes=10)),  # not yet due
                escalation("emergency", running, None),  # no step left
                escalation("welfare-check", closed, T0 - timedelta(hours=1)),  # closed
            ]
        )
    with db.session() as session:
        counts = metrics.overdue_steps(session, clock)
    assert counts == {"safety-not-confirmed": 2, "emergency": 1}

    metrics.publish_overdue(counts, ["safety-not-confirmed", "emergency", "welfare-check"])
    assert metrics.OVERDUE_STEPS.labels("safety-not-confirmed")._value.get() == 2
    assert metrics.OVERDUE_STEPS.labels("emergency")._value.get() == 1
    assert metrics.OVERDUE_STEPS.labels("welfare-check")._value.get() == 0

    clock.advance(timedelta(minutes=20))  # everything running and due is now late
    with db.session() as session:
        assert metrics.overdue_steps(session, clock) == {
            "safety-not-confirmed": 2,
            "emergency": 3,
        }
    db.dispose()
