"""A token bucket per channel, so providers' published rate limits are respected."""

from __future__ import annotations


class TokenBucket:
    """``rate`` sends per second on average, bursts of up to ``burst``.

    Time is passed in (monotonic seconds) so the bucket is deterministic to test. A 429
    from the provider pauses the bucket until its Retry-After has passed.
    """

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._updated = now
        self._paused_until = now

    def reserve(self, now: float) -> float:
        """Take one token; return how many seconds the caller must wait before sending."""
        self._refill(now)
        self._tokens -= 1.0
        wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        return max(wait, self._paused_until - now)

    def pause(self, until: float) -> None:
        """Hold every send until ``until`` (the provider said: too many requests)."""
        self._paused_until = max(self._paused_until, until)

    def _refill(self, now: float) -> None:
        elapsed = max(now - self._updated, 0.0)
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._updated = now
