"""The console's read model: projections of the topics, rebuildable from the beginning."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Column
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from anbu_runtime.db import UtcDateTime


class Table(SQLModel, registry=registry()):
    """Base of the console's tables (its own metadata)."""


metadata = Table.metadata


def _tz(nullable: bool = True) -> Any:
    return Column(UtcDateTime(), nullable=nullable)


class HouseholdView(Table, table=True):
    __tablename__ = "household_view"
    household_id: str = Field(primary_key=True, max_length=32)
    revision: int
    dong_code: str = Field(max_length=10, index=True)
    tier: str = Field(max_length=16)
    status: str = Field(max_length=16)


class AlertView(Table, table=True):
    __tablename__ = "alert_view"
    alert_id: UUID = Field(primary_key=True)
    household_id: str = Field(index=True, max_length=32)
    reason: str
    severity: str
    status: str = Field(index=True)
    opened_at: datetime = Field(sa_column=_tz(False))
    resolved_at: datetime | None = Field(default=None, sa_column=_tz())
    rule: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    evidence: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_column=_tz(False))


class EscalationView(Table, table=True):
    __tablename__ = "escalation_view"
    escalation_id: UUID = Field(primary_key=True)
    household_id: str = Field(index=True, max_length=32)
    protocol_id: str
    status: str = Field(index=True)
    triggered_at: datetime = Field(sa_column=_tz(False))
    last_step_id: str | None = None
    last_step_title: str | None = None
    next_step_id: str | None = None
    next_step_due_at: datetime | None = Field(default=None, sa_column=_tz())
    closure: str | None = None
    updated_at: datetime = Field(sa_column=_tz(False))


class TaskView(Table, table=True):
    __tablename__ = "task_view"
    task_id: UUID = Field(primary_key=True)
    household_id: str = Field(index=True, max_length=32)
    task_type: str
    status: str = Field(index=True)
    assignees: list[str] = Field(sa_column=Column(JSON, nullable=False))
    deadline: datetime = Field(sa_column=_tz(False))
    updated_at: datetime = Field(sa_column=_tz(False))


class NotificationView(Table, table=True):
    __tablename__ = "notification_view"
    request_key: str = Field(primary_key=True, max_length=128)
    status: str = Field(index=True)
    channel: str | None = None
    reason: str | None = None
    updated_at: datetime = Field(sa_column=_tz(False))


class FeedEntry(Table, table=True):
    """Recent events, newest last, for the live feed."""

    __tablename__ = "feed"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=_tz(False))
    topic: str
    household_id: str | None = None
    summary: str
