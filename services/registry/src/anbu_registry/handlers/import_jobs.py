"""Bulk imports that run in the background and report how far they are.

``POST /v1/imports/households/jobs`` stores the upload, records a ``household_import`` row
and returns at once; the import runs in a thread (its batches in worker processes) and
updates the row after every batch, so ``GET /v1/imports/{id}`` shows rows done, the pace and
an ETA while it runs, and the report when it is done. If the registry stops mid-import the
row stays ``running`` with an ``updated_at`` that no longer moves: upload the file again
(batches already written are refused as existing only if the file gives household ids).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from anbu_runtime.auth import Principal
from anbu_runtime.uow import Transactions

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


class ImportJobs:
    """Starts background imports and keeps their ``household_import`` rows current."""

    def __init__(self, tx: Transactions[Repositories], cipher: PiiCipher, workers: int) -> None:
        self.tx = tx
        self.cipher = cipher
        self.workers = workers

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

        self.tx.run_sync(record)
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

        def save(uow: UoW) -> None:
            values: dict[str, Any] = {**counts, "bytes_done": bytes_done, "updated_at": uow.now}
            if state != RUNNING:
                values |= {"state": state, "finished_at": uow.now, "errors": errors}
                values["problem"] = problem
            uow.repos.update_import(import_id, values)

        self.tx.run_sync(save)

    @staticmethod
    def status(repos: Repositories, import_id: str, principal: Principal) -> HouseholdImportRow:
        """The import ``import_id``, for the one who started it or an administrator."""
        job = repos.household_import(import_id)
        if job is None or not (principal.is_admin or job.started_by == actor_name(principal)):
            raise NotFound(f"import {import_id} not found")
        return job


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
