"""Signed webhooks to liaison systems (police 112, fire and ambulance 119).

The body is JSON; ``X-Anbu-Timestamp`` and ``X-Anbu-Signature`` (HMAC-SHA256 of
``"<timestamp>." + body`` with the endpoint's shared secret) let the receiver check who
sent it and that it is fresh; ``Idempotency-Key`` lets it drop a re-send. The liaison
system is the final recipient, so its 2xx is delivery.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from anbu_contracts.notify import Channel as ChannelName

from ..domain.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from .channels import (
    OutgoingMessage,
    PermanentFailure,
    SendResult,
    failure_from_response,
    transport_failure,
)


@dataclass(frozen=True)
class Endpoint:
    url: str
    secret: str = field(repr=False)


class WebhookChannel:
    name = ChannelName.WEBHOOK

    def __init__(
        self,
        endpoints: Mapping[str, Endpoint],
        *,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.endpoints = dict(endpoints)
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), transport=transport)

    def body(self, message: OutgoingMessage) -> bytes:
        return json.dumps(
            {
                "request_key": message.request_key,
                "idempotency_key": message.idempotency_key,
                "template": message.template,
                "urgency": message.urgency,
                "locale": message.locale.value,
                "household_id": message.household_id,
                "text": message.text,
                "sent_at": datetime.now(UTC).isoformat(),
            },
            ensure_ascii=False,
        ).encode()

    async def send(self, message: OutgoingMessage) -> SendResult:
        endpoint = self.endpoints.get(message.address)
        if endpoint is None:
            raise PermanentFailure(f"no webhook configured for {message.address}")
        body = self.body(message)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.idempotency_key,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(endpoint.secret, timestamp, body),
        }
        what = f"{message.address} webhook"
        try:
            response = await self._client.post(endpoint.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise transport_failure(exc, what) from exc
        failure = failure_from_response(response, what)
        if failure is not None:
            raise failure
        return SendResult(provider_message_id=f"webhook-{message.idempotency_key}", delivered=True)

    async def close(self) -> None:
        await self._client.aclose()
