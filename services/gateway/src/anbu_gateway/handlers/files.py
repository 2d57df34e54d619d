"""CSV files: receive and check an upload, then publish it in chunks in the background.

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
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from anbu_contracts import SignalKind
from anbu_runtime.logs import get_logger
from anbu_runtime.service import ServiceRuntime

from ..adapters import csv_files
from ..adapters import submission_log as log_repo
from ..adapters.csv_files import StoredFile, Undecodable
from ..adapters.orm import SubmissionRow
from ..adapters.registry_client import PartnerKey
from ..adapters.validation_pool import ValidationPool
from ..domain.csv_columns import Header, HeaderError, parse_header
from ..domain.encoding import public_name
from ..domain.file_rows import Record, check_record, check_rows
from ..domain.prepared import Prepared
from ..domain.rate_limit import RateLimiter
from ..domain.records import Candidate, Mode, RecordError, reused_id
from ..domain.submissions import SubmissionState, move
from ..metrics import (
    FILE_PACED_SECONDS,
    FILE_ROWS,
    FILE_ROWS_PER_SECOND,
    SIGNALS,
    SUBMISSION_TRANSITIONS,
    SUBMISSIONS,
)
from .publishing import ChunkResult, KafkaUnavailable, Publisher, real_now

log = get_logger(__name__)

S = SubmissionState
_table: Any = SubmissionRow.__table__  # type: ignore[attr-defined]
ACTIVE = (S.RECEIVED.value, S.VALIDATING.value, S.PROCESSING.value)
IDLE_WAIT = 2.0  # seconds an idle file worker waits for an upload before it looks again


class FileRefused(Exception):
    """The file cannot be read as a whole: refused at once, nothing stored."""

    def __init__(self, type_: str, title: str, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.type = type_
        self.title = title
        self.detail = detail
        self.extensions = extensions


@dataclass(frozen=True)
class FileSettings:
    upload_dir: Path
    chunk_rows: int = 10_000
    chunks_ahead: int = 3  # read and checked while the current one is published
    max_reported_errors: int = 1000
    lease: timedelta = timedelta(seconds=60)


def new_submission_id() -> str:
    return "SUB-" + uuid.uuid4().hex[:20].upper()


class FileIntake:
    """The upload side: dedupe, check and register a stored file."""

    def __init__(self, runtime: ServiceRuntime, settings: FileSettings) -> None:
        self.runtime = runtime
        self.settings = settings

    def temp_path(self) -> Path:
        return self.settings.upload_dir / f"incoming-{uuid.uuid4().hex}.part"

    async def register(
        self,
        key: PartnerKey,
        kind: SignalKind,
        mode: Mode,
        codec: str | None,
        stored: StoredFile,
    ) -> tuple[SubmissionRow, bool]:
        """The submission for ``stored`` and whether it is new.

        The same bytes sent again by the same partner for the same kind and mode are the
        same submission (a failed one is resumed). Raises :class:`FileRefused`.
        """
        previous = await self.runtime.db.run(lambda s: _find(s, key.partner_id, kind, mode, stored))
        if previous is not None:
            stored.path.unlink(missing_ok=True)
            if previous.state == S.FAILED.value:
                previous = await self.runtime.db.run(
                    partial(_resume, submission_id=previous.submission_id)
                )
            return previous, False
        try:
            check = await asyncio.to_thread(csv_files.check_encoding, stored.path, codec)
            cells = await asyncio.to_thread(csv_files.read_header, stored.path, check.codec)
            if not cells:
                raise FileRefused("empty-file", "The file is empty", "the file has no header line")
            try:
                parse_header(kind, cells)
            except HeaderError as exc:
                raise FileRefused(
                    "invalid-header", "The header does not fit", str(exc), line=1
                ) from exc
            if check.lines < 2:
                raise FileRefused("empty-file", "The file is empty", "the file has no data rows")
        except Undecodable as exc:
            stored.path.unlink(missing_ok=True)
            raise FileRefused(
                "undecodable-file",
                "The file cannot be decoded",
                exc.detail,
                line=exc.line,
                encoding=public_name(exc.codec),
            ) from exc
        except FileRefused:
            stored.path.unlink(missing_ok=True)
            raise
        submission_id = new_submission_id()
        final = self.settings.upload_dir / f"{submission_id}.csv"
        stored.path.rename(final)
        now = self.runtime.clock.now()
        row = SubmissionRow(
            submission_id=submission_id,
            partner_id=key.partner_id,
            kind=kind.value,
            mode=mode.value,
            encoding=check.name,
            encoding_detected=check.detected,
            file_sha256=stored.sha256,
            file_bytes=stored.size,
            file_lines=check.lines,
            file_path=str(final),
            rate_limit_per_minute=key.rate_limit_per_minute,
            state=S.RECEIVED.value,
            created_at=now,
            updated_at=now,
        )

        def insert(session: Session) -> SubmissionRow:
            session.add(row)
            session.flush()
            return row

        try:
            created = await self.runtime.db.run(insert)
        except IntegrityError:  # the same file arrived twice at once: one submission wins
            final.unlink(missing_ok=True)
            again = await self.runtime.db.run(
                lambda s: _find(s, key.partner_id, kind, mode, stored)
            )
            if again is None:
                raise
            return again, False
        SUBMISSION_TRANSITIONS.labels(S.RECEIVED.value).inc()
        log.info(
            "file received",
            submission_id=submission_id,
            partner=key.partner_id,
            kind=kind.value,
            mode=mode.value,
            bytes=stored.size,
            lines=check.lines,
            encoding=check.name,
        )
        return created, True


def _find(
    session: Session, partner_id: str, kind: SignalKind, mode: Mode, stored: StoredFile
) -> SubmissionRow | None:
    found = session.execute(
        select(_table.c.submission_id).where(
            _table.c.partner_id == partner_id,
            _table.c.kind == kind.value,
            _table.c.mode == mode.value,
            _table.c.file_sha256 == stored.sha256,
        )
    ).scalar_one_or_none()
    return None if found is None else session.get(SubmissionRow, found)


def _resume(session: Session, submission_id: str) -> SubmissionRow:
    row = session.get(SubmissionRow, submission_id)
    assert row is not None
    row.state = move(S(row.state), S.RECEIVED).value
    row.attempts = 0
    row.last_error = None
    row.claimed_by = None
    session.add(row)
    return row


def release_claims(session: Session, instance: str) -> int:
    """Release the claims an earlier run of this instance left (called before workers start)."""
    result: Any = session.execute(
        update(_table)
        .where(_table.c.claimed_by.like(f"{instance}/%"))
        .where(_table.c.state.in_(ACTIVE))
        .values(claimed_by=None)
    )
    return int(result.rowcount or 0)


def get(session: Session, submission_id: str) -> SubmissionRow | None:
    return session.get(SubmissionRow, submission_id)


@dataclass
class Chunk:
    prepared: list[Prepared]
    errors: list[RecordError]
    rows: int
    last_line: int
    exhausted: bool


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
        self.limiter = limiter
        self.settings = settings
        self.pool = pool
        self.wake = asyncio.Event()

    async def run_once(self, owner: str, stop: asyncio.Event) -> bool:
        """Claim and process one submission (a job's round); False when none was waiting.

        Idle, it waits for an upload's wake-up (at most ``IDLE_WAIT`` seconds) before it
        returns, so a new file starts at once. A Kafka or database failure releases the
        claim (the file is kept and resumed) and is raised for the job to count and pause.
        """
        submission_id = await self.runtime.db.run(lambda s: self._claim(s, owner))
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
            await self.runtime.db.run(partial(self._release, submission_id=submission_id, exc=exc))
            raise
        return True

    async def refresh_gauges(self) -> None:
        def count(session: Session) -> dict[str, int]:
            counts = dict.fromkeys((s.value for s in S), 0)
            for state, n in session.execute(
                select(_table.c.state, func.count()).group_by(_table.c.state)
            ):
                counts[state] = n
            return counts

        for state, n in (await self.runtime.db.run(count)).items():
            SUBMISSIONS.labels(state).set(n)

    # -- claiming ----------------------------------------------------------------------

    def _claim(self, session: Session, owner: str) -> str | None:
        now = real_now()
        stale = now - self.settings.lease
        t = _table
        candidates = (
            session.execute(
                select(t.c.submission_id)
                .where(t.c.state.in_(ACTIVE))
                .where(or_(t.c.claimed_by.is_(None), t.c.claimed_at < stale))
                .order_by(t.c.created_at)
                .limit(5)
            )
            .scalars()
            .all()
        )
        for submission_id in candidates:
            result: Any = session.execute(
                update(t)
                .where(t.c.submission_id == submission_id)
                .where(or_(t.c.claimed_by.is_(None), t.c.claimed_at < stale))
                .values(claimed_by=owner, claimed_at=now)
            )
            if result.rowcount == 1:
                return str(submission_id)
        return None

    def _release(self, session: Session, submission_id: str, exc: Exception) -> None:
        row = session.get(SubmissionRow, submission_id)
        if row is None:
            return
        row.claimed_by = None
        row.attempts += 1
        row.last_error = (
            f"{type(exc).__name__}: {exc}"[:500]
            if not isinstance(exc, KafkaUnavailable)
            else str(exc)
        )
        row.updated_at = self.runtime.clock.now()
        session.add(row)

    async def _finish(
        self, submission_id: str, state: SubmissionState, *, detail: str | None = None
    ) -> None:
        def finish(session: Session) -> str | None:
            row = session.get(SubmissionRow, submission_id)
            if row is None:
                return None
            row.state = move(S(row.state), state).value
            row.finished_at = row.updated_at = self.runtime.clock.now()
            row.claimed_by = None
            if detail is not None:
                row.detail = detail
            session.add(row)
            return row.file_path

        path = await self.runtime.db.run(finish)
        SUBMISSION_TRANSITIONS.labels(state.value).inc()
        if path and state is not S.FAILED:
            await asyncio.to_thread(Path(path).unlink, missing_ok=True)  # no longer needed

    async def _set_state(self, submission_id: str, state: SubmissionState) -> None:
        def change(session: Session) -> None:
            row = session.get(SubmissionRow, submission_id)
            assert row is not None
            if row.state != state.value:
                row.state = move(S(row.state), state).value
                row.updated_at = self.runtime.clock.now()
                session.add(row)

        await self.runtime.db.run(change)
        SUBMISSION_TRANSITIONS.labels(state.value).inc()

    # -- processing --------------------------------------------------------------------

    async def process(self, submission_id: str, owner: str, stop: asyncio.Event) -> None:
        row = await self.runtime.db.run(lambda s: get(s, submission_id))
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
        records = csv_files.records(path, codec)
        # Chunks are read (in a thread, one after the other: the lock is first come, first
        # served) and checked (in a worker process) a few ahead, while the oldest is
        # published; publication keeps the file's order.
        reading = asyncio.Lock()
        ahead: deque[asyncio.Task[Chunk]] = deque()
        exhausted = False

        def read_ahead() -> None:
            while not exhausted and len(ahead) < self.settings.chunks_ahead:
                ahead.append(
                    asyncio.create_task(
                        self._next_chunk(
                            records, reading, header, kind, row.partner_id, row.cursor_line
                        )
                    )
                )

        read_ahead()
        try:
            while ahead and not stop.is_set():
                started = time.perf_counter()
                chunk = await ahead.popleft()
                exhausted = exhausted or chunk.exhausted
                read_ahead()
                if chunk.rows == 0:
                    continue  # read after the end of the file
                await self._pace(row, len(chunk.prepared), stop)
                if stop.is_set():
                    return
                rejected_before = len(chunk.errors)

                def on_commit(
                    session: Session,
                    result: ChunkResult,
                    chunk: Chunk = chunk,
                    started: float = started,
                ) -> None:
                    self._advance(session, submission_id, owner, chunk, result, started)

                result = await self.publisher.publish(
                    row.partner_id,
                    submission_id,
                    chunk.prepared,
                    keep_payload=False,
                    on_commit=on_commit,
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
            for task in ahead:
                with contextlib.suppress(Exception):
                    await task  # the reading thread must finish before the file closes
            records.close()
        if not stop.is_set():
            await self._finish(submission_id, S.COMPLETED)
            done = await self.runtime.db.run(lambda s: get(s, submission_id))
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

    async def _next_chunk(
        self,
        records: Iterator[Record],
        reading: asyncio.Lock,
        header: Header,
        kind: SignalKind,
        partner_id: str,
        after_line: int,
    ) -> Chunk:
        """Read the next chunk of records after ``after_line`` and check it (off the loop)."""
        async with reading:
            rows, exhausted = await asyncio.to_thread(
                _take, records, after_line, self.settings.chunk_rows
            )
        prepared, errors = await self.pool.run(
            check_rows, rows, header, kind, partner_id, self.runtime.clock.now()
        )
        last_line = rows[-1].line if rows else after_line
        return Chunk(prepared, errors, len(rows), last_line, exhausted)

    def _advance(
        self,
        session: Session,
        submission_id: str,
        owner: str,
        chunk: Chunk,
        result: ChunkResult,
        started: float,
    ) -> None:
        row = session.get(SubmissionRow, submission_id)
        assert row is not None
        if row.claimed_by != owner:
            raise RuntimeError("the submission was claimed by another worker")
        errors = sorted(chunk.errors + result.rejected, key=lambda e: e.line)
        row.rows += chunk.rows
        row.accepted += len(result.accepted)
        row.published += len(result.accepted)
        row.duplicates += len(result.duplicates)
        row.rejected += len(errors)
        row.cursor_line = max(row.cursor_line, chunk.last_line)
        self._add_errors(row, errors)
        row.processing_seconds += time.perf_counter() - started
        row.updated_at = self.runtime.clock.now()
        row.claimed_at = real_now()
        session.add(row)

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

        def scan() -> tuple[int, int, list[RecordError]]:
            now = self.runtime.clock.now()
            rows = 0
            rejected = 0
            kept: list[RecordError] = []
            seen: dict[str, tuple[str, int]] = {}
            window = 50_000  # ids reused inside the file: checked within this many rows
            batch: list[Candidate] = []

            def refuse(error: RecordError) -> None:
                nonlocal rejected
                rejected += 1
                if len(kept) < self.settings.max_reported_errors:
                    kept.append(error)

            def check_log() -> None:
                # ids this partner used before (another submission) for other content
                with self.runtime.db.session() as session:
                    known = log_repo.existing(
                        session, row.partner_id, [c.partner_event_id for c in batch]
                    )
                for c in batch:
                    entry = known.get(c.partner_event_id)
                    if entry is not None and entry.digest != c.digest:
                        refuse(reused_id(c))
                batch.clear()

            for record in csv_files.records(Path(row.file_path), codec):
                if stop.is_set():
                    break
                rows += 1
                outcome = check_record(record, header, kind, row.partner_id, now)
                if isinstance(outcome, RecordError):
                    refuse(outcome)
                    continue
                first = seen.get(outcome.partner_event_id)
                if first is not None and first[0] != outcome.digest:
                    refuse(reused_id(outcome, first[1]))
                    continue
                if len(seen) >= window:
                    seen.clear()
                seen.setdefault(outcome.partner_event_id, (outcome.digest, outcome.line))
                batch.append(outcome)
                if len(batch) >= self.settings.chunk_rows:
                    check_log()
            if batch:
                check_log()
            kept.sort(key=lambda e: e.line)
            return rows, rejected, kept

        rows, rejected, kept = await asyncio.to_thread(scan)
        if stop.is_set():
            return False
        if rejected == 0:
            return True

        def refuse(session: Session) -> None:
            current = session.get(SubmissionRow, row.submission_id)
            assert current is not None
            current.rows = rows
            current.rejected = rejected
            current.errors = [e.as_problem() for e in kept]
            current.errors_truncated = rejected > len(kept)
            current.detail = (
                f"{rejected} of {rows} rows are invalid; mode all_or_nothing: nothing was published"
            )
            current.processing_seconds += time.perf_counter() - started
            session.add(current)

        await self.runtime.db.run(refuse)
        await self._finish(row.submission_id, S.REJECTED)
        SIGNALS.labels(kind.value, row.partner_id, "file", "rejected").inc(rows)
        log.info("file refused", submission_id=row.submission_id, rows=rows, rejected=rejected)
        return False


def _take(records: Iterator[Record], after_line: int, limit: int) -> tuple[list[Record], bool]:
    """Up to ``limit`` records after ``after_line`` and whether the file is exhausted."""
    taken: list[Record] = []
    for record in records:
        if record.line <= after_line:
            continue  # committed before a restart
        taken.append(record)
        if len(taken) >= limit:
            return taken, False
    return taken, True
