"""Outreach's tables: the roster and household caches, tasks, offers and outcomes.

The schema is built by the migrations in ``anbu_outreach/migrations`` (a change to these
models needs a new revision; ``test_migrations`` fails otherwise). The table names are new
with issue 6 (``outreach_task``, ``task_offer``, ...): a development database created by
the first version keeps its old tables, unused.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from anbu_runtime.db import UtcDateTime


class Table(SQLModel, registry=registry()):
    """Base of outreach's tables (its own metadata)."""


metadata = Table.metadata


def _tz(nullable: bool = True, index: bool = False) -> Any:
    return Column(UtcDateTime(), nullable=nullable, index=index)


def _json() -> Any:
    return Column(JSON, nullable=False)


class WorkerRow(Table, table=True):
    """The roster as the registry last published it (registry.worker)."""

    __tablename__ = "roster_worker"
    worker_id: str = Field(primary_key=True, max_length=32)
    revision: int
    snapshot: dict[str, Any] = Field(sa_column=_json())


class HouseholdRow(Table, table=True):
    """What outreach knows of a household: the registry's snapshot (no personal data) and
    the household's contact history and routine cycles."""

    __tablename__ = "household_state"
    household_id: str = Field(primary_key=True, max_length=32)
    revision: int
    dong_code: str = Field(max_length=10, index=True)
    tier: str = Field(default="watch", max_length=16)
    status: str = Field(default="active", max_length=16)
    timezone: str = Field(default="Asia/Seoul", max_length=64)
    responsible_worker_id: str | None = Field(default=None, max_length=32)
    matched_volunteer_id: str | None = Field(default=None, max_length=32)
    violence_risk: bool = False
    locale: str = "ko"
    enrolled_at: datetime = Field(sa_column=_tz(False))
    last_contact_at: datetime | None = Field(default=None, sa_column=_tz())
    last_visit_at: datetime | None = Field(default=None, sa_column=_tz())
    contact_opens_at: datetime | None = Field(default=None, sa_column=_tz(index=True))
    contact_due_at: datetime | None = Field(default=None, sa_column=_tz())
    visit_opens_at: datetime | None = Field(default=None, sa_column=_tz(index=True))
    visit_due_at: datetime | None = Field(default=None, sa_column=_tz())


class TaskRow(Table, table=True):
    __tablename__ = "outreach_task"
    __table_args__ = (
        # One task per escalation, step and action (or per household, routine cycle and
        # period), however often its cause is delivered.
        UniqueConstraint("origin_key", name="uq_outreach_task_origin"),
    )
    task_id: UUID = Field(primary_key=True)
    origin_key: str = Field(max_length=200)
    household_id: str = Field(index=True, max_length=32)
    dong_code: str | None = Field(default=None, max_length=10, index=True)
    task_type: str = Field(max_length=40)
    team: list[str] = Field(sa_column=_json())  # one role per slot
    urgency: str = Field(max_length=16)
    in_person: bool = False
    deadline: datetime = Field(sa_column=_tz(False))
    status: str = Field(max_length=16, index=True)
    escalation_id: UUID | None = Field(default=None, index=True)
    protocol_id: str | None = Field(default=None, max_length=64)
    step_id: str | None = Field(default=None, max_length=128)
    action_id: str | None = Field(default=None, max_length=128)
    preconditions: list[str] = Field(default_factory=list, sa_column=_json())
    cycle_kind: str | None = Field(default=None, max_length=16)
    reason: str | None = Field(default=None, max_length=256)
    correlation_id: str | None = Field(default=None, max_length=128)
    vacancies_reported: int = 0
    created_at: datetime = Field(sa_column=_tz(False))
    updated_at: datetime = Field(sa_column=_tz(False))
    accepted_at: datetime | None = Field(default=None, sa_column=_tz())
    ended_at: datetime | None = Field(default=None, sa_column=_tz())


@dataclass
class NewTaskRow:
    """A new task's columns, inserted with others in bulk: :class:`TaskRow`'s fields
    without the ORM's bookkeeping (building a ``TaskRow`` costs a third of a millisecond;
    a national list round builds ten thousand)."""

    task_id: UUID
    origin_key: str
    household_id: str
    dong_code: str | None
    task_type: str
    team: list[str]
    urgency: str
    in_person: bool
    deadline: datetime
    status: str
    escalation_id: UUID | None
    protocol_id: str | None
    step_id: str | None
    action_id: str | None
    preconditions: list[str]
    cycle_kind: str | None
    correlation_id: str | None
    created_at: datetime
    updated_at: datetime
    reason: str | None = None
    vacancies_reported: int = 0
    accepted_at: datetime | None = None
    ended_at: datetime | None = None

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# What the service layer reads and changes of a task, saved or about to be inserted.
AnyTask = TaskRow | NewTaskRow


class OfferRow(Table, table=True):
    """Every offer of a task's slot to a person, and how it ended."""

    __tablename__ = "task_offer"
    __table_args__ = (
        Index("ix_task_offer_worker_state", "worker_id", "state"),
        Index("ix_task_offer_state_expiry", "state", "expires_at"),
    )
    offer_id: int | None = Field(default=None, primary_key=True)
    task_id: UUID = Field(index=True)
    slot: int
    role: str = Field(max_length=32)
    worker_id: str = Field(max_length=32)
    state: str = Field(max_length=16)
    offered_at: datetime = Field(sa_column=_tz(False))
    expires_at: datetime = Field(sa_column=_tz(False))
    decided_at: datetime | None = Field(default=None, sa_column=_tz())
    decline_reason: str | None = Field(default=None, max_length=32)
    # Free text a person typed when declining: stays here, never in events or logs.
    decline_note: str | None = Field(default=None, max_length=1000)


class OutcomeRow(Table, table=True):
    __tablename__ = "task_outcome"
    outcome_id: UUID = Field(primary_key=True)
    task_id: UUID = Field(index=True)
    household_id: str = Field(index=True, max_length=32)
    result: str = Field(max_length=32)
    contact_mode: str = Field(max_length=16)
    recorded_by: str = Field(max_length=32)
    monitoring: dict[str, str] = Field(default_factory=dict, sa_column=_json())
    needs: list[str] = Field(default_factory=list, sa_column=_json())
    follow_up: bool = False
    # The field worker's note: stays here (OutcomeEvent.note_ref names it), never published.
    note: str | None = Field(default=None, max_length=4000)
    recorded_at: datetime = Field(sa_column=_tz(False))
