"""Registry snapshots on compacted topics: the latest state of every household and worker.

Snapshots carry no personal data: no names, phone numbers or addresses. A deleted household
or worker is a tombstone (a record with the key and no value).
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from .envelope import (
    Contract,
    DistrictCode,
    DongCode,
    Event,
    HouseholdId,
    ShortText,
    UtcDatetime,
    WorkerId,
)
from .vocabulary import Locale, MonitoringChannel, Role, Tier


class HouseholdStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # hospitalised or away until a date
    MOVED = "moved"
    CLOSED = "closed"


class SuspensionReason(StrEnum):
    HOSPITALISED = "hospitalised"
    AWAY = "away"
    OTHER = "other"


class ChannelEnrolment(Contract):
    """A monitoring channel the household is enrolled in, and whether consent stands."""

    channel: MonitoringChannel
    consent: bool
    window_hours: float | None = Field(
        default=None, gt=0, le=24 * 14, description="Inactivity window override for this channel."
    )


def _wall_clock(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("quiet hours are local wall-clock times: give them without an offset")
    return value


LocalTime = Annotated[time, AfterValidator(_wall_clock)]


class QuietHours(Contract):
    """Local quiet hours; a window ending inside them is extended to their end."""

    start: LocalTime = time(23, 0)
    end: LocalTime = time(7, 0)


class HouseholdSnapshot(Event):
    type: Literal["registry.household"] = "registry.household"
    household_id: HouseholdId
    revision: int = Field(ge=1, description="Increases with every change; consumers keep the max.")
    district_code: DistrictCode
    dong_code: DongCode
    timezone: ShortText = "Asia/Seoul"
    tier: Tier
    status: HouseholdStatus = HouseholdStatus.ACTIVE
    suspended_until: UtcDatetime | None = None
    suspension_reason: SuspensionReason | None = None
    channels: list[ChannelEnrolment] = Field(default_factory=list, max_length=16)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    programme: ShortText = "default"
    rule_overrides: dict[str, float] = Field(
        default_factory=dict, description="Per-household rule thresholds, e.g. phone_window_hours."
    )
    medical_aid: bool = False  # 의료급여 수급
    violence_risk: bool = False  # violence or threat history: never send one person alone
    landlord_on_file: bool = False
    guardians_on_file: bool = False
    responsible_worker_id: WorkerId | None = None
    matched_volunteer_id: WorkerId | None = None
    locale: Locale = Locale.KO

    @model_validator(mode="after")
    def _suspension_has_an_end(self) -> HouseholdSnapshot:
        if self.status is HouseholdStatus.SUSPENDED and self.suspended_until is None:
            raise ValueError("a suspended household needs suspended_until")
        return self


class WeeklyShift(Contract):
    """A recurring working shift in local time; weekday 0 is Monday."""

    weekday: int = Field(ge=0, le=6)
    start: time
    end: time


class DutyKind(StrEnum):
    NIGHT = "night"
    HOLIDAY = "holiday"
    WEEKEND = "weekend"


class DutySlot(Contract):
    """A rostered duty period (nights, weekends, public holidays)."""

    kind: DutyKind
    start: UtcDatetime
    end: UtcDatetime


class WorkerSnapshot(Event):
    type: Literal["registry.worker"] = "registry.worker"
    worker_id: WorkerId
    revision: int = Field(ge=1)
    roles: list[Role] = Field(min_length=1, max_length=8)
    dong_codes: list[DongCode] = Field(default_factory=list, max_length=64)
    languages: list[ShortText] = Field(default_factory=lambda: ["ko"])
    skills: list[ShortText] = Field(default_factory=list)
    timezone: ShortText = "Asia/Seoul"
    shifts: list[WeeklyShift] = Field(default_factory=list, max_length=64)
    duty: list[DutySlot] = Field(default_factory=list, max_length=256)
    max_open_tasks: int = Field(default=10, ge=0, le=500)
    active: bool = True
