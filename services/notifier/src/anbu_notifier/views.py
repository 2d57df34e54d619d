"""Reads for operators and the console: a request's status and its recipients' deliveries.

Read-only transactions over the repository (no locks); no addresses leave the notifier.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from anbu_runtime.uow import Transactions

from .adapters.repository import NotifierRepository


class DeliveryView(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read off the aggregate

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
    model_config = ConfigDict(from_attributes=True)

    request_key: str
    template: str
    urgency: str
    status: str
    reason: str | None
    attempts: int
    created_at: datetime
    next_at: datetime | None
    deliveries: list[DeliveryView]


class Views:
    def __init__(self, tx: Transactions[NotifierRepository]) -> None:
        self.tx = tx

    async def notification(self, request_key: str) -> NotificationView | None:
        """A request and its deliveries, for the operators' lookup (no addresses)."""
        found = await self.tx.read(
            lambda repos: repos.load([request_key], lock=False).get(request_key)
        )
        return NotificationView.model_validate(found) if found is not None else None
