"""The partners' ingest API for signals: one signal, an NDJSON batch.

Every answer that says "accepted" comes after Kafka acknowledged every accepted record
(acks=all); every refusal is an RFC 9457 problem naming each record's line and reasons.
CSV files: ``files_http.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel, Field
from pydantic_core import to_json

from anbu_contracts import SIGNAL_TOPICS, SignalKind
from anbu_runtime.problems import Problem
from anbu_runtime.service import ServiceRuntime

from ..adapters.ndjson_bodies import read_body
from ..adapters.registry_client import PartnerKey
from ..adapters.validation_pool import ValidationPool
from ..domain.batches import Parsed, count_records, validate_one
from ..domain.records import BatchReport, Mode, Outcome
from ..handlers import batches
from ..handlers.publishing import KafkaUnavailable, Publisher
from .ingest_common import (
    NDJSON_TYPES,
    invalid_problem,
    kafka_problem,
    media_type,
    partner_dependency,
    read_limited,
)
from .partners import PartnerGate, outside_scope

_KINDS = frozenset(k.value for k in SignalKind)


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


def router(
    runtime: ServiceRuntime,
    gate: PartnerGate,
    publisher: Publisher,
    pool: ValidationPool,
    *,
    batch_max_lines: int,
    batch_max_bytes: int,
    batch_inline_bytes: int,
) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["ingest"])

    partner = partner_dependency(gate)

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
            raise kafka_problem(exc) from exc
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
        media, _ = media_type(request)
        if media not in NDJSON_TYPES:
            raise Problem(
                415,
                "Unsupported media type",
                f"send the batch as {NDJSON_TYPES[0]} (one JSON object per line)",
                type_="unsupported-media-type",
            )
        body = await read_limited(request, batch_max_bytes)
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
        parsed = await read_body(pool, body, key.partner_id, now, batch_inline_bytes)
        try:
            report = await batches.ingest(
                publisher, key.partner_id, key.allowed_kinds, parsed, mode, "batch"
            )
        except batches.OutsideScope as exc:
            raise outside_scope(key, exc.kinds, exc.lines) from exc
        except batches.BatchRefused as exc:
            raise invalid_problem(
                exc.records,
                exc.errors,
                f"{len(exc.errors)} of {exc.records} records are invalid; mode all_or_nothing: "
                "nothing was published",
            ) from exc
        except KafkaUnavailable as exc:
            raise kafka_problem(exc) from exc
        return _report_view(report)

    return api
