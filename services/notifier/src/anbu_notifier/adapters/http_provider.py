"""SMS and alert messages (알림톡) through an HTTP gateway, under the protocol in docs/notifier.md.

``POST {base}/v1/messages`` with a bearer key and an ``Idempotency-Key`` header; the body
says who from, to whom, which kind (``sms``, ``lms`` or ``alimtalk``) and the text. A 2xx
answer carries the provider's ``message_id``; delivery is confirmed later by a receipt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from anbu_contracts.notify import Channel as ChannelName

from ..domain.messages import normalise_phone, sms_type, subject_of
from .channels import (
    OutgoingMessage,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
    failure_from_response,
    transport_failure,
)
from .keepalive import KeepAliveTransport


class HttpProviderChannel:
    def __init__(
        self,
        name: ChannelName,
        base_url: str,
        api_key: str,
        sender: str,
        *,
        timeout_s: float = 5.0,
        template_codes: Mapping[str, str] | None = None,
        connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if name not in (ChannelName.SMS, ChannelName.ALIMTALK):
            raise ValueError(f"an HTTP message gateway serves sms or alimtalk, not {name}")
        self.name: ChannelName = name
        self.sender = sender
        self.template_codes = dict(template_codes or {})
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(timeout_s),
            # One pool for every send, as many connections as the dispatcher has sends in
            # flight, each kept alive; see .keepalive for why not httpcore's pool.
            transport=transport or KeepAliveTransport(max_connections=connections),
        )

    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        """The JSON the gateway receives for ``message``."""
        body: dict[str, Any] = {
            "to": normalise_phone(message.address),
            "from": self.sender,
            "text": message.text,
        }
        if self.name is ChannelName.ALIMTALK:
            code = self.template_codes.get(message.template)
            if code is None:
                raise PermanentFailure(
                    f"no alert-message template code registered for {message.template}"
                )
            body.update(type="alimtalk", template_code=code)
        else:
            body["type"] = sms_type(message.text)
            if body["type"] == "lms":
                body["subject"] = subject_of(message.text)
        return body

    async def send(self, message: OutgoingMessage) -> SendResult:
        body = self.body(message)
        what = f"{self.name.value} gateway"
        try:
            response = await self._client.post(
                "/v1/messages", json=body, headers={"Idempotency-Key": message.idempotency_key}
            )
        except httpx.HTTPError as exc:
            raise transport_failure(exc, what) from exc
        failure = failure_from_response(response, what)
        if failure is not None:
            raise failure
        try:
            message_id = str(response.json()["message_id"])[:128]
        except (ValueError, KeyError, TypeError) as exc:
            # Accepted without an id: trying again under the same key is safe.
            raise TemporaryFailure(f"{what} answered without a message_id") from exc
        return SendResult(provider_message_id=message_id, delivered=False)

    async def close(self) -> None:
        await self._client.aclose()
