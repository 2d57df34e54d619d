"""The notifier's HTTP API: providers' delivery receipts, and a request's state for operators
(read through :mod:`..views`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, BaseModel, Field, TypeAdapter, ValidationError

from anbu_contracts.notify import Channel as ChannelName
from anbu_runtime.auth import ServiceCaller
from anbu_runtime.problems import Problem

from .. import metrics
from ..domain.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from ..handlers import Notifier
from ..handlers.receipts import RecordReceipt
from ..views import NotificationView, Views


class Receipt(BaseModel):
    """What a provider posts to ``/v1/receipts/{provider}`` when it knows the outcome."""

    message_id: str = Field(min_length=1, max_length=128)
    status: Literal["delivered", "failed"]
    reason: str | None = Field(default=None, max_length=200)
    occurred_at: AwareDatetime | None = None


class ReceiptAnswer(BaseModel):
    result: Literal["applied", "held", "duplicate"]


class ReceiptBatchAnswer(BaseModel):
    results: list[Literal["applied", "held", "duplicate"]] = Field(
        description="One per receipt posted, in order."
    )


MAX_BATCH = 1000
ONE: TypeAdapter[Receipt] = TypeAdapter(Receipt)
MANY: TypeAdapter[list[Receipt]] = TypeAdapter(
    Annotated[list[Receipt], Field(min_length=1, max_length=MAX_BATCH)]
)
T = TypeVar("T")


def router(
    notifier: Notifier,
    views: Views,
    receipt_secrets: Mapping[ChannelName, str],
    tolerance_s: float = 300.0,
) -> APIRouter:
    api = APIRouter()

    def signed_body(provider: str) -> Callable[[Request], Awaitable[tuple[ChannelName, bytes]]]:
        async def check(request: Request) -> tuple[ChannelName, bytes]:
            channel = next((c for c in receipt_secrets if c.value == provider), None)
            if channel is None:
                # No secret to check a signature with: unauthenticated like a wrong
                # signature (a 404 told an anonymous caller which providers are configured).
                raise Problem(
                    401,
                    "Unauthorized",
                    "no signed receipts are taken on this path",
                    type_="unauthenticated",
                )
            body = await request.body()
            if not verify(
                receipt_secrets[channel],
                request.headers.get(TIMESTAMP_HEADER),
                request.headers.get(SIGNATURE_HEADER),
                body,
                now=time.time(),
                tolerance_s=tolerance_s,
            ):
                metrics.RECEIPTS.labels(provider, "refused").inc()
                raise Problem(401, "Unauthorized", "missing, stale or invalid signature")
            return channel, body

        return check

    def parse(adapter: TypeAdapter[T], body: bytes) -> T:
        try:
            return adapter.validate_json(body)
        except ValidationError as exc:
            raise Problem(422, "Unprocessable content", f"{exc.error_count()} error(s)") from exc

    @api.post(
        "/v1/receipts/{provider}",
        status_code=202,
        response_model=ReceiptAnswer,
        tags=["receipts"],
        summary="A provider's delivery receipt (HMAC-SHA256 signed)",
    )
    async def receipt(provider: str, request: Request) -> ReceiptAnswer:
        channel, body = await signed_body(provider)(request)
        parsed = parse(ONE, body)
        result = await notifier.record_receipt(
            channel, parsed.message_id, parsed.status, parsed.reason
        )
        return ReceiptAnswer(result=result)

    @api.post(
        "/v1/receipts/{provider}/batch",
        status_code=202,
        response_model=ReceiptBatchAnswer,
        tags=["receipts"],
        summary="Many delivery receipts in one signed request (a JSON array, ≤ 1,000)",
    )
    async def receipts(provider: str, request: Request) -> ReceiptBatchAnswer:
        # One request, one signature check and one group transaction for a gateway's whole
        # batch: the route per receipt was a third of the notifier's CPU per message.
        channel, body = await signed_body(provider)(request)
        parsed = parse(MANY, body)
        results = await notifier.record_receipts(
            [
                RecordReceipt(
                    provider=channel, message_id=r.message_id, status=r.status, reason=r.reason
                )
                for r in parsed
            ]
        )
        failed = next((r for r in results if isinstance(r, Exception)), None)
        if failed is not None:  # a 5xx: the gateway retries the batch; repeats are harmless
            raise failed
        return ReceiptBatchAnswer(results=[r for r in results if not isinstance(r, Exception)])

    @api.get(
        "/v1/notifications/{request_key:path}",
        response_model=NotificationView,
        tags=["notifications"],
        summary="A request's status and its recipients' deliveries (no addresses)",
    )
    async def notification(request_key: str, caller: ServiceCaller) -> NotificationView:
        found = await views.notification(request_key)
        if found is None:
            raise Problem(404, "Not found", f"no request {request_key!r}")
        return found

    return api
