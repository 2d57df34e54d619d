"""Pace sends per channel: a token bucket where a rate is configured, and a pause on 429."""

from __future__ import annotations

import asyncio
import time

from ..domain.rate_limit import TokenBucket


class ChannelGate:
    """Callers ``await acquire()`` before each provider call on the channel."""

    def __init__(self, rate_per_second: float | None = None, burst: int = 10) -> None:
        now = time.monotonic()
        # Without a configured rate the bucket is effectively unlimited; it still carries
        # the pause a 429 imposes on every sender of the channel.
        self._bucket = TokenBucket(rate_per_second or 1e9, max(burst, 1), now)

    async def acquire(self) -> None:
        wait = self._bucket.reserve(time.monotonic())
        if wait > 0:
            await asyncio.sleep(wait)

    def pause(self, seconds: float) -> None:
        self._bucket.pause(time.monotonic() + seconds)
