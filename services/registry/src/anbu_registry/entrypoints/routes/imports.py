"""Bulk enrolment over HTTP: an import in the request, or in the background with progress."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import IO, Annotated, Any

from fastapi import APIRouter, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from anbu_runtime.auth import Caller, Principal
from anbu_runtime.logs import get_logger
from anbu_runtime.problems import Problem

from ...adapters.events import import_pace
from ...adapters.household_csv import (
    MAX_FIELD_CHARS,
    MAX_LINE_BYTES,
    HeaderError,
    MalformedFile,
    file_lines,
)
from ...adapters.orm import HouseholdImportRow
from ...adapters.pii import PiiCipher
from ...handlers.import_jobs import ImportJobs
from ...handlers.imports import ImportReport, run_import
from .transaction import RouteTransactions

log = get_logger(__name__)
BatchSize = Annotated[int, Query(ge=1, le=10_000)]


class ImportRowError(BaseModel):
    line: int
    errors: list[str]


class ImportReportView(BaseModel):
    dry_run: bool
    rows: int
    valid: int
    invalid: int
    imported: int
    batches: int
    batches_rejected: int
    errors: list[ImportRowError]
    errors_truncated: bool


class ImportStatusView(BaseModel):
    """How far a background import is; ``errors`` and ``problem`` once it has finished."""

    import_id: str
    state: str = Field(description="running, done or failed")
    dry_run: bool
    rows_done: int = Field(description="Rows read and settled so far (valid or not).")
    valid: int
    invalid: int
    imported: int
    batches: int
    batches_rejected: int
    bytes_done: int
    bytes_total: int
    progress: float = Field(description="Share of the file's bytes processed (0 to 1).")
    rows_per_second: float | None
    eta_seconds: float | None = Field(
        description="Seconds left at the pace so far; null before a pace is known and when done."
    )
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    errors: list[ImportRowError]
    errors_truncated: bool
    problem: dict[str, Any] | None


def status_view(job: HouseholdImportRow) -> ImportStatusView:
    at = import_pace(job)
    return ImportStatusView(
        import_id=job.import_id,
        state=job.state,
        dry_run=job.dry_run,
        rows_done=job.rows,
        valid=job.valid,
        invalid=job.invalid,
        imported=job.imported,
        batches=job.batches,
        batches_rejected=job.batches_rejected,
        bytes_done=job.bytes_done,
        bytes_total=job.bytes_total,
        progress=at.share,
        rows_per_second=at.rows_per_second,
        eta_seconds=at.eta_seconds,
        started_at=job.started_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
        errors=[ImportRowError.model_validate(e) for e in job.errors],
        errors_truncated=job.errors_truncated,
        problem=job.problem,
    )


def _keep(upload: IO[bytes]) -> tuple[Path, int]:
    """Copy an upload to a file of our own (the request's copy is gone once we answer);
    the import deletes it when it ends."""
    with tempfile.NamedTemporaryFile(prefix="anbu-import-", suffix=".csv", delete=False) as kept:
        shutil.copyfileobj(upload, kept, 1024 * 1024)
        size = kept.tell()
    return Path(kept.name), size


def router(tx: RouteTransactions, cipher: PiiCipher, workers: int) -> APIRouter:
    api = APIRouter(tags=["households"])
    jobs = ImportJobs(tx.units, cipher, workers)
    running: set[asyncio.Task[None]] = set()

    @api.post(
        "/v1/imports/households",
        response_model=ImportReportView,
        summary="Bulk enrolment from CSV: per-row report, all-or-nothing per batch, dry run",
    )
    async def import_households(
        file: UploadFile, who: Caller, dry_run: bool = False, batch_size: BatchSize = 1000
    ) -> ImportReportView:
        try:
            report = await asyncio.to_thread(
                run_import,
                tx.units,
                cipher,
                file_lines(file.file),
                who,
                dry_run=dry_run,
                batch_size=batch_size,
                workers=workers,
            )
        except HeaderError as exc:
            raise Problem(
                400, "Bad CSV header", str(exc), type_="csv-header", extensions={"line": exc.line}
            ) from exc
        except MalformedFile as exc:
            tx.units.outbox.notify()  # batches before the bad line are written
            done = exc.report or ImportReport(dry_run=dry_run)
            raise Problem(
                422,
                "Unreadable CSV",
                f"{exc.detail}; the import stopped at line {exc.line} "
                f"({done.imported} households of earlier complete batches were written)",
                type_="csv-malformed",
                extensions={
                    "line": exc.line,
                    "rows_before": done.rows,
                    "imported_before": done.imported,
                    "limits": {"cell_characters": MAX_FIELD_CHARS, "line_bytes": MAX_LINE_BYTES},
                },
            ) from exc
        tx.units.outbox.notify()
        return ImportReportView.model_validate(report, from_attributes=True)

    async def run_job(import_id: str, path: Path, who: Principal) -> None:
        try:
            await asyncio.to_thread(jobs.run, import_id, path, who)
        except Exception:
            # The import's row says "failed"; the cause goes to the log (no row contents).
            log.exception("household import failed", import_id=import_id)
        finally:
            tx.units.outbox.notify()

    @api.post(
        "/v1/imports/households/jobs",
        response_model=ImportStatusView,
        status_code=202,
        summary="Start a bulk enrolment from CSV in the background; follow it with its status",
        description=(
            "The same import as POST /v1/imports/households, answered at once: Location names "
            "GET /v1/imports/{import_id}, which reports rows done, the pace and an ETA while "
            "it runs, and the per-row report when it is done."
        ),
    )
    async def start_import(
        file: UploadFile,
        who: Caller,
        response: Response,
        dry_run: bool = False,
        batch_size: BatchSize = 1000,
    ) -> ImportStatusView:
        path, size = await asyncio.to_thread(_keep, file.file)
        import_id = await asyncio.to_thread(
            jobs.start, who, size, dry_run=dry_run, batch_size=batch_size
        )
        task = asyncio.create_task(run_job(import_id, path, who))
        running.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(running.discard)
        response.headers["Location"] = f"/v1/imports/{import_id}"
        return await import_status(import_id, who)

    @api.get(
        "/v1/imports/{import_id}",
        response_model=ImportStatusView,
        summary="How far a background import is (rows done, ETA), and its report when done",
    )
    async def import_status(import_id: str, who: Caller) -> ImportStatusView:
        return await tx.read(lambda repos: status_view(jobs.status(repos, import_id, who)))

    return api
