"""The notifier's HTTP API: providers' delivery receipts, and a request's state for operators
(read through :mod:`..views`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, BaseModel, Field, ValidationError

from anbu_contracts.notify import Channel as ChannelName
from anbu_runtime.auth import ServiceCaller
from anbu_runtime.problems import Problem

from .. import metrics
from ..domain.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from ..handlers import Notifier
from ..views import NotificationView, Views


class Receipt(BaseModel):
    """What a provider posts to ``/v1/receipts/{provider}`` when it knows the outcome."""

    message_id: str = Field(min_length=1, max_length=128)
    status: Literal["delivered", "failed"]
    reason: str | None = Field(default=None, max_length=200)
    occurred_at: AwareDatetime | None = None


class ReceiptAnswer(BaseModel):
    result: Literal["applied", "held", "duplicate"]


def router(
    notifier: Notifier,
    views: Views,
    receipt_secrets: Mapping[ChannelName, str],
    tolerance_s: float = 300.0,
) -> APIRouter:
    api = APIRouter()

    @api.post(
        "/v1/receipts/{provider}",
        status_code=202,
        response_model=ReceiptAnswer,
        tags=["receipts"],
        summary="A provider's delivery receipt (HMAC-SHA256 signed)",
    )
    async def receipt(provider: str, request: Request) -> ReceiptAnswer:
        channel = next((c for c in receipt_secrets if c.value == provider), None)
        if channel is None:
            # No secret to check a signature with: unauthenticated like a wrong signature
            # (a 404 told an anonymous caller which providers are configured).
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
        try:
            parsed = Receipt.model_validate_json(body)
        except ValidationError as exc:
            raise Problem(422, "Unprocessable content", f"{exc.error_count()} error(s)") from exc
        result = await notifier.record_receipt(
            channel, parsed.message_id, parsed.status, parsed.reason
        )
        return ReceiptAnswer(result=result)

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
