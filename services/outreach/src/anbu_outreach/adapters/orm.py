"""Outreach's tables: its roster and household caches, tasks and outcomes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from anbu_runtime.db import UtcDateTime


class Table(SQLModel, registry=registry()):
    """Base of outreach's tables (its own metadata)."""


metadata = Table.metadata


def _tz(nullable: bool = True) -> Any:
    return Column(UtcDateTime(), nullable=nullable)


class WorkerCacheRow(Table, table=True):
    """The roster as the registry last published it (registry.worker)."""

    __tablename__ = "worker_cache"
    worker_id: str = Field(primary_key=True, max_length=32)
    revision: int
    snapshot: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class HouseholdCacheRow(Table, table=True):
    __tablename__ = "household_cache"
    household_id: str = Field(primary_key=True, max_length=32)
    revision: int
    dong_code: str = Field(max_length=10)
    responsible_worker_id: str | None = None
    matched_volunteer_id: str | None = None
    violence_risk: bool = False
    locale: str = "ko"


class TaskRow(Table, table=True):
    __tablename__ = "task"
    __table_args__ = (
        # One task per escalation, step and action, however often the step is delivered.
        UniqueConstraint("origin_key", name="uq_task_origin"),
    )
    task_id: UUID = Field(primary_key=True)
    origin_key: str = Field(max_length=200)
    household_id: str = Field(index=True, max_length=32)
    dong_code: str | None = Field(default=None, max_length=10)
    task_type: str = Field(max_length=40)
    team: list[str] = Field(sa_column=Column(JSON, nullable=False))
    deadline: datetime = Field(sa_column=_tz(False))
    status: str = Field(max_length=16, index=True)
    assignees: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    accepted_by: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    escalation_id: UUID | None = Field(default=None, index=True)
    step_id: str | None = None
    action_id: str | None = None
    reason: str | None = None
    correlation_id: str | None = None
    created_at: datetime = Field(sa_column=_tz(False))
    updated_at: datetime = Field(sa_column=_tz(False))


class OutcomeRow(Table, table=True):
    __tablename__ = "outcome"
    outcome_id: UUID = Field(primary_key=True)
    task_id: UUID | None = Field(default=None, index=True)
    household_id: str = Field(index=True, max_length=32)
    result: str = Field(max_length=32)
    recorded_by: str = Field(max_length=32)
    note: str | None = Field(default=None, max_length=4000)
    recorded_at: datetime = Field(sa_column=_tz(False))
