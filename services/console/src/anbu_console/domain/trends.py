"""Trend charts: counts per day and a median per week, drawn as small SVG bar charts.

Pure functions: the read model's rows go in, buckets and bar geometry come out. Days and
weeks are local (the console's timezone), so "today" is the operators' today.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

SEVERITIES = ("watch", "caution", "alert", "critical")


def days_back(today: date, days: int) -> list[date]:
    """The last ``days`` local days, oldest first, ending today."""
    return [today - timedelta(days=n) for n in range(days - 1, -1, -1)]


def hours_back(now: datetime, hours: int) -> list[datetime]:
    """The last ``hours`` UTC hours, oldest first, ending with the hour holding ``now``."""
    top = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return [top - timedelta(hours=n) for n in range(hours - 1, -1, -1)]


def week_of(day: date) -> date:
    """The Monday of the week holding ``day``."""
    return day - timedelta(days=day.weekday())


def per_day(
    rows: Iterable[tuple[datetime, str]], days: Sequence[date], zone: ZoneInfo
) -> dict[date, dict[str, int]]:
    """Counts per local day and per key, for the given days only (zeros included)."""
    counts: dict[date, dict[str, int]] = {day: defaultdict(int) for day in days}
    for at, key in rows:
        day = at.astimezone(zone).date()
        if day in counts:
            counts[day][key] += 1
    return {day: dict(by_key) for day, by_key in counts.items()}


def first_contact_hours(
    alerts: Iterable[tuple[str, datetime, datetime]],
    contacts: Iterable[tuple[str, datetime]],
) -> list[tuple[datetime, float]]:
    """Per alert (household, opened, first signal): hours from the signal to the first
    contact recorded with the household at or after the alert opened; alerts without a
    contact yet are left out."""
    by_household: dict[str, list[datetime]] = defaultdict(list)
    for household, at in contacts:
        by_household[household].append(at)
    out = []
    for household, opened, signalled in alerts:
        later = [at for at in by_household.get(household, []) if at >= opened]
        if later:
            out.append((opened, (min(later) - signalled).total_seconds() / 3600))
    return out


def weekly_median(
    values: Iterable[tuple[datetime, float]], weeks: Sequence[date], zone: ZoneInfo
) -> dict[date, float | None]:
    """The median of the values per local week (keyed by its Monday); None for empty weeks."""
    buckets: dict[date, list[float]] = {week: [] for week in weeks}
    for at, value in values:
        week = week_of(at.astimezone(zone).date())
        if week in buckets:
            buckets[week].append(value)
    return {w: round(statistics.median(v), 1) if v else None for w, v in buckets.items()}


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    key: str  # the series (e.g. a severity); "" for a single series
    value: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    top: float  # the value of the top of the scale
    bars: list[Bar]
    labels: list[tuple[float, str]]  # x position, text (every few bars)


def nice_top(value: float) -> float:
    """A round value at or above ``value`` for the top of the scale (1, 2, 5, 10, 20…)."""
    top = 1.0
    while top < value:
        for factor in (2.0, 2.5, 2.0):
            top *= factor
            if top >= value:
                break
    return top


def bar_chart(
    columns: Sequence[tuple[str, dict[str, float]]],
    keys: Sequence[str],
    width: int = 640,
    height: int = 160,
    label_every: int = 1,
) -> Chart:
    """Stacked bars: one column per (label, values by key), stacked in ``keys`` order."""
    base = height - 20  # room for the labels below
    top = nice_top(max((sum(v.get(k, 0) for k in keys) for _, v in columns), default=0))
    slot = width / max(len(columns), 1)
    bars, labels = [], []
    for index, (label, values) in enumerate(columns):
        x, y = index * slot + slot * 0.15, float(base)
        for key in keys:
            value = values.get(key, 0)
            if not value:
                continue
            tall = base * value / top
            y -= tall
            bars.append(
                Bar(round(x, 1), round(y, 1), round(slot * 0.7, 1), round(tall, 1), key, value)
            )
        if index % label_every == 0:
            labels.append((round(index * slot + slot / 2, 1), label))
    return Chart(width, height, top, bars, labels)


@dataclass(frozen=True)
class Marker:
    """A vertical line across a chart of hourly columns at one instant."""

    x: float
    inside: bool  # False: the instant is before the first column; drawn at the left edge


def instant_marker(hours: Sequence[datetime], at: datetime, width: int = 640) -> Marker:
    """Where ``at`` falls on a chart of one column per hour (``bar_chart``'s slots)."""
    slot = width / max(len(hours), 1)
    offset = (at - hours[0]).total_seconds() / 3600 * slot if hours else 0.0
    return Marker(round(min(max(offset, 0.0), float(width)), 1), offset >= 0)
