"""Notification requests (to the notifier) and delivery statuses (from it)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import Field

from .detector import RecipientRef
from .envelope import Event, HouseholdId, ShortText
from .vocabulary import Locale, Urgency


class Channel(StrEnum):
    SMS = "sms"
    ALIMTALK = "alimtalk"  # KakaoTalk-style alert message (알림톡)
    EMAIL = "email"
    WEBHOOK = "webhook"
    CONSOLE = "console"  # the embedded sink: a file under var/ for `make run`


class NotificationRequest(Event):
    """Ask the notifier to reach someone. Recipients are references, never addresses."""

    type: Literal["notify.request"] = "notify.request"
    request_id: UUID
    request_key: ShortText = Field(
        description="Idempotency key: a redelivered or re-requested key is never sent twice."
    )
    recipient: RecipientRef
    template: ShortText
    urgency: Urgency = Urgency.ROUTINE
    locale: Locale | None = Field(default=None, description="Overrides the recipient's locale.")
    variables: dict[str, str] = Field(default_factory=dict)
    channels: list[Channel] = Field(
        default_factory=list, description="Preferred channels in order; empty means the default."
    )
    household_id: HouseholdId | None = None


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


class NotificationStatusEvent(Event):
    type: Literal["notify.status"] = "notify.status"
    request_id: UUID
    request_key: ShortText
    status: DeliveryStatus
    channel: Channel | None = None
    attempt: int = Field(default=0, ge=0)
    reason: str | None = Field(default=None, max_length=512)
    provider_message_id: str | None = Field(default=None, max_length=128)
    household_id: HouseholdId | None = None
