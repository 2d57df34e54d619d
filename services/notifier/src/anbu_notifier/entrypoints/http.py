"""The notifier's HTTP API: providers' delivery receipts, and a request's state for operators."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, BaseModel, Field, ValidationError

from anbu_contracts.notify import Channel as ChannelName
from anbu_runtime.auth import ServiceCaller
from anbu_runtime.problems import Problem

from .. import metrics
from ..domain.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from ..handlers import Notifier


class Receipt(BaseModel):
    """What a provider posts to ``/v1/receipts/{provider}`` when it knows the outcome."""

    message_id: str = Field(min_length=1, max_length=128)
    status: Literal["delivered", "failed"]
    reason: str | None = Field(default=None, max_length=200)
    occurred_at: AwareDatetime | None = None


class ReceiptAnswer(BaseModel):
    result: Literal["applied", "held", "duplicate"]


class DeliveryView(BaseModel):
    person_ref: str
    plan: list[str]
    channel: str | None
    state: str
    attempts: int
    provider_message_id: str | None
    reason: str | None
    not_before: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None


class NotificationView(BaseModel):
    request_key: str
    template: str
    urgency: str
    status: str
    reason: str | None
    attempts: int
    created_at: datetime
    next_at: datetime | None
    deliveries: list[DeliveryView]


def router(
    notifier: Notifier, receipt_secrets: Mapping[ChannelName, str], tolerance_s: float = 300.0
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
        found = await notifier.view(request_key)
        if found is None:
            raise Problem(404, "Not found", f"no request {request_key!r}")
        row, deliveries = found, found.deliveries
        return NotificationView(
            request_key=row.request_key,
            template=row.template,
            urgency=row.urgency,
            status=row.status.value,
            reason=row.reason,
            attempts=row.attempts,
            created_at=row.created_at,
            next_at=row.next_at,
            deliveries=[
                DeliveryView(
                    person_ref=d.person_ref,
                    plan=d.plan,
                    channel=d.channel,
                    state=d.state.value,
                    attempts=d.attempts,
                    provider_message_id=d.provider_message_id,
                    reason=d.reason,
                    not_before=d.not_before,
                    sent_at=d.sent_at,
                    delivered_at=d.delivered_at,
                )
                for d in deliveries
            ],
        )

    return api
