"""Inputs the registry accepts, validated before anything is stored."""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from anbu_contracts import (
    ChannelEnrolment,
    DutySlot,
    Locale,
    Role,
    Tier,
    WeeklyShift,
)
from anbu_contracts.notify import Channel


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Relation(StrEnum):
    RESIDENT = "resident"
    GUARDIAN = "guardian"
    LANDLORD = "landlord"
    NEIGHBOUR = "neighbour"


PhoneNumber = str  # validated by the pattern on the fields below


class PersonIn(_In):
    relation: Relation
    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 -]{6,18}[0-9]$")
    email: EmailStr | None = None
    locale: Locale = Locale.KO
    preferred_channel: Channel = Channel.SMS


class HouseholdIn(_In):
    household_id: str | None = Field(
        default=None, pattern=r"^HH-[0-9A-Z]{6,26}$", description="Only for imports and seeds."
    )
    district_code: str = Field(pattern=r"^\d{5}$")
    dong_code: str = Field(pattern=r"^\d{10}$")
    timezone: str = "Asia/Seoul"
    tier: Tier
    channels: list[ChannelEnrolment] = Field(default_factory=list)
    quiet_start: time = time(23, 0)
    quiet_end: time = time(7, 0)
    programme: str = "default"
    medical_aid: bool = False
    violence_risk: bool = False
    responsible_worker_id: str | None = Field(default=None, pattern=r"^W-[0-9A-Z]{3,26}$")
    locale: Locale = Locale.KO
    address: str | None = Field(default=None, max_length=300)
    people: list[PersonIn] = Field(default_factory=list, max_length=30)


class WorkerIn(_In):
    worker_id: str | None = Field(default=None, pattern=r"^W-[0-9A-Z]{3,26}$")
    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 -]{6,18}[0-9]$")
    email: EmailStr | None = None
    roles: list[Role] = Field(min_length=1)
    dong_codes: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=lambda: ["ko"])
    skills: list[str] = Field(default_factory=list)
    shifts: list[WeeklyShift] = Field(default_factory=list)
    duty: list[DutySlot] = Field(default_factory=list)
    max_open_tasks: int = Field(default=10, ge=0, le=500)
    locale: Locale = Locale.KO
    preferred_channel: Channel = Channel.SMS


class Address(BaseModel):
    """Where a notification can reach one person (returned to the notifier only)."""

    person_ref: str
    name: str
    phone: str | None = None
    email: str | None = None
    locale: Locale = Locale.KO
    preferred_channel: Channel = Channel.SMS
    quiet_start: time | None = None
    quiet_end: time | None = None
    timezone: str = "Asia/Seoul"


class Resolution(BaseModel):
    recipients: list[Address]
    resolved_at: datetime
