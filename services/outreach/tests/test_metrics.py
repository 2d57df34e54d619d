"""The open-tasks gauge: every open status and urgency, zeros included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

from anbu_outreach import metrics
from anbu_outreach.adapters.orm import TaskRow, metadata
from anbu_runtime.db import Database

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def task(status: str, urgency: str) -> TaskRow:
    return TaskRow(
        task_id=uuid4(),
        origin_key=str(uuid4()),
        household_id="HH-METRICS01",
        task_type="follow_up_call",
        team=["dong_official"],
        urgency=urgency,
        deadline=T0 + timedelta(hours=1),
        status=status,
        created_at=T0,
        updated_at=T0,
    )


def test_open_tasks_by_status_and_urgency(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'outreach.db'}")
    db.create_all(metadata)
    with db.session() as session:
        session.add_all(
            [
                task("unassigned", "critical"),
                task("unassigned", "critical"),
                task("unassigned", "routine"),
                task("offered", "high"),
                task("completed", "critical"),  # ended: not open
                task("cancelled", "critical"),
            ]
        )
    with db.session() as session:
        counts = metrics.open_task_counts(session)
    assert counts == {
        ("unassigned", "critical"): 2,
        ("unassigned", "routine"): 1,
        ("offered", "high"): 1,
    }

    metrics.publish_open_tasks(counts)
    value = metrics.OPEN_TASKS.labels
    assert value("unassigned", "critical")._value.get() == 2
    assert value("offered", "high")._value.get() == 1
    assert value("unassigned", "high")._value.get() == 0  # zeros, so alerts see a series
    assert value("started", "critical")._value.get() == 0

    metrics.publish_open_tasks({})  # all taken: back to zero, not a stale 2
    assert value("unassigned", "critical")._value.get() == 0
    db.dispose()
