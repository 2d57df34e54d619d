"""Per-partner rate limits: a token bucket that counts records, not requests.

Each partner has a bucket holding at most ``rate_limit_per_minute`` tokens, refilled
continuously at ``rate_limit_per_minute / 60`` tokens a second. A record costs one token, so
a 10,000-line batch costs 10,000. A request is admitted whole or not at all: when the bucket
holds fewer tokens than the request has records, it is refused with the seconds until it
would fit. A request with more records than the bucket can ever hold is refused for good
(split it, or upload a file). File rows are paced instead of refused: the file worker waits
for tokens, so a partner's total over every channel stays within its limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Admission:
    allowed: bool
    retry_after_s: int = 0  # whole seconds until the request would fit (0 when allowed)
    never: bool = False  # more records than the bucket holds: it can never be admitted
    remaining: int = 0


@dataclass
class TokenBucket:
    capacity: float
    refill_per_second: float
    tokens: float
    updated: float

    @classmethod
    def per_minute(cls, limit: int, now: float) -> TokenBucket:
        """A full bucket for ``limit`` records a minute."""
        limit = max(limit, 1)
        return cls(float(limit), limit / 60.0, float(limit), now)

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(
                self.capacity, self.tokens + (now - self.updated) * self.refill_per_second
            )
            self.updated = now

    def reconfigure(self, limit: int, now: float) -> None:
        """Apply a changed limit (the tokens held are kept, up to the new capacity)."""
        self._refill(now)
        limit = max(limit, 1)
        self.capacity = float(limit)
        self.refill_per_second = limit / 60.0
        self.tokens = min(self.tokens, self.capacity)

    def seconds_until(self, cost: float, now: float) -> float:
        """Seconds until ``cost`` tokens are available (``cost`` ≤ capacity)."""
        self._refill(now)
        missing = cost - self.tokens
        return 0.0 if missing <= 0 else missing / self.refill_per_second

    def admit(self, cost: int, now: float) -> Admission:
        """Take ``cost`` tokens if the bucket holds them; otherwise say when it will."""
        self._refill(now)
        cost = max(cost, 1)
        if cost > self.capacity:
            return Admission(False, never=True, remaining=int(self.tokens))
        if cost <= self.tokens:
            self.tokens -= cost
            return Admission(True, remaining=int(self.tokens))
        wait = (cost - self.tokens) / self.refill_per_second
        return Admission(False, retry_after_s=max(1, math.ceil(wait)), remaining=int(self.tokens))


@dataclass
class RateLimiter:
    """One bucket per partner (in this gateway instance)."""

    buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def bucket(self, partner_id: str, limit: int, now: float) -> TokenBucket:
        bucket = self.buckets.get(partner_id)
        if bucket is None:
            bucket = self.buckets[partner_id] = TokenBucket.per_minute(limit, now)
        elif bucket.capacity != max(limit, 1):
            bucket.reconfigure(limit, now)
        return bucket

    def admit(self, partner_id: str, limit: int, records: int, now: float) -> Admission:
        return self.bucket(partner_id, limit, now).admit(records, now)

    def pace(self, partner_id: str, limit: int, records: int, now: float) -> tuple[int, float]:
        """For paced work (file rows): take up to ``records`` tokens now.

        Returns (tokens taken, seconds to wait before asking again when none were taken).
        """
        bucket = self.bucket(partner_id, limit, now)
        want = min(max(records, 1), int(bucket.capacity))
        wait = bucket.seconds_until(want, now)
        if wait > 0:
            available = int(bucket.tokens)
            if available >= 1:
                bucket.tokens -= available
                return available, 0.0
            return 0, bucket.seconds_until(1, now)
        bucket.tokens -= want
        return want, 0.0
