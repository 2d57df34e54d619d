"""The registry's tables. Personal data is stored only sealed (``*_enc``) or as blind indexes."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import JSON, Column
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from anbu_runtime.db import UtcDateTime


class Table(SQLModel, registry=registry()):
    """Base of the registry's tables (its own metadata)."""


metadata = Table.metadata


def _tz(nullable: bool = True) -> Any:
    return Column(UtcDateTime(), nullable=nullable)


class HouseholdRow(Table, table=True):
    __tablename__ = "household"
    household_id: str = Field(primary_key=True, max_length=32)
    revision: int = 1
    district_code: str = Field(max_length=5, index=True)
    dong_code: str = Field(max_length=10, index=True)
    timezone: str = "Asia/Seoul"
    tier: str = Field(max_length=16, index=True)
    status: str = Field(default="active", max_length=16)
    suspended_until: datetime | None = Field(default=None, sa_column=_tz())
    suspension_reason: str | None = None
    channels: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    quiet_start: time = time(23, 0)
    quiet_end: time = time(7, 0)
    programme: str = "default"
    rule_overrides: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON))
    medical_aid: bool = False
    violence_risk: bool = False
    responsible_worker_id: str | None = None
    matched_volunteer_id: str | None = None
    locale: str = "ko"
    address_enc: str | None = None
    created_at: datetime = Field(sa_column=_tz(False))
    updated_at: datetime = Field(sa_column=_tz(False))


class PersonRow(Table, table=True):
    """A resident of a household, or one of its contacts (guardian, landlord, neighbour)."""

    __tablename__ = "person"
    person_id: str = Field(primary_key=True, max_length=32)
    household_id: str = Field(foreign_key="household.household_id", index=True, max_length=32)
    relation: str = Field(max_length=16)  # resident, guardian, landlord, neighbour
    name_enc: str
    phone_enc: str | None = None
    phone_index: str | None = Field(default=None, index=True, max_length=64)
    email_enc: str | None = None
    locale: str = "ko"
    preferred_channel: str = "sms"


class WorkerRow(Table, table=True):
    __tablename__ = "worker"
    worker_id: str = Field(primary_key=True, max_length=32)
    revision: int = 1
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    dong_codes: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    skills: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    shifts: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    duty: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    max_open_tasks: int = 10
    active: bool = True
    name_enc: str
    phone_enc: str | None = None
    phone_index: str | None = Field(default=None, index=True, max_length=64)
    email_enc: str | None = None
    locale: str = "ko"
    preferred_channel: str = "sms"


class AuditRow(Table, table=True):
    """Append-only: who read or changed what, when and why."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=_tz(False))
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    subject: str = Field(max_length=128, index=True)
    purpose: str = Field(max_length=256)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
