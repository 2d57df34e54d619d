"""One clock per service. The accelerated clock lets a demo or a test run days in minutes.

Every service reads the same ``ANBU_CLOCK_START``, ``ANBU_CLOCK_EPOCH`` and
``ANBU_CLOCK_SPEED``, so their simulated "now" agrees to within scheduling noise:
``now = start + (real_now - epoch) * speed``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...

    def real_seconds(self, simulated: timedelta) -> float:
        """How many real seconds pass while ``simulated`` passes on this clock."""
        ...

    async def sleep_until(self, instant: datetime) -> None:
        """Sleep until this clock reads ``instant`` (returns at once if it is past)."""
        ...

    def real_instant(self, instant: datetime) -> datetime:
        """The wall-clock instant at which this clock will read ``instant``."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def real_seconds(self, simulated: timedelta) -> float:
        return max(simulated.total_seconds(), 0.0)

    async def sleep_until(self, instant: datetime) -> None:
        await asyncio.sleep(self.real_seconds(instant - self.now()))

    def real_instant(self, instant: datetime) -> datetime:
        return instant


class AcceleratedClock:
    """Simulated time running ``speed`` times faster than real time from ``epoch``."""

    def __init__(self, start: datetime, epoch: datetime, speed: float) -> None:
        if start.tzinfo is None or epoch.tzinfo is None:
            raise ValueError("clock start and epoch must be timezone-aware")
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.start = start.astimezone(UTC)
        self.epoch = epoch.astimezone(UTC)
        self.speed = speed
        # Anchor on the monotonic clock so wall-clock jumps do not move simulated time.
        self._mono0 = time.monotonic()
        self._real0 = datetime.now(UTC)

    def _real_now(self) -> datetime:
        return self._real0 + timedelta(seconds=time.monotonic() - self._mono0)

    def now(self) -> datetime:
        return self.start + (self._real_now() - self.epoch) * self.speed

    def real_seconds(self, simulated: timedelta) -> float:
        return max(simulated.total_seconds() / self.speed, 0.0)

    async def sleep_until(self, instant: datetime) -> None:
        await asyncio.sleep(self.real_seconds(instant - self.now()))

    def real_instant(self, instant: datetime) -> datetime:
        return self.epoch + (instant.astimezone(UTC) - self.start) / self.speed


class ManualClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, instant: datetime) -> None:
        self._now = instant.astimezone(UTC)

    def real_seconds(self, simulated: timedelta) -> float:
        return 0.0

    async def sleep_until(self, instant: datetime) -> None:
        while self._now < instant:  # noqa: ASYNC110 - tests move the clock from outside
            await asyncio.sleep(0.01)

    def real_instant(self, instant: datetime) -> datetime:
        return datetime.now(UTC) + (instant - self._now)


def clock_from(speed: float, start: datetime | None, epoch: datetime | None) -> Clock:
    """The system clock, or an accelerated one when a start or a speed is configured."""
    if speed == 1.0 and start is None:
        return SystemClock()
    real_now = datetime.now(UTC)
    return AcceleratedClock(start=start or real_now, epoch=epoch or real_now, speed=speed)
