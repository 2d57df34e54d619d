"""The notifier's service layer: accept a request once, resolve, render, send, report.

The request key makes a redelivered request harmless: once a request has been sent (or has
failed for good) it is not sent again. Statuses go out through the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from anbu_contracts import (
    DeliveryStatus,
    Locale,
    NotificationRequest,
    NotificationStatusEvent,
    RecipientKind,
)
from anbu_contracts.notify import Channel as ChannelName
from anbu_contracts.topics import NOTIFY_STATUS
from anbu_runtime.clock import Clock
from anbu_runtime.logs import get_logger
from anbu_runtime.outbox import Outbox
from anbu_runtime.service import ServiceRuntime

from .adapters.channels import Channel, DeliveryError, OutgoingMessage
from .adapters.orm import NotificationRow
from .adapters.registry_client import Address, RecipientNotFound, RegistryClient
from .domain.rendering import Renderer, TemplateError

log = get_logger(__name__)
SOURCE = "notifier"
FINAL = (DeliveryStatus.SENT.value, DeliveryStatus.DELIVERED.value, DeliveryStatus.FAILED.value)


@dataclass
class Notifier:
    runtime: ServiceRuntime
    registry: RegistryClient
    renderer: Renderer
    channels: dict[ChannelName, Channel]
    default_channel: ChannelName

    @property
    def outbox(self) -> Outbox:
        return self.runtime.outbox

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    async def handle(self, request: NotificationRequest) -> None:
        """Deliver ``request`` unless its key has been delivered or failed already."""
        fresh = await self.runtime.db.run(lambda s: self._accept(s, request))
        self.outbox.notify()
        if not fresh:
            log.info("duplicate request ignored", request_key=request.request_key)
            return
        try:
            addresses = await self._resolve(request)
            if not addresses:
                raise DeliveryError("no address on file for this recipient", temporary=False)
            sent: list[tuple[ChannelName, str, bool]] = []
            for address in addresses:
                sent.append(await self._send_one(request, address))
        except (DeliveryError, TemplateError, RecipientNotFound) as exc:
            temporary = isinstance(exc, DeliveryError) and exc.temporary
            if temporary:
                raise  # retried by the consumer, then dead-lettered if it never recovers
            await self._finish(request, DeliveryStatus.FAILED, None, None, str(exc))
            log.warning("notification failed", request_key=request.request_key, reason=str(exc))
            return
        channel, message_id, _ = sent[-1]
        await self._finish(request, DeliveryStatus.SENT, channel, message_id, None)
        if all(d for _, _, d in sent):
            await self._finish(request, DeliveryStatus.DELIVERED, channel, message_id, None)
        log.info(
            "notification sent",
            request_key=request.request_key,
            channel=channel.value,
            recipients=len(sent),
        )

    async def _resolve(self, request: NotificationRequest) -> list[Address]:
        if request.recipient.kind in (RecipientKind.POLICE_LIAISON, RecipientKind.FIRE_LIAISON):
            raise DeliveryError("no liaison endpoint is configured", temporary=False)
        return await self.registry.resolve(request.recipient, f"notification {request.template}")

    async def _send_one(
        self, request: NotificationRequest, address: Address
    ) -> tuple[ChannelName, str, bool]:
        locale = request.locale or address.locale or Locale.KO
        text = self.renderer.render(
            request.template,
            locale,
            {"name": address.name, "timezone": address.timezone, **request.variables},
        )
        channel = self._channel_for(request, address)
        target = address.email if channel.name is ChannelName.EMAIL else address.phone
        target = target or address.phone or address.email
        if target is None:
            raise DeliveryError("recipient has no phone number or e-mail", temporary=False)
        result = await channel.send(
            OutgoingMessage(
                request_key=request.request_key,
                channel=channel.name,
                address=target,
                text=text,
                template=request.template,
                urgency=request.urgency.value,
            )
        )
        return channel.name, result.provider_message_id, result.delivered

    def _channel_for(self, request: NotificationRequest, address: Address) -> Channel:
        for name in (*request.channels, address.preferred_channel):
            if name in self.channels:
                return self.channels[name]
        return self.channels[self.default_channel]

    # -- state and statuses (one transaction each) -----------------------------------

    def _accept(self, session: Session, request: NotificationRequest) -> bool:
        row = session.get(NotificationRow, request.request_key)
        now = self.clock.now()
        if row is not None:
            if row.status in FINAL:
                return False
            row.attempts += 1
            row.updated_at = now
            session.add(row)
            return True
        session.add(
            NotificationRow(
                request_key=request.request_key,
                request_id=request.request_id,
                household_id=request.household_id,
                template=request.template,
                urgency=request.urgency.value,
                status=DeliveryStatus.QUEUED.value,
                attempts=1,
                correlation_id=request.correlation_id,
                created_at=now,
                updated_at=now,
            )
        )
        self._stage_status(session, request, DeliveryStatus.QUEUED, None, None, None, 1, now)
        return True

    async def _finish(
        self,
        request: NotificationRequest,
        status: DeliveryStatus,
        channel: ChannelName | None,
        message_id: str | None,
        reason: str | None,
    ) -> None:
        def change(session: Session) -> None:
            row = session.get(NotificationRow, request.request_key)
            assert row is not None  # _accept stored it
            now = self.clock.now()
            row.status = status.value
            row.channel = channel.value if channel else row.channel
            row.provider_message_id = message_id or row.provider_message_id
            row.reason = reason
            row.updated_at = now
            session.add(row)
            self._stage_status(
                session, request, status, channel, message_id, reason, row.attempts, now
            )

        await self.runtime.db.run(change)
        self.outbox.notify()

    def _stage_status(
        self,
        session: Session,
        request: NotificationRequest,
        status: DeliveryStatus,
        channel: ChannelName | None,
        message_id: str | None,
        reason: str | None,
        attempt: int,
        now: datetime,
    ) -> None:
        self.outbox.add(
            session,
            NOTIFY_STATUS,
            NotificationStatusEvent(
                occurred_at=now,
                produced_at=now,
                source=SOURCE,
                correlation_id=request.correlation_id,
                causation_id=str(request.event_id),
                request_id=request.request_id,
                request_key=request.request_key,
                status=status,
                channel=channel,
                attempt=attempt,
                reason=reason,
                provider_message_id=message_id,
                household_id=request.household_id,
            ),
        )
