"""A bulk import says where it stands on ops.job.v1 (the console's partners page shows it),
and an import cut off by a stop of its registry is marked interrupted, not left running."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, select

from anbu_contracts import JobKind, JobProgress
from anbu_registry.adapters.migrations import upgrade
from anbu_registry.adapters.orm import HouseholdImportRow, metadata
from anbu_registry.adapters.pii import PiiCipher
from anbu_registry.adapters.repository import Repositories
from anbu_registry.handlers.common import Context
from anbu_registry.handlers.import_jobs import STALLED_AFTER, interrupt_stalled
from anbu_runtime.clock import ManualClock
from anbu_runtime.db import Database
from anbu_runtime.outbox import Outbox, install
from anbu_runtime.uow import Transactions

from .conftest import Registry
from .test_bulk_import import csv_of, good

NOW = datetime(2026, 12, 4, 9, tzinfo=UTC)


def job_events(db: Database, job_id: str) -> list[JobProgress]:
    outbox = install(metadata).outbox
    with Session(db.engine) as session:
        values = session.execute(
            select(outbox.c.value).where(outbox.c.topic == "ops.job.v1").order_by(outbox.c.id)
        ).scalars()
        events = [JobProgress.model_validate_json(v) for v in values]
    return [e for e in events if e.job_id == job_id]


def test_a_background_import_reports_its_progress_for_the_console(registry: Registry) -> None:
    rows = 300
    response = registry.client.post(
        "/v1/imports/households/jobs",
        headers=registry.service,
        params={"batch_size": 50},
        files={"file": ("list.csv", csv_of([good(n) for n in range(rows)]), "text/csv")},
    )
    assert response.status_code == 202, response.text
    import_id = response.json()["import_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = registry.client.get(response.headers["Location"], headers=registry.service)
        if status.json()["state"] != "running":
            break
        time.sleep(0.05)
    db: Database = registry.client.app.state.runtime.db  # type: ignore[attr-defined]
    events = job_events(db, import_id)
    first, last = events[0], events[-1]
    assert (first.kind, first.state, first.finished, first.rows) == (
        JobKind.HOUSEHOLD_IMPORT,
        "running",
        False,
        0,
    )
    assert (last.state, last.finished, last.succeeded, last.rows, last.progress) == (
        "done",
        True,
        True,
        rows,
        1.0,
    )
    assert last.eta_seconds is None and last.partner_id is None
    assert [e.updated_at for e in events] == sorted(e.updated_at for e in events)
    assert "김시험" not in str([e.model_dump() for e in events])  # counts only


def test_an_import_whose_registry_stopped_is_marked_interrupted(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'registry.db'}")
    upgrade(db)
    ctx = Context(PiiCipher([("k1", os.urandom(32))], os.urandom(32)))
    tx = Transactions(
        db, Outbox(install(metadata), "registry"), ManualClock(NOW), lambda s: Repositories(s, ctx)
    )
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
