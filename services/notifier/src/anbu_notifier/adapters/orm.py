"""The notifier's log of requests and deliveries (no addresses are stored)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from anbu_runtime.db import UtcDateTime


class Table(SQLModel, registry=registry()):
    """Base of the notifier's tables (its own metadata)."""


metadata = Table.metadata


def _tz(nullable: bool = True) -> Any:
    return Column(UtcDateTime(), nullable=nullable)


class NotificationRow(Table, table=True):
    __tablename__ = "notification"
    request_key: str = Field(primary_key=True, max_length=128)
    request_id: UUID
    household_id: str | None = Field(default=None, max_length=32)
    template: str = Field(max_length=128)
    urgency: str = Field(max_length=16)
    status: str = Field(max_length=16, index=True)
    channel: str | None = None
    attempts: int = 0
    reason: str | None = Field(default=None, max_length=512)
    provider_message_id: str | None = None
    correlation_id: str | None = None
    created_at: datetime = Field(sa_column=_tz(False))
    updated_at: datetime = Field(sa_column=_tz(False))
