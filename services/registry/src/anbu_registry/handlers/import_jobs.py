"""Bulk imports that run in the background and report how far they are.

``POST /v1/imports/households/jobs`` stores the upload, records a ``household_import`` row
and returns at once; the import runs in a thread (its batches in worker processes) and
updates the row after every batch, so ``GET /v1/imports/{id}`` shows rows done, the pace and
an ETA while it runs, and the report when it is done. Each change of the row is also
published on ``ops.job.v1`` (at most every ``REPORT_EVERY`` while it runs) for the
console's partners page. If the registry stops mid-import, the row's ``updated_at`` stops
moving and :func:`interrupt_stalled` marks it ``interrupted`` after ``STALLED_AFTER``: upload
the file again (batches already written are refused as existing only if the file gives
household ids).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from anbu_contracts.topics import OPS_JOB
from anbu_runtime.auth import Principal
from anbu_runtime.uow import Transactions

from ..adapters.events import import_progress
from ..adapters.household_csv import (
    MAX_FIELD_CHARS,
    MAX_LINE_BYTES,
    HeaderError,
    MalformedFile,
    file_lines,
)
from ..adapters.orm import HouseholdImportRow
from ..adapters.pii import PiiCipher
from ..adapters.repository import Repositories, UoW
from ..domain.identifiers import new_id
from .common import NotFound, actor_name
from .imports import ImportReport, run_import

RUNNING = "running"
INTERRUPTED = "interrupted"
REPORT_EVERY = 2.0  # seconds between two progress events of a running import
# A running import updates its row after every batch (seconds apart): one whose row has
# not moved for this long (real time) was cut off by a stop of its registry.
STALLED_AFTER = timedelta(minutes=10)


class ImportJobs:
    """Starts background imports and keeps their ``household_import`` rows current."""

    def __init__(self, tx: Transactions[Repositories], cipher: PiiCipher, workers: int) -> None:
        self.tx = tx
        self.cipher = cipher
        self.workers = workers
        self._reported: dict[str, float] = {}  # import id → when its progress was last sent

    def start(self, principal: Principal, size: int, *, dry_run: bool, batch_size: int) -> str:
        """Record a new import of ``size`` bytes; return its id."""
        import_id = new_id("IMP-", 16)

        def record(uow: UoW) -> None:
            now = uow.now
            uow.session.add(
                HouseholdImportRow(
                    import_id=import_id,
                    state=RUNNING,
                    started_by=actor_name(principal),
                    dry_run=dry_run,
                    batch_size=batch_size,
                    bytes_total=size,
                    started_at=now,
                    updated_at=now,
                )
            )

        def record_and_announce(uow: UoW) -> None:
            record(uow)
            publish_progress(uow, import_id)

        self.tx.run_sync(record_and_announce)
        self._reported[import_id] = time.monotonic()
        return import_id

    def run(self, import_id: str, path: Path, principal: Principal) -> None:
        """Import the file at ``path``, then delete it (synchronous: off the event loop)."""
        try:
            self._run(import_id, path, principal)
        finally:
            path.unlink(missing_ok=True)

    def _run(self, import_id: str, path: Path, principal: Principal) -> None:
        job = self.tx.run_sync(lambda uow: uow.repos.household_import(import_id))
        assert job is not None, import_id
        with path.open("rb") as binary:

            def progress(report: ImportReport) -> None:
                # One small UPDATE a batch (a batch writes thousands of rows).
                self._save(import_id, report, binary.tell())

            try:
                report = run_import(
                    self.tx,
                    self.cipher,
                    file_lines(binary),
                    principal,
                    dry_run=job.dry_run,
                    batch_size=job.batch_size,
                    progress=progress,
                    workers=self.workers,
                )
            except HeaderError as exc:
                self._save(import_id, ImportReport(job.dry_run), 0, "failed", _header(exc))
                return
            except MalformedFile as exc:
                done = exc.report or ImportReport(job.dry_run)
                self._save(import_id, done, binary.tell(), "failed", _malformed(exc))
                return
            except Exception:
                self._save(import_id, ImportReport(job.dry_run), binary.tell(), "failed")
                raise
        self._save(import_id, report, job.bytes_total, "done")

    def _save(
        self,
        import_id: str,
        report: ImportReport,
        bytes_done: int,
        state: str = RUNNING,
        problem: dict[str, Any] | None = None,
    ) -> None:
        counts = asdict(report)
        errors = counts.pop("errors")
        counts.pop("dry_run")
        if state == RUNNING:
            counts.pop("errors_truncated")

        report_now = state != RUNNING or (
            time.monotonic() - self._reported.get(import_id, 0.0) >= REPORT_EVERY
        )

        def save(uow: UoW) -> None:
            values: dict[str, Any] = {**counts, "bytes_done": bytes_done, "updated_at": uow.now}
            if state != RUNNING:
                values |= {"state": state, "finished_at": uow.now, "errors": errors}
                values["problem"] = problem
            uow.repos.update_import(import_id, values)
            if report_now:
                publish_progress(uow, import_id)

        self.tx.run_sync(save)
        if state != RUNNING:
            self._reported.pop(import_id, None)
        elif report_now:
            self._reported[import_id] = time.monotonic()

    @staticmethod
    def status(repos: Repositories, import_id: str, principal: Principal) -> HouseholdImportRow:
        """The import ``import_id``, for the one who started it or an administrator."""
        job = repos.household_import(import_id)
        if job is None or not (principal.is_admin or job.started_by == actor_name(principal)):
            raise NotFound(f"import {import_id} not found")
        return job


def publish_progress(uow: UoW, import_id: str) -> None:
    """Stage the import's progress event from its stored row (in the caller's transaction)."""
    uow.session.flush()
    job = uow.repos.household_import(import_id)
    if job is not None:
        uow.session.refresh(job)  # an UPDATE may have gone around the session's copy
        uow.publish(OPS_JOB, import_progress(job, uow.now))


def interrupt_stalled(uow: UoW, speed: float = 1.0) -> list[str]:
    """Mark ``interrupted`` every running import whose row has not moved for
    ``STALLED_AFTER`` (real time: ``speed`` is the service clock's), and say so on
    ``ops.job.v1``; returns their ids."""
    cutoff: datetime = uow.now - STALLED_AFTER * speed
    stalled = uow.repos.running_imports(updated_before=cutoff)
    for job in stalled:
        job.state, job.finished_at = INTERRUPTED, uow.now
        uow.session.add(job)
        publish_progress(uow, job.import_id)
    return [job.import_id for job in stalled]


def _header(exc: HeaderError) -> dict[str, Any]:
    return {"type": "csv-header", "title": "Bad CSV header", "detail": str(exc), "line": 1}


def _malformed(exc: MalformedFile) -> dict[str, Any]:
    return {
        "type": "csv-malformed",
        "title": "Unreadable CSV",
        "detail": exc.detail,
        "line": exc.line,
        "limits": {"cell_characters": MAX_FIELD_CHARS, "line_bytes": MAX_LINE_BYTES},
    }
