"""Availability: shifts in local time, duty rosters, nights and Korean public holidays."""

from __future__ import annotations

from datetime import datetime, time

from anbu_contracts import WeeklyShift
from anbu_outreach.domain.availability import (
    Availability,
    AvailabilityRules,
    availability,
    in_shift,
    is_working_day,
    korean_public_holidays,
)

from .roster_builders import SEOUL, T0, duty, worker

HOLIDAYS = korean_public_holidays()
HANGUL_DAY = datetime(2026, 10, 9, 10, 0, tzinfo=SEOUL)  # 한글날, a Friday


def test_a_worker_is_available_inside_a_weekly_shift_in_their_own_local_time() -> None:
    officer = worker("W-A01")
    assert availability(officer, T0, HOLIDAYS) is Availability.ON_SHIFT
    assert availability(officer, T0.replace(hour=8, minute=59), HOLIDAYS) is Availability.OFF
    assert availability(officer, T0.replace(hour=18), HOLIDAYS) is Availability.OFF
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=SEOUL)
    assert availability(officer, saturday, HOLIDAYS) is Availability.OFF


def test_shifts_are_read_in_the_workers_timezone() -> None:
    abroad = worker("W-A01").model_copy(update={"timezone": "Europe/London"})
    # 10:00 in Seoul is 01:00 in London: night there, not a shift.
    assert availability(abroad, T0, HOLIDAYS) is Availability.OFF


def test_at_night_only_duty_rostered_staff_are_available() -> None:
    night = datetime(2026, 11, 25, 23, 30, tzinfo=SEOUL)
    late_shift = [WeeklyShift(weekday=2, start=time(14), end=time(23, 59))]
    evening_worker = worker("W-A01", shifts=late_shift)
    on_duty = worker("W-A02", duty=[duty(night.replace(hour=18), 15)])
    assert availability(evening_worker, night, HOLIDAYS) is Availability.OFF
    assert availability(on_duty, night, HOLIDAYS) is Availability.ON_DUTY


def test_on_a_public_holiday_only_duty_rostered_staff_are_available() -> None:
    assert HOLIDAYS(HANGUL_DAY.date())
    office = worker("W-A01")
    holiday_duty = worker("W-A02", duty=[duty(HANGUL_DAY.replace(hour=9), 9)])
    assert availability(office, HANGUL_DAY, HOLIDAYS) is Availability.OFF
    assert availability(holiday_duty, HANGUL_DAY, HOLIDAYS) is Availability.ON_DUTY
    assert not is_working_day(HANGUL_DAY.date(), HOLIDAYS)


def test_unrostered_staff_count_as_available_only_when_the_policy_says_so() -> None:
    unrostered = worker("W-A01", shifts=[])
    assert availability(unrostered, T0, HOLIDAYS) is Availability.UNROSTERED
    strict = AvailabilityRules(unrostered_available=False)
    assert availability(unrostered, T0, HOLIDAYS, strict) is Availability.OFF


def test_a_shift_past_midnight_runs_into_the_next_weekday() -> None:
    shift = WeeklyShift(weekday=2, start=time(20), end=time(2))
    assert in_shift(shift, datetime(2026, 11, 25, 21, 0, tzinfo=SEOUL))  # Wednesday
    assert in_shift(shift, datetime(2026, 11, 26, 1, 0, tzinfo=SEOUL))  # Thursday early
    assert not in_shift(shift, datetime(2026, 11, 26, 3, 0, tzinfo=SEOUL))
