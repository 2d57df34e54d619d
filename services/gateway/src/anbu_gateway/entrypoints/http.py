"""The partners' ingest API: one signal, an NDJSON batch, a CSV file; submission status.

Every answer that says "accepted" comes after Kafka acknowledged every accepted record
(acks=all); every refusal is an RFC 9457 problem naming each record's line and reasons.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from email.message import Message
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pydantic_core import to_json
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from anbu_contracts import SIGNAL_TOPICS, SignalKind
from anbu_runtime.problems import Problem
from anbu_runtime.service import ServiceRuntime

from ..adapters import csv_files
from ..adapters.orm import SubmissionRow
from ..adapters.registry_client import PartnerKey
from ..adapters.validation_pool import ValidationPool
from ..domain.batches import Parsed, count_records, parse_ndjson, validate_one
from ..domain.encoding import UnsupportedEncoding, declared
from ..domain.records import BatchReport, Mode, Outcome
from ..handlers import batches
from ..handlers.files import FileIntake, FileRefused, FileWorker, get
from ..handlers.publishing import KafkaUnavailable, Publisher
from .partners import PartnerGate, outside_scope

# NDJSON under its usual names; text/plain too, which many HTTP clients send by default.
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "text/plain")
CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream")
_READ = 1 << 20
_KINDS = frozenset(k.value for k in SignalKind)
ApiKey = Annotated[
    str | None,
    Header(alias="X-Api-Key", description="The partner's API key (issued by the registry)."),
]


class Accepted(BaseModel):
    event_id: str
    topic: str
    partition_key: str
    outcome: Outcome = Field(description="accepted (published now) or duplicate (sent before)")
    detail: str | None = None


class RecordResultView(BaseModel):
    line: int
    outcome: Outcome
    partner_event_id: str | None = None
    event_id: str | None = None
    detail: str | None = None


class BatchView(BaseModel):
    records: int = Field(description="Non-blank lines in the batch.")
    accepted: int = Field(description="Published now; Kafka acknowledged every one.")
    duplicates: int = Field(description="Sent before (same partner_event_id): not published again.")
    rejected: int
    results: list[RecordResultView] = Field(description="Every record's outcome, by line.")
    rejected_records: list[dict[str, Any]] = Field(
        description="Each refused record as an RFC 9457 problem object with its line."
    )


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
        lines = max(row.file_lines - 1, 1)
        progress = (
            1.0 if row.state in ("completed",) else min(max(row.cursor_line - 1, 0) / lines, 1.0)
        )
        rate = row.rows / row.processing_seconds if row.processing_seconds > 0 else None
        eta = (
            round(max(row.file_lines - max(row.cursor_line, 1), 0) / rate, 1)
            if rate and row.state in ("validating", "processing")
            else None
        )
        return cls(
            submission_id=row.submission_id,
            kind=SignalKind(row.kind),
            mode=Mode(row.mode),
            state=row.state,
            encoding=row.encoding,
            encoding_detected=row.encoding_detected,
            file_bytes=row.file_bytes,
            file_lines=row.file_lines,
            progress=round(progress, 4),
            rows=row.rows,
            accepted=row.accepted,
            duplicates=row.duplicates,
            rejected=row.rejected,
            published=row.published,
            rows_per_second=round(rate, 1) if rate else None,
            eta_seconds=eta,
            rejected_rows=row.errors,
            rejected_rows_truncated=row.errors_truncated,
            detail=row.detail,
            last_error=row.last_error,
            created_at=row.created_at,
            updated_at=row.updated_at,
            finished_at=row.finished_at,
        )


def _report_view(report: BatchReport) -> Response:
    """The batch answer (a :class:`BatchView`) serialised straight from plain data.

    A batch answer lists every record; building a pydantic model per record and validating
    the answer again cost a tenth of the gateway's CPU per batch (docs/performance.md).
    """
    body = {
        "records": report.records,
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "rejected": report.rejected,
        "results": [
            {
                "line": r.line,
                "outcome": r.outcome.value,
                "partner_event_id": r.partner_event_id,
                "event_id": r.event_id,
                "detail": r.detail,
            }
            for r in report.results
        ],
        "rejected_records": [e.as_problem() for e in report.errors],
    }
    return Response(to_json(body), status_code=202, media_type="application/json")


def _invalid_problem(records: int, errors: list[Any], detail: str) -> Problem:
    return Problem(
        422,
        "Records do not match their contracts",
        detail,
        type_="invalid-batch",
        extensions={
            "records": records,
            "rejected": len(errors),
            "rejected_records": [e.as_problem() for e in errors],
        },
    )


def _kafka_problem(exc: Exception) -> Problem:
    return Problem(
        503,
        "Service unavailable",
        f"{exc}; nothing was confirmed: send the same records again (resends are idempotent)",
        type_="kafka-unavailable",
        headers={"Retry-After": "5"},
    )


def _media_type(request: Request) -> tuple[str, str | None]:
    raw = request.headers.get("content-type", "")
    message = Message()
    message["content-type"] = raw
    return message.get_content_type().lower(), message.get_param("charset")  # type: ignore[return-value]


async def _read_limited(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise _too_large(limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


def _too_large(limit: int) -> Problem:
    return Problem(
        413,
        "Content too large",
        f"the body is larger than {limit} bytes",
        type_="too-large",
        extensions={"limit_bytes": limit},
    )


def router(
    runtime: ServiceRuntime,
    gate: PartnerGate,
    publisher: Publisher,
    intake: FileIntake,
    worker: FileWorker,
    pool: ValidationPool,
    *,
    batch_max_lines: int,
    batch_max_bytes: int,
    file_max_bytes: int,
) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["ingest"])

    async def authenticate(x_api_key: ApiKey = None) -> PartnerKey:
        return await gate.authenticate(x_api_key)

    # A dependency, so the key is checked before the body or the query is looked at: an
    # anonymous caller learns nothing of the contracts from validation errors. (A default
    # value, not an ``Annotated`` alias: the alias would be a local name that the postponed
    # annotations cannot resolve.)
    partner = Depends(authenticate)

    @api.post(
        "/signals",
        status_code=202,
        response_model=Accepted,
        summary="Submit one signal; answered after the broker acknowledged it (acks=all)",
        responses={
            200: {"model": Accepted, "description": "Sent before: not published again."},
            401: {"description": "Missing or invalid key (problem)."},
            403: {"description": "Kind outside the key's scope (problem)."},
            409: {"description": "partner_event_id reused for other content (problem)."},
            422: {"description": "The signal does not match its contract (problem)."},
            429: {"description": "Rate limit; see Retry-After (problem)."},
            503: {"description": "Kafka or the registry unavailable: send it again (problem)."},
        },
    )
    async def submit(
        body: Annotated[
            dict[str, Any], Body(description="A signal of any kind; see contracts/schemas.")
        ],
        response: Response,
        key: PartnerKey = partner,
    ) -> Accepted:
        gate.admit(key, 1)
        parsed = Parsed()
        validate_one(body, 1, key.partner_id, runtime.clock.now(), parsed)
        kind = body.get("kind")
        if isinstance(kind, str) and kind in _KINDS:
            gate.require_kind(key, kind)
        if parsed.errors:
            error = parsed.errors[0]
            if error.type == "wrong-partner":
                raise Problem(403, "Forbidden", error.reason, type_="wrong-partner")
            raise Problem(
                422,
                "Signal does not match its contract",
                error.reason,
                type_="invalid-signal",
                extensions={"errors": [e.as_dict() for e in error.errors]},
            )
        try:
            report = await batches.ingest(
                publisher, key.partner_id, key.allowed_kinds, parsed, Mode.ALL_OR_NOTHING, "single"
            )
        except batches.OutsideScope as exc:
            raise outside_scope(key, exc.kinds) from exc
        except batches.BatchRefused as exc:
            error = exc.errors[0]
            raise Problem(409, "Conflict", error.reason, type_=error.type) from exc
        except KafkaUnavailable as exc:
            raise _kafka_problem(exc) from exc
        [result] = report.results
        record = parsed.candidates[0]
        if result.outcome is Outcome.DUPLICATE:
            response.status_code = 200
        elif result.outcome is Outcome.REJECTED:
            raise Problem(409, "Conflict", result.detail, type_="reused-partner-event-id")
        return Accepted(
            event_id=record.event_id,
            topic=SIGNAL_TOPICS[SignalKind(record.kind)].name,
            partition_key=record.household_id,
            outcome=result.outcome,
            detail=result.detail,
        )

    @api.post(
        "/batches",
        status_code=202,
        response_model=BatchView,
        summary="Submit an NDJSON batch (one signal per line); answered after every ack",
        description=(
            "`mode=all_or_nothing` (default): one invalid line refuses the batch with a 422 "
            "problem listing every invalid line, and nothing is published. "
            "`mode=accept_valid`: valid lines are published and the answer lists the refused "
            "ones as problem objects. A batch costs one rate-limit token per non-blank line."
        ),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-ndjson": {"schema": {"type": "string"}},
                    "text/plain": {"schema": {"type": "string"}},
                },
            }
        },
        responses={
            401: {"description": "Missing or invalid key (problem)."},
            403: {"description": "A kind outside the key's scope (problem, with lines)."},
            413: {"description": "Too many lines or bytes, or more records than the rate limit."},
            415: {"description": "Not NDJSON."},
            422: {"description": "all_or_nothing and some lines invalid (problem, per line)."},
            429: {"description": "Rate limit; see Retry-After (problem)."},
            503: {"description": "Kafka or the registry unavailable: send it again (problem)."},
        },
    )
    async def submit_batch(
        request: Request,
        mode: Annotated[Mode, Query(description="What a partly invalid batch means.")] = (
            Mode.ALL_OR_NOTHING
        ),
        key: PartnerKey = partner,
    ) -> Response:
        media, _ = _media_type(request)
        if media not in NDJSON_TYPES:
            raise Problem(
                415,
                "Unsupported media type",
                f"send the batch as {NDJSON_TYPES[0]} (one JSON object per line)",
                type_="unsupported-media-type",
            )
        body = await _read_limited(request, batch_max_bytes)
        records = count_records(body)
        if records == 0:
            raise Problem(422, "Empty batch", "the batch has no records", type_="empty-batch")
        if records > batch_max_lines:
            raise Problem(
                413,
                "Batch too large",
                f"{records} lines; a batch holds at most {batch_max_lines} (upload a file instead)",
                type_="batch-too-large",
                extensions={"records": records, "limit_lines": batch_max_lines},
            )
        gate.admit(key, records)
        now = runtime.clock.now()
        parsed = await pool.run(parse_ndjson, body, key.partner_id, now)
        try:
            report = await batches.ingest(
                publisher, key.partner_id, key.allowed_kinds, parsed, mode, "batch"
            )
        except batches.OutsideScope as exc:
            raise outside_scope(key, exc.kinds, exc.lines) from exc
        except batches.BatchRefused as exc:
            raise _invalid_problem(
                exc.records,
                exc.errors,
                f"{len(exc.errors)} of {exc.records} records are invalid; mode all_or_nothing: "
                "nothing was published",
            ) from exc
        except KafkaUnavailable as exc:
            raise _kafka_problem(exc) from exc
        return _report_view(report)

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
        media, charset = _media_type(request)
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
            raise _too_large(file_max_bytes) from exc
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
            row = await _wait_for(runtime, row.submission_id, wait) or row
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
        row = await runtime.db.run(lambda s: get(s, submission_id))
        if row is None or row.partner_id != key.partner_id:
            raise Problem(
                404, "Not found", f"submission {submission_id} not found", type_="not-found"
            )
        return SubmissionView.of(row)

    return api


def _finished(row: SubmissionRow) -> bool:
    return row.state in ("completed", "rejected", "failed")


async def _wait_for(
    runtime: ServiceRuntime, submission_id: str, seconds: int
) -> SubmissionRow | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    row = None
    while loop.time() < deadline:
        row = await runtime.db.run(lambda s: get(s, submission_id))
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
