"""Builders of real roster and household objects for outreach's tests."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from anbu_contracts import (
    DutyKind,
    DutySlot,
    HouseholdSnapshot,
    Role,
    Tier,
    WeeklyShift,
    WorkerSnapshot,
)

SEOUL = ZoneInfo("Asia/Seoul")
DONG = "1111051500"  # 청운효자동, 종로구
NEIGHBOUR_DONG = "1111053000"  # 사직동, same district
OTHER_DISTRICT_DONG = "1114055000"  # 중구
# Wednesday 25 November 2026, 10:00 in Seoul: a working day, office hours.
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=SEOUL)

OFFICE_HOURS = [WeeklyShift(weekday=d, start=time(9), end=time(18)) for d in range(5)]


def worker(
    wid: str,
    *roles: Role,
    dongs: tuple[str, ...] = (DONG,),
    max_open: int = 5,
    active: bool = True,
    shifts: list[WeeklyShift] | None = None,
    duty: list[DutySlot] | None = None,
    revision: int = 1,
) -> WorkerSnapshot:
    return WorkerSnapshot(
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        source="registry",
        worker_id=wid,
        revision=revision,
        roles=list(roles) or [Role.OFFICIAL],
        dong_codes=list(dongs),
        max_open_tasks=max_open,
        active=active,
        shifts=OFFICE_HOURS if shifts is None else shifts,
        duty=duty or [],
    )


def duty(start: datetime, hours: float, kind: DutyKind = DutyKind.NIGHT) -> DutySlot:
    return DutySlot(kind=kind, start=start, end=start + timedelta(hours=hours))


def household(
    hid: str = "HH-AAAAAA01",
    *,
    dong: str = DONG,
    tier: Tier = Tier.HIGH_RISK,
    responsible: str | None = None,
    volunteer: str | None = None,
    violence: bool = False,
    revision: int = 1,
    at: datetime = T0,
) -> HouseholdSnapshot:
    return HouseholdSnapshot(
        occurred_at=at,
        source="registry",
        household_id=hid,
        revision=revision,
        district_code=dong[:5],
        dong_code=dong,
        tier=tier,
        responsible_worker_id=responsible,
        matched_volunteer_id=volunteer,
        violence_risk=violence,
    )
