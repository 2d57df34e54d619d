"""Receiving a CSV file: dedupe by content, check encoding and header, register it.

The upload is stored and checked (encoding from first byte to last, header, not empty)
before the partner gets its answer, so a file that cannot be read at all is refused at
once; the file workers (``file_worker.py``) publish it in the background.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from anbu_contracts import SignalKind
from anbu_runtime.logs import get_logger
from anbu_runtime.service import ServiceRuntime

from ..adapters import csv_files, submissions
from ..adapters.csv_files import StoredFile, Undecodable
from ..adapters.orm import SubmissionRow
from ..adapters.registry_client import PartnerKey
from ..domain.csv_columns import HeaderError, parse_header
from ..domain.encoding import public_name
from ..domain.records import Mode
from ..domain.submissions import SubmissionState, move
from ..metrics import (
    SUBMISSION_TRANSITIONS,
)

log = get_logger(__name__)

S = SubmissionState


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
        previous = await self.runtime.db.run(
            lambda s: submissions.find(s, key.partner_id, kind, mode, stored)
        )
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
                lambda s: submissions.find(s, key.partner_id, kind, mode, stored)
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


def _resume(session: Session, submission_id: str) -> SubmissionRow:
    row = session.get(SubmissionRow, submission_id)
    assert row is not None
    row.state = move(S(row.state), S.RECEIVED).value
    row.attempts = 0
    row.last_error = None
    row.claimed_by = None
    session.add(row)
    return row
