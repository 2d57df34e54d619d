"""An import cut off by a stop of its registry is marked interrupted, not left running, and
says so on ops.job.v1 (test_bulk_import follows a running import's progress events)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, select

from anbu_registry.adapters.orm import HouseholdImportRow
from anbu_registry.handlers.import_jobs import STALLED_AFTER, interrupt_stalled

from .conftest import job_events, registry_units

NOW = datetime(2026, 12, 4, 9, tzinfo=UTC)


def test_an_import_whose_registry_stopped_is_marked_interrupted(tmp_path: Path) -> None:
    tx, _ = registry_units(tmp_path / "registry.db", NOW)
    db = tx.db
    with Session(db.engine) as session:
        for import_id, moved in (("IMP-STALLED", STALLED_AFTER * 2), ("IMP-MOVING", timedelta())):
            session.add(
                HouseholdImportRow(
                    import_id=import_id,
                    state="running",
                    started_by="service",
                    batch_size=1000,
                    bytes_total=1000,
                    bytes_done=400,
                    rows=40,
                    started_at=NOW - STALLED_AFTER * 3,
                    updated_at=NOW - moved,
                )
            )
        session.commit()

    assert tx.run_sync(lambda uow: interrupt_stalled(uow)) == ["IMP-STALLED"]
    assert tx.run_sync(lambda uow: interrupt_stalled(uow)) == []  # once

    with Session(db.engine) as session:
        states = {r.import_id: r.state for r in session.exec(select(HouseholdImportRow))}
    assert states == {"IMP-STALLED": "interrupted", "IMP-MOVING": "running"}
    [event] = job_events(db, "IMP-STALLED")
    assert (event.state, event.finished, event.succeeded, event.rows, event.progress) == (
        "interrupted",
        True,
        False,
        40,
        0.4,
    )
    assert job_events(db, "IMP-MOVING") == []
