"""Daily rhythms: how likely each channel shows life in a given local hour.

People sleep (23:00–07:00 or so), get up later on weekends and Korean public holidays,
cook and watch television around meals and in the evening. A phone is busy while its owner
is awake; a smart plug (kettle, television, rice cooker) follows the meals; a motion sensor
sees the person whenever they are up, and now and then at night.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays

from anbu_contracts import MonitoringChannel

from .population import HouseholdProfile

_MEALS = frozenset({7, 8, 12, 18, 19, 20})


@lru_cache(maxsize=64)
def _korean_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("KR", years=year))


def is_day_off(day: date) -> bool:
    """A weekend or a Korean public holiday (설날, 추석 and the rest)."""
    return day.weekday() >= 5 or day in _korean_holidays(day.year)


def awake(profile: HouseholdProfile, hour: int, day_off: bool) -> bool:
    wake = profile.wake_hour + (1.5 if day_off else 0.0)
    sleep = profile.sleep_hour + (0.5 if day_off else 0.0)
    return wake <= hour + 0.5 < sleep


def active_probability(
    profile: HouseholdProfile, channel: MonitoringChannel, hour: int, day_off: bool
) -> float:
    """The chance that ``channel`` records any activity during local ``hour`` (0–23)."""
    up = awake(profile, hour, day_off)
    if channel is MonitoringChannel.PHONE:
        if not up:
            return 0.02
        busy = 0.35 + 0.55 * profile.phone_use
        return min(busy * (1.2 if hour >= 18 else 1.0) * (1.1 if day_off else 1.0), 0.95)
    if channel in (MonitoringChannel.SMART_PLUG, MonitoringChannel.APPLIANCE):
        if not up:
            return 0.03
        return 0.75 if hour in _MEALS else 0.3
    if channel is MonitoringChannel.MOTION_SENSOR:
        return 0.85 if up else 0.08
    return 0.9 if up else 0.4  # wearable: worn most of the day, some nights


def hourly_profile(
    profile: HouseholdProfile, channel: MonitoringChannel, day_off: bool
) -> tuple[float, ...]:
    """The 24 hourly probabilities of one channel on a working day or a day off."""
    return tuple(active_probability(profile, channel, h, day_off) for h in range(24))
