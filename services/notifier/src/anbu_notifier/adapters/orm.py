"""The notifier's log of requests, per-recipient deliveries and provider receipts.

No addresses are stored: a delivery names its recipient by ``person_ref`` (a registry
person or worker id, or a liaison name) and the address is resolved again at send time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Column, Index, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from anbu_runtime.db import UtcDateTime


class Table(SQLModel, registry=registry()):
    """Base of the notifier's tables (its own metadata)."""


metadata = Table.metadata


def _tz(nullable: bool = True) -> Any:
    return Column(UtcDateTime(), nullable=nullable)


class NotificationRow(Table, table=True):
    """One accepted request (its key is the idempotency key of the whole request)."""

    __tablename__ = "notification_request"
    __table_args__ = (Index("ix_notification_request_due", "next_at", "priority"),)

    request_key: str = Field(primary_key=True, max_length=128)
    request_id: UUID
    event_id: UUID
    household_id: str | None = Field(default=None, max_length=32)
    template: str = Field(max_length=128)
    urgency: str = Field(max_length=16)
    priority: int = 2  # 0 critical, 1 high, 2 routine: the dispatcher takes lower first
    status: str = Field(max_length=16, index=True)  # the last status published
    rejected: bool = False  # a contract violation, never sent: a corrected replay may reuse the key
    reason: str | None = Field(default=None, max_length=512)
    request: str = Field(sa_column=Column(Text, nullable=False))  # the request as received
    correlation_id: str | None = None
    attempts: int = 0  # provider calls, all recipients and channels
    registry_failures: int = 0
    next_at: datetime | None = Field(default=None, sa_column=_tz())  # when work is due
    claimed_by: str | None = Field(default=None, max_length=128)
    lease_until: datetime | None = Field(default=None, sa_column=_tz())
    created_at: datetime = Field(sa_column=_tz(False))
    updated_at: datetime = Field(sa_column=_tz(False))


class DeliveryRow(Table, table=True):
    """One recipient of one request: which channel, how far, what the provider said."""

    __tablename__ = "delivery"
    __table_args__ = (Index("ix_delivery_provider_message", "channel", "provider_message_id"),)

    request_key: str = Field(primary_key=True, max_length=128)
    person_ref: str = Field(primary_key=True, max_length=64)
    plan: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    channel_index: int = 0
    channel: str | None = Field(default=None, max_length=16)
    idempotency_key: str | None = Field(default=None, max_length=64)
    state: str = Field(max_length=16)
    not_before: datetime | None = Field(default=None, sa_column=_tz())
    attempts: int = 0
    provider_message_id: str | None = Field(default=None, max_length=128)
    reason: str | None = Field(default=None, max_length=512)
    created_at: datetime = Field(sa_column=_tz(False))
    updated_at: datetime = Field(sa_column=_tz(False))
    sent_at: datetime | None = Field(default=None, sa_column=_tz())
    delivered_at: datetime | None = Field(default=None, sa_column=_tz())


class ReceiptRow(Table, table=True):
    """A provider's delivery receipt, kept once (duplicates are ignored).

    A receipt can overtake the commit that records the provider's message id; it waits
    here, unapplied, until that commit applies it.
    """

    __tablename__ = "delivery_receipt"
    # The sweep for receipts whose send committed past them reads the unapplied ones.
    __table_args__ = (Index("ix_delivery_receipt_applied", "applied_at"),)

    provider: str = Field(primary_key=True, max_length=32)
    message_id: str = Field(primary_key=True, max_length=128)
    status: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=200)
    received_at: datetime = Field(sa_column=_tz(False))
    applied_at: datetime | None = Field(default=None, sa_column=_tz())
