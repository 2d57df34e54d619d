"""What the registry accepts and returns over its API, validated before anything is stored."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from anbu_contracts import (
    CaseClosureReason,
    ChannelEnrolment,
    DutySlot,
    HouseholdStatus,
    Locale,
    MonitoringChannel,
    Role,
    SignalKind,
    SuspensionReason,
    Tier,
    WeeklyShift,
)
from anbu_contracts.notify import Channel
from anbu_contracts.registry import LocalTime
from anbu_runtime.auth import UserRole

from .cases import AssessmentDomain, CaseLevel, CaseState, ServiceType

PHONE = r"^\+?[0-9][0-9 -]{6,18}[0-9]$"
DongCode = Annotated[str, Field(pattern=r"^\d{10}$")]
Label = Annotated[str, Field(min_length=1, max_length=128)]


def _known_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_known_timezone)]
DONG = r"^\d{10}$"
DISTRICT = r"^\d{5}$"
WORKER = r"^W-[0-9A-Z]{3,26}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Relation(StrEnum):
    RESIDENT = "resident"
    GUARDIAN = "guardian"
    LANDLORD = "landlord"
    NEIGHBOUR = "neighbour"


class PersonIn(_In):
    relation: Relation
    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, pattern=PHONE)
    email: EmailStr | None = None
    rrn: str | None = Field(
        default=None,
        pattern=r"^\d{6}-?\d{7}$",
        description="Resident registration number: only its keyed index is kept, never the number.",
    )
    locale: Locale = Locale.KO
    preferred_channel: Channel = Channel.SMS
    contact_hours: str | None = Field(default=None, max_length=64, examples=["09:00-18:00"])


class PersonView(BaseModel):
    """A person with personal data, returned only to allowed callers (audited)."""

    person_id: str
    relation: Relation
    name: str
    phone: str | None
    email: str | None
    locale: Locale
    preferred_channel: str
    contact_hours: str | None


class HouseholdIn(_In):
    household_id: str | None = Field(
        default=None, pattern=r"^HH-[0-9A-Z]{6,26}$", description="Only for imports and seeds."
    )
    district_code: str = Field(pattern=DISTRICT)
    dong_code: str = Field(pattern=DONG)
    timezone: TimeZone = "Asia/Seoul"
    tier: Tier
    tier_reason: str | None = Field(default=None, max_length=256)
    channels: list[ChannelEnrolment] = Field(default_factory=list, max_length=16)
    consent_form: str | None = Field(default=None, max_length=128)
    quiet_start: LocalTime = time(23, 0)
    quiet_end: LocalTime = time(7, 0)
    programme: str = Field(default="default", max_length=64)
    medical_aid: bool = False
    violence_risk: bool = False
    responsible_worker_id: str | None = Field(default=None, pattern=WORKER)
    matched_volunteer_id: str | None = Field(default=None, pattern=WORKER)
    locale: Locale = Locale.KO
    address: str | None = Field(default=None, max_length=300)
    people: list[PersonIn] = Field(default_factory=list, max_length=30)

    @field_validator("dong_code")
    @classmethod
    def _dong_in_district(cls, dong: str, info: ValidationInfo) -> str:
        district = info.data.get("district_code")
        if district and not dong.startswith(district):
            raise ValueError(f"dong {dong} is not in district {district}")
        return dong


class ChannelWindow(_In):
    channel: MonitoringChannel
    window_hours: float | None = Field(default=None, gt=0, le=24 * 14)


class HouseholdChange(_In):
    """A partial change; only the fields present change. ``reason`` goes to the audit log."""

    reason: str | None = Field(default=None, max_length=256)
    tier: Tier | None = None
    tier_reason: str | None = Field(default=None, max_length=256)
    status: HouseholdStatus | None = None
    suspended_until: AwareDatetime | None = None
    suspension_reason: SuspensionReason | None = None
    dong_code: str | None = Field(default=None, pattern=DONG, description="The household moved.")
    timezone: TimeZone | None = None
    programme: str | None = Field(default=None, min_length=1, max_length=64)
    quiet_start: LocalTime | None = None
    quiet_end: LocalTime | None = None
    rule_overrides: dict[str, float] | None = None
    channel_windows: list[ChannelWindow] | None = None
    medical_aid: bool | None = None
    violence_risk: bool | None = None
    responsible_worker_id: str | None = Field(default=None, pattern=WORKER)
    matched_volunteer_id: str | None = Field(default=None, pattern=WORKER)

    @model_validator(mode="after")
    def _no_null_for_required_fields(self) -> HouseholdChange:
        nullable = {
            "reason",
            "tier_reason",
            "suspended_until",
            "suspension_reason",
            "responsible_worker_id",
            "matched_volunteer_id",
        }
        nulls = sorted(
            name
            for name in self.model_fields_set
            if getattr(self, name) is None and name not in nullable
        )
        if nulls:
            raise ValueError(
                f"these fields cannot be null (leave them out instead): {', '.join(nulls)}"
            )
        return self


class ConsentIn(_In):
    channel: MonitoringChannel
    given: bool
    form: str = Field(min_length=1, max_length=128, description="Form or document reference.")


class WorkerIn(_In):
    worker_id: str | None = Field(default=None, pattern=WORKER)
    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, pattern=PHONE)
    email: EmailStr | None = None
    roles: list[Role] = Field(min_length=1, max_length=8)
    dong_codes: list[DongCode] = Field(default_factory=list, max_length=64)
    languages: list[Label] = Field(default_factory=lambda: ["ko"], max_length=16)
    skills: list[Label] = Field(default_factory=list, max_length=32)
    shifts: list[WeeklyShift] = Field(default_factory=list, max_length=64)
    duty: list[DutySlot] = Field(default_factory=list, max_length=256)
    max_open_tasks: int = Field(default=10, ge=0, le=500)
    locale: Locale = Locale.KO
    preferred_channel: Channel = Channel.SMS


class WorkerChange(_In):
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=8)
    dong_codes: list[DongCode] | None = Field(default=None, max_length=64)
    languages: list[Label] | None = Field(default=None, max_length=16)
    skills: list[Label] | None = Field(default=None, max_length=32)
    shifts: list[WeeklyShift] | None = Field(default=None, max_length=64)
    duty: list[DutySlot] | None = Field(default=None, max_length=256)
    max_open_tasks: int | None = Field(default=None, ge=0, le=500)
    active: bool | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> WorkerChange:
        nulls = sorted(n for n in self.model_fields_set if getattr(self, n) is None)
        if nulls:
            raise ValueError(f"these fields cannot be null: {', '.join(nulls)}")
        return self


class PartnerIn(_In):
    partner_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    organisation: str = Field(min_length=1, max_length=200)
    allowed_kinds: list[SignalKind] = Field(min_length=1)
    rate_limit_per_minute: int = Field(default=600, ge=1, le=1_000_000)


class ApiKeyIn(_In):
    label: str = Field(default="", max_length=100)
    expires_at: AwareDatetime | None = None


class UserIn(_In):
    username: str = Field(pattern=r"^[a-z0-9._-]{3,64}$")
    password: str = Field(min_length=10, max_length=200)
    role: UserRole
    dong_codes: list[str] = Field(default_factory=list)
    district_codes: list[str] = Field(default_factory=list)
    worker_id: str | None = Field(default=None, pattern=WORKER)


class LoginIn(_In):
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)


class CaseIn(_In):
    household_id: str = Field(pattern=r"^HH-[0-9A-Z]{6,26}$")
    manager_worker_id: str | None = Field(default=None, pattern=WORKER)
    source: str = Field(default="operator", max_length=64)


class TransitionIn(_In):
    to: CaseState
    level: CaseLevel | None = None
    reason: str | None = Field(default=None, max_length=256)
    closure: CaseClosureReason | None = Field(
        default=None,
        description="Coded closure reason, published on registry.case.v1 ('other' when left "
        "out); the free-text reason stays in the registry.",
    )


class AssessmentIn(_In):
    domain: AssessmentDomain
    severity: int = Field(ge=0, le=4, description="0 none … 4 critical")
    summary: str = Field(max_length=256, description="Structured summary; no names or numbers.")


class GoalIn(_In):
    goal: str = Field(min_length=1, max_length=256)
    due: date | None = None


class LinkageIn(_In):
    service: ServiceType
    provider: str = Field(min_length=1, max_length=200)
    crisis_reason: str | None = Field(default=None, max_length=64)
    granted_on: date | None = None


class ConsultationIn(_In):
    kind: str = Field(pattern=r"^(contact|attempt|visit|note)$")
    channel: str = Field(pattern=r"^(phone|visit|text|other)$")
    result: str | None = Field(default=None, max_length=32)
    summary: str = Field(min_length=1, max_length=256)
    note: str | None = Field(default=None, max_length=4000, description="Free text, sealed.")
    at: AwareDatetime | None = None
    case_id: str | None = Field(default=None, max_length=32)


class Address(BaseModel):
    """Where a notification can reach one person (returned to the notifier only)."""

    person_ref: str
    name: str
    phone: str | None = None
    email: str | None = None
    locale: Locale = Locale.KO
    preferred_channel: Channel = Channel.SMS
    quiet_start: LocalTime | None = None
    quiet_end: LocalTime | None = None
    timezone: str = "Asia/Seoul"


class Resolution(BaseModel):
    recipients: list[Address]
    resolved_at: datetime
