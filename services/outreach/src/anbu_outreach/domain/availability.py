"""Whether a worker can be reached for a task at an instant: shifts, duty rosters, nights
and Korean public holidays.

- A duty slot (night, weekend or holiday duty, UTC instants) makes a worker available for
  its whole length, whatever the hour or the day.
- A weekly shift (local wall-clock time in the worker's timezone) makes a worker available
  inside it, except at night and on Korean public holidays: then only duty-rostered staff
  are reachable (night work is rostered as duty slots, not as weekly shifts).
- A worker with neither shifts nor duty slots on record is *unrostered*. Whether they count
  as available is a deployment policy (``unrostered_available``): on while rosters are
  being entered, off once they are complete. Unrostered staff always rank after staff
  whose roster puts them at work now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from anbu_contracts import WeeklyShift, WorkerSnapshot

HolidayCheck = Callable[[date], bool]
DEFAULT_TIMEZONE = "Asia/Seoul"


class Availability(StrEnum):
    ON_DUTY = "on_duty"  # inside a rostered duty slot
    ON_SHIFT = "on_shift"  # inside a weekly shift (daytime, not a public holiday)
    UNROSTERED = "unrostered"  # no roster on record, and the policy counts them available
    OFF = "off"

    @property
    def reachable(self) -> bool:
        return self is not Availability.OFF

    @property
    def rank(self) -> int:
        """Sort order among reachable workers: rostered at work now first."""
        return 1 if self is Availability.UNROSTERED else 0


@dataclass(frozen=True)
class AvailabilityRules:
    """Night hours (local) and what an empty roster means."""

    night_start: time = time(22, 0)
    night_end: time = time(7, 0)
    unrostered_available: bool = True


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The named timezone, or Asia/Seoul when the name is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def korean_public_holidays() -> HolidayCheck:
    """Korean public holidays, substitute holidays included (the ``holidays`` package)."""
    calendar = holidays.country_holidays("KR")
    return lambda day: day in calendar


def no_holidays(_: date) -> bool:
    return False


def is_night(local: time, rules: AvailabilityRules) -> bool:
    start, end = rules.night_start, rules.night_end
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def in_shift(shift: WeeklyShift, local: datetime) -> bool:
    """Whether the local wall-clock instant is inside the weekly shift.

    A shift whose end is not after its start runs past midnight into the next weekday.
    """
    clock = local.time().replace(tzinfo=None)
    weekday = local.weekday()
    if shift.start < shift.end:
        return weekday == shift.weekday and shift.start <= clock < shift.end
    if weekday == shift.weekday and clock >= shift.start:
        return True
    return weekday == (shift.weekday + 1) % 7 and clock < shift.end


def availability(
    worker: WorkerSnapshot,
    at: datetime,
    is_holiday: HolidayCheck,
    rules: AvailabilityRules = AvailabilityRules(),  # frozen: a safe shared default
) -> Availability:
    """How ``worker`` can be reached at the instant ``at`` (aware)."""
    if any(slot.start <= at < slot.end for slot in worker.duty):
        return Availability.ON_DUTY
    if not worker.shifts and not worker.duty:
        return Availability.UNROSTERED if rules.unrostered_available else Availability.OFF
    local = at.astimezone(zone(worker.timezone))
    if is_holiday(local.date()) or is_night(local.time(), rules):
        return Availability.OFF
    if any(in_shift(shift, local) for shift in worker.shifts):
        return Availability.ON_SHIFT
    return Availability.OFF


def is_working_day(day: date, is_holiday: HolidayCheck) -> bool:
    """Monday to Friday and not a public holiday."""
    return day.weekday() < 5 and not is_holiday(day)


def next_local_time(after: datetime, at: time, tz: str) -> datetime:
    """The first instant strictly after ``after`` whose local wall-clock time is ``at``."""
    local = after.astimezone(zone(tz))
    candidate = datetime.combine(local.date(), at, tzinfo=zone(tz))
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone(tz))
    return candidate.astimezone(after.tzinfo)
