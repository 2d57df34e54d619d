"""CSV files: publish a registered file in chunks in the background.

The upload is stored and checked (encoding from first byte to last, header, not empty)
before the partner gets its answer, so a file that cannot be read at all is refused at
once. The submission and its progress are rows in the gateway's database; a worker claims a
submission (with a lease another instance takes over if this one dies), reads the stored
file as a stream and publishes it chunk by chunk through the submission log, committing
the progress with each chunk's "published" marks. A restarted gateway resumes after the last
committed chunk; the records of the chunk in flight are reconciled with the topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

from anbu_contracts import SignalKind
from anbu_contracts.topics import OPS_JOB
from anbu_runtime.logs import get_logger
from anbu_runtime.service import ServiceRuntime

from ..adapters import csv_files
from ..adapters.events import file_progress
from ..adapters.orm import SubmissionRow
from ..adapters.repository import Uow
from ..adapters.validation_pool import ValidationPool
from ..domain.csv_columns import Header, parse_header
from ..domain.rate_limit import RateLimiter
from ..domain.records import Mode, RecordError
from ..domain.submissions import SubmissionState, move
from ..metrics import (
    FILE_PACED_SECONDS,
    FILE_ROWS,
    FILE_ROWS_PER_SECOND,
    SIGNALS,
    SUBMISSION_TRANSITIONS,
    SUBMISSIONS,
)
from .file_chunks import Chunk, FileChunks
from .file_intake import FileSettings
from .file_validation import refuse_file, scan_all
from .publishing import ChunkResult, KafkaUnavailable, Publisher, real_now

log = get_logger(__name__)

S = SubmissionState
IDLE_WAIT = 2.0  # seconds an idle file worker waits for an upload before it looks again
REPORT_EVERY = 2.0  # seconds between two progress events of a file in the works


class FileWorker:
    """Processes submissions in the background; several run side by side."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        publisher: Publisher,
        limiter: RateLimiter,
        settings: FileSettings,
        pool: ValidationPool,
    ) -> None:
        self.runtime = runtime
        self.publisher = publisher
        self.tx = publisher.tx
        self.limiter = limiter
        self.settings = settings
        self.pool = pool
        self.wake = asyncio.Event()
        self._reported: dict[str, float] = {}  # submission id → when its progress went out

    async def run_once(self, owner: str, stop: asyncio.Event) -> bool:
        """Claim and process one submission (a job's round); False when none was waiting.

        Idle, it waits for an upload's wake-up (at most ``IDLE_WAIT`` seconds) before it
        returns, so a new file starts at once. A Kafka or database failure releases the
        claim (the file is kept and resumed) and is raised for the job to count and pause.
        """
        submission_id = await self.tx.run(lambda uow: self._claim(uow, owner))
        if submission_id is None:
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=IDLE_WAIT)
            return False
        try:
            await self.process(submission_id, owner, stop)
        except (FileNotFoundError, UnicodeDecodeError) as exc:
            await self._finish(
                submission_id, S.FAILED, detail=f"the stored file is unreadable: {exc}"
            )
        except Exception as exc:  # Kafka or the database: keep the file, try again
            await self.tx.run(partial(self._release, submission_id=submission_id, exc=exc))
            raise
        return True

    async def refresh_gauges(self) -> None:
        counts = await self.tx.read(lambda repos: repos.submissions_by_state())
        for state in S:
            SUBMISSIONS.labels(state.value).set(counts.get(state.value, 0))

    # -- claiming ----------------------------------------------------------------------

    def _claim(self, uow: Uow, owner: str) -> str | None:
        now = real_now()
        return uow.repos.claim_submission(owner, now, stale=now - self.settings.lease)

    def _release(self, uow: Uow, submission_id: str, exc: Exception) -> None:
        row = uow.repos.submission(submission_id)
        if row is None:
            return
        row.claimed_by = None
        row.attempts += 1
        row.last_error = (
            f"{type(exc).__name__}: {exc}"[:500]
            if not isinstance(exc, KafkaUnavailable)
            else str(exc)
        )
        row.updated_at = uow.now
        uow.repos.add(row)

    async def _finish(
        self, submission_id: str, state: SubmissionState, *, detail: str | None = None
    ) -> None:
        def finish(uow: Uow) -> str | None:
            row = uow.repos.submission(submission_id)
            if row is None:
                return None
            row.state = move(S(row.state), state).value
            row.finished_at = row.updated_at = uow.now
            row.claimed_by = None
            if detail is not None:
                row.detail = detail
            uow.repos.add(row)
            self._report(uow, row, force=True)
            return row.file_path

        path = await self.tx.run(finish)
        SUBMISSION_TRANSITIONS.labels(state.value).inc()
        if path and state is not S.FAILED:
            await asyncio.to_thread(Path(path).unlink, missing_ok=True)  # no longer needed

    async def _set_state(self, submission_id: str, state: SubmissionState) -> None:
        def change(uow: Uow) -> None:
            row = uow.repos.submission(submission_id)
            assert row is not None
            if row.state != state.value:
                row.state = move(S(row.state), state).value
                row.updated_at = uow.now
                uow.repos.add(row)
                self._report(uow, row, force=True)

        await self.tx.run(change)
        SUBMISSION_TRANSITIONS.labels(state.value).inc()

    def _report(self, uow: Uow, row: SubmissionRow, *, force: bool = False) -> None:
        """Stage the file's progress on ops.job.v1 for the console: at every change of
        state, and at most every ``REPORT_EVERY`` seconds in between."""
        clock = time.monotonic()
        if force or clock - self._reported.get(row.submission_id, 0.0) >= REPORT_EVERY:
            uow.publish(OPS_JOB, file_progress(row, uow.now))
            self._reported[row.submission_id] = clock
        if S(row.state).finished:
            self._reported.pop(row.submission_id, None)

    # -- processing --------------------------------------------------------------------

    async def process(self, submission_id: str, owner: str, stop: asyncio.Event) -> None:
        row = await self.tx.run(lambda uow: uow.repos.submission(submission_id))
        assert row is not None
        kind = SignalKind(row.kind)
        codec = "utf-8-sig" if row.encoding == "utf-8" else row.encoding
        path = Path(row.file_path)
        cells = await asyncio.to_thread(csv_files.read_header, path, codec)
        header = parse_header(kind, cells or [])
        state = S(row.state)
        if Mode(row.mode) is Mode.ALL_OR_NOTHING and state in (S.RECEIVED, S.VALIDATING):
            await self._set_state(submission_id, S.VALIDATING)
            if not await self._validate_all(row, header, codec, owner, stop):
                return
            state = S.VALIDATING
        if state is not S.PROCESSING:
            await self._set_state(submission_id, S.PROCESSING)
        log.info("file processing", submission_id=submission_id, resume_after_line=row.cursor_line)
        # Chunks are read and checked in the worker processes a few ahead, while the oldest
        # is published; publication keeps the file's order.
        chunks = await FileChunks.open(
            self.pool,
            path,
            codec,
            header,
            kind,
            row.partner_id,
            row.cursor_line,
            rows=self.settings.chunk_rows,
            ahead=self.settings.chunks_ahead,
            now=self.runtime.clock.now,
        )
        try:
            while not stop.is_set():
                started = time.perf_counter()
                chunk = await chunks.next()
                if chunk is None:
                    break
                if chunk.rows == 0:
                    continue  # every record of it was committed before a restart
                await self._pace(row, len(chunk.prepared), stop)
                if stop.is_set():
                    return
                rejected_before = len(chunk.errors)

                def on_commit(
                    uow: Uow,
                    result: ChunkResult,
                    chunk: Chunk = chunk,
                    started: float = started,
                ) -> None:
                    self._advance(uow, submission_id, owner, chunk, result, started)

                result = await self.publisher.publish(
                    row.partner_id,
                    submission_id,
                    chunk.prepared,
                    keep_payload=False,
                    on_commit=on_commit,
                    key_hashes=chunk.key_hashes,
                )
                FILE_ROWS.labels(kind.value).inc(chunk.rows)
                elapsed = time.perf_counter() - started
                if chunk.rows and elapsed > 0:
                    FILE_ROWS_PER_SECOND.set(chunk.rows / elapsed)
                SIGNALS.labels(kind.value, row.partner_id, "file", "accepted").inc(
                    len(result.accepted)
                )
                SIGNALS.labels(kind.value, row.partner_id, "file", "duplicate").inc(
                    len(result.duplicates)
                )
                SIGNALS.labels(kind.value, row.partner_id, "file", "rejected").inc(
                    rejected_before + len(result.rejected)
                )
        finally:
            await chunks.close()
        if not stop.is_set():
            await self._finish(submission_id, S.COMPLETED)
            done = await self.tx.run(lambda uow: uow.repos.submission(submission_id))
            if done is not None:
                log.info(
                    "file completed",
                    submission_id=submission_id,
                    rows=done.rows,
                    accepted=done.accepted,
                    duplicates=done.duplicates,
                    rejected=done.rejected,
                    seconds=round(done.processing_seconds, 2),
                )

    async def _pace(self, row: SubmissionRow, records: int, stop: asyncio.Event) -> None:
        """Wait until the partner's rate limit has room for ``records`` records."""
        remaining = records
        while remaining > 0 and not stop.is_set():
            took, wait = self.limiter.pace(
                row.partner_id, row.rate_limit_per_minute, remaining, time.monotonic()
            )
            remaining -= took
            if took == 0:
                FILE_PACED_SECONDS.inc(wait)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=max(wait, 0.05))

    def _advance(
        self,
        uow: Uow,
        submission_id: str,
        owner: str,
        chunk: Chunk,
        result: ChunkResult,
        started: float,
    ) -> None:
        row = uow.repos.submission(submission_id)
        assert row is not None
        if row.claimed_by != owner:
            raise RuntimeError("the submission was claimed by another worker")
        errors = sorted(chunk.errors + result.rejected, key=lambda e: e.line)
        errors = [e if e.row is None else replace(e, row=e.row + chunk.first_row) for e in errors]
        row.rows += chunk.rows
        row.accepted += len(result.accepted)
        row.published += len(result.accepted)
        row.duplicates += len(result.duplicates)
        row.rejected += len(errors)
        row.cursor_line = max(row.cursor_line, chunk.last_line)
        self._add_errors(row, errors)
        row.processing_seconds += time.perf_counter() - started
        row.updated_at = uow.now
        row.claimed_at = real_now()
        uow.repos.add(row)
        self._report(uow, row)

    def _add_errors(self, row: SubmissionRow, errors: list[RecordError]) -> None:
        room = self.settings.max_reported_errors - len(row.errors)
        if errors and room > 0:
            row.errors = [*row.errors, *(e.as_problem() for e in errors[:room])]
        if len(errors) > max(room, 0):
            row.errors_truncated = True

    async def _validate_all(
        self, row: SubmissionRow, header: Header, codec: str, owner: str, stop: asyncio.Event
    ) -> bool:
        """all_or_nothing: check every row first; refuse the file if any is invalid.

        Returns True when the file may be published.
        """
        kind = SignalKind(row.kind)
        started = time.perf_counter()

        rows, rejected, kept = await asyncio.to_thread(
            scan_all,
            self.tx,
            row,
            header,
            codec,
            stop,
            self.runtime.clock.now(),
            max_errors=self.settings.max_reported_errors,
            batch_rows=self.settings.chunk_rows,
        )
        if stop.is_set():
            return False
        if rejected == 0:
            return True
        took = time.perf_counter() - started
        await self.tx.run(
            lambda uow: refuse_file(uow, row.submission_id, rows, rejected, kept, took)
        )
        await self._finish(row.submission_id, S.REJECTED)
        SIGNALS.labels(kind.value, row.partner_id, "file", "rejected").inc(rows)
        log.info("file refused", submission_id=row.submission_id, rows=rows, rejected=rejected)
        return False
