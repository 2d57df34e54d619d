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
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from anbu_contracts import SignalKind
from anbu_runtime.logs import get_logger
from anbu_runtime.uow import Transactions

from ..adapters import csv_files
from ..adapters.csv_files import StoredFile, Undecodable
from ..adapters.orm import SubmissionRow
from ..adapters.registry_client import PartnerKey
from ..adapters.repository import GatewayRepository, Uow
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
    chunk_rows: int = 5_000  # in flight per chunk: ~12 MiB in a worker, ~4 MiB here
    chunks_ahead: int = 3  # read and checked while the current one is published
    max_reported_errors: int = 1000
    lease: timedelta = timedelta(seconds=60)


def new_submission_id() -> str:
    return "SUB-" + uuid.uuid4().hex[:20].upper()


class FileIntake:
    """The upload side: dedupe, check and register a stored file."""

    def __init__(self, tx: Transactions[GatewayRepository], settings: FileSettings) -> None:
        self.tx = tx
        self.settings = settings

    async def submission(self, submission_id: str) -> SubmissionRow | None:
        return await self.tx.run(lambda uow: uow.repos.submission(submission_id))

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

        def find(uow: Uow) -> SubmissionRow | None:
            return uow.repos.find_submission(key.partner_id, kind, mode, stored)

        previous = await self.tx.run(find)
        if previous is not None:
            stored.path.unlink(missing_ok=True)
            if previous.state == S.FAILED.value:
                submission_id = previous.submission_id
                previous = await self.tx.run(lambda uow: _resume(uow, submission_id))
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
        now = self.tx.clock.now()
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

        try:
            created = await self.tx.run(lambda uow: uow.repos.insert_submission(row))
        except IntegrityError:  # the same file arrived twice at once: one submission wins
            final.unlink(missing_ok=True)
            again = await self.tx.run(find)
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


def _resume(uow: Uow, submission_id: str) -> SubmissionRow:
    row = uow.repos.submission(submission_id)
    assert row is not None
    row.state = move(S(row.state), S.RECEIVED).value
    row.attempts = 0
    row.last_error = None
    row.claimed_by = None
    uow.repos.add(row)
    return row
