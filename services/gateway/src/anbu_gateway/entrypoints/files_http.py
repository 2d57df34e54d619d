"""The partners' file API: upload a CSV file of one kind; follow its submission.

The upload is stored and checked before the answer; the rows are published in the
background and the submission's status shows the progress (rows, published, rate, ETA).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from anbu_contracts import SignalKind
from anbu_runtime.problems import Problem

from ..adapters import csv_files
from ..adapters.orm import SubmissionRow
from ..adapters.registry_client import PartnerKey
from ..domain.encoding import UnsupportedEncoding, declared
from ..domain.records import Mode
from ..domain.submissions import SubmissionState as S
from ..domain.submissions import pace
from ..handlers.file_intake import FileIntake, FileRefused
from ..handlers.file_worker import FileWorker
from .ingest_common import (
    CSV_TYPES,
    media_type,
    partner_dependency,
    too_large,
)
from .partners import PartnerGate

_READ = 1 << 20


class SubmissionView(BaseModel):
    submission_id: str
    kind: SignalKind
    mode: Mode
    state: str = Field(description="received, validating, processing, completed, rejected, failed")
    encoding: str
    encoding_detected: bool
    file_bytes: int
    file_lines: int
    progress: float = Field(description="Share of the file's lines processed (0 to 1).")
    rows: int
    accepted: int
    duplicates: int
    rejected: int
    published: int
    rows_per_second: float | None
    eta_seconds: float | None = Field(
        description="Estimated seconds until every row is processed, at the rate so far "
        "(null before the first chunk is done and once the file is finished)."
    )
    rejected_rows: list[dict[str, Any]] = Field(
        description="Refused rows as RFC 9457 problem objects with line and row (capped)."
    )
    rejected_rows_truncated: bool
    detail: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: SubmissionRow) -> SubmissionView:
        done = pace(S(row.state), row.file_lines, row.cursor_line, row.rows, row.processing_seconds)
        return cls(
            submission_id=row.submission_id,
            kind=SignalKind(row.kind),
            mode=Mode(row.mode),
            state=row.state,
            encoding=row.encoding,
            encoding_detected=row.encoding_detected,
            file_bytes=row.file_bytes,
            file_lines=row.file_lines,
            progress=done.share,
            rows=row.rows,
            accepted=row.accepted,
            duplicates=row.duplicates,
            rejected=row.rejected,
            published=row.published,
            rows_per_second=done.rows_per_second,
            eta_seconds=done.eta_seconds,
            rejected_rows=row.errors,
            rejected_rows_truncated=row.errors_truncated,
            detail=row.detail,
            last_error=row.last_error,
            created_at=row.created_at,
            updated_at=row.updated_at,
            finished_at=row.finished_at,
        )


def router(
    gate: PartnerGate,
    intake: FileIntake,
    worker: FileWorker,
    *,
    file_max_bytes: int,
) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["ingest"])
    partner = partner_dependency(gate)

    @api.post(
        "/files",
        status_code=202,
        response_model=SubmissionView,
        summary="Upload a CSV file of one signal kind; processed in the background",
        description=(
            "The file (raw `text/csv` body, or multipart field `file`) is stored and checked "
            "(encoding, header) before the answer: an unreadable file is refused at once "
            "with a 422 problem naming the line. The answer is 202 with the submission "
            "(Location: its status); `wait` (seconds) holds the answer until it finished. "
            "The same bytes sent again return the existing submission (200)."
        ),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {"file": {"type": "string", "format": "binary"}},
                            "required": ["file"],
                        }
                    },
                },
            }
        },
        responses={
            200: {"model": SubmissionView, "description": "Sent before: the same submission."},
            401: {"description": "Missing or invalid key (problem)."},
            403: {"description": "Kind outside the key's scope (problem)."},
            413: {"description": "The file is too large (problem)."},
            415: {"description": "Not CSV."},
            422: {"description": "Undecodable, wrong header, empty, or rejected (problem)."},
            429: {"description": "Rate limit; see Retry-After (problem)."},
        },
    )
    async def upload_file(
        request: Request,
        kind: Annotated[SignalKind, Query(description="The signal kind of every row.")],
        mode: Annotated[Mode, Query(description="What a partly invalid file means.")] = (
            Mode.ALL_OR_NOTHING
        ),
        encoding: Annotated[
            str | None,
            Query(max_length=32, description="utf-8 (default, BOM or not) or euc-kr/cp949"),
        ] = None,
        wait: Annotated[
            int, Query(ge=0, le=120, description="Seconds to wait for the outcome.")
        ] = 0,
        key: PartnerKey = partner,
    ) -> Response:
        gate.require_kind(key, kind.value)
        gate.admit(key, 1)
        media, charset = media_type(request)
        try:
            codec = declared(encoding or charset)
        except UnsupportedEncoding as exc:
            raise Problem(
                422, "Unsupported encoding", str(exc), type_="unsupported-encoding"
            ) from exc
        if media == "multipart/form-data":
            chunks = _multipart_chunks(request)
        elif media in CSV_TYPES or media == "":
            chunks = _body_chunks(request)
        else:
            raise Problem(
                415,
                "Unsupported media type",
                "send the file as text/csv (raw body) or multipart/form-data (field 'file')",
                type_="unsupported-media-type",
            )
        try:
            stored = await csv_files.store(chunks, intake.temp_path(), file_max_bytes)
        except csv_files.TooLarge as exc:
            raise too_large(file_max_bytes) from exc
        except _NoFile as exc:
            raise Problem(
                422,
                "No file",
                f"the multipart body has no readable 'file' part: {exc}",
                type_="no-file",
            ) from exc
        try:
            row, created = await intake.register(key, kind, mode, codec, stored)
        except FileRefused as exc:
            raise Problem(
                422, exc.title, exc.detail, type_=exc.type, extensions=exc.extensions
            ) from exc
        worker.wake.set()
        if wait and not _finished(row):
            row = await _wait_for(intake, row.submission_id, wait) or row
        location = f"/v1/submissions/{row.submission_id}"
        view = SubmissionView.of(row)
        if row.state == "rejected" and wait:
            raise Problem(
                422,
                "File refused",
                row.detail or "the file was refused",
                type_="file-rejected",
                extensions={
                    "submission_id": row.submission_id,
                    "rows": row.rows,
                    "rejected": row.rejected,
                    "rejected_rows": row.errors,
                    "rejected_rows_truncated": row.errors_truncated,
                },
            )
        return JSONResponse(
            view.model_dump(mode="json"),
            status_code=202 if created else 200,
            headers={"Location": location},
        )

    @api.get(
        "/submissions/{submission_id}",
        response_model=SubmissionView,
        summary="A file submission's status: rows, accepted, duplicates, rejected, published",
        responses={404: {"description": "No such submission of this partner (problem)."}},
    )
    async def submission(
        submission_id: Annotated[str, Path(max_length=40)], key: PartnerKey = partner
    ) -> SubmissionView:
        row = await intake.submission(submission_id)
        if row is None or row.partner_id != key.partner_id:
            raise Problem(
                404, "Not found", f"submission {submission_id} not found", type_="not-found"
            )
        return SubmissionView.of(row)

    return api


def _finished(row: SubmissionRow) -> bool:
    return row.state in ("completed", "rejected", "failed")


async def _wait_for(intake: FileIntake, submission_id: str, seconds: int) -> SubmissionRow | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    row = None
    while loop.time() < deadline:
        row = await intake.submission(submission_id)
        if row is None or _finished(row):
            return row
        await asyncio.sleep(0.25)
    return row


class _NoFile(Exception):
    pass


async def _body_chunks(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        yield chunk


async def _multipart_chunks(request: Request) -> AsyncIterator[bytes]:
    try:
        form = await request.form(max_files=1, max_fields=10)
    except MultiPartException as exc:
        raise _NoFile(exc.message) from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise _NoFile("no part named 'file'")
        while True:
            chunk = await upload.read(_READ)
            if not chunk:
                break
            yield chunk
    finally:
        with contextlib.suppress(Exception):
            await form.close()
