"""Working days in Korea: weekends and public holidays (the ``holidays`` package) do not count."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

END_OF_WORKING_DAY = time(18, 0)


@lru_cache(maxsize=64)
def _korean_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("KR", years=year))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _korean_holidays(day.year)


def add_working_days(start: datetime, days: int, tz: ZoneInfo) -> datetime:
    """The end (18:00 local) of the ``days``-th working day after ``start``'s local date."""
    day = start.astimezone(tz).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return datetime.combine(day, END_OF_WORKING_DAY, tz).astimezone(start.tzinfo)
