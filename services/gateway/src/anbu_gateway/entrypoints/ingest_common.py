"""What the partners' ingest routes share: the key dependency, media types, body limits and
the problems they answer with."""

from __future__ import annotations

from email.message import Message
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from anbu_runtime.problems import Problem

from ..adapters.registry_client import PartnerKey
from .partners import PartnerGate

# NDJSON under its usual names; text/plain too, which many HTTP clients send by default.
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "text/plain")
CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream")
ApiKey = Annotated[
    str | None,
    Header(alias="X-Api-Key", description="The partner's API key (issued by the registry)."),
]


def partner_dependency(gate: PartnerGate) -> Any:
    """The partner's key as a route dependency.

    A dependency, so the key is checked before the body or the query is looked at: an
    anonymous caller learns nothing of the contracts from validation errors. (A default
    value, not an ``Annotated`` alias: the alias would be a local name that the postponed
    annotations cannot resolve.)
    """

    async def authenticate(x_api_key: ApiKey = None) -> PartnerKey:
        return await gate.authenticate(x_api_key)

    return Depends(authenticate)


def invalid_problem(records: int, errors: list[Any], detail: str) -> Problem:
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


def kafka_problem(exc: Exception) -> Problem:
    return Problem(
        503,
        "Service unavailable",
        f"{exc}; nothing was confirmed: send the same records again (resends are idempotent)",
        type_="kafka-unavailable",
        headers={"Retry-After": "5"},
    )


def media_type(request: Request) -> tuple[str, str | None]:
    raw = request.headers.get("content-type", "")
    message = Message()
    message["content-type"] = raw
    return message.get_content_type().lower(), message.get_param("charset")  # type: ignore[return-value]


async def read_limited(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large(limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        "Content too large",
        f"the body is larger than {limit} bytes",
        type_="too-large",
        extensions={"limit_bytes": limit},
    )
