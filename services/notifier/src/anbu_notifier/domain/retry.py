"""How long to wait before trying a provider again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries of temporary failures on one channel.

    ``attempts`` provider calls at most, and never a wait that would end more than
    ``budget_s`` seconds after the first call; then the next channel is tried.
    """

    attempts: int = 5
    base_s: float = 0.5
    max_s: float = 30.0
    budget_s: float = 120.0

    def delay(self, failed_attempt: int, retry_after: float | None, jitter: float) -> float:
        """Seconds to wait after the ``failed_attempt``-th call failed (1-based).

        A provider's Retry-After is honoured as a floor; otherwise exponential backoff with
        "equal jitter" (half fixed, half random) so that many senders do not retry in step.
        ``jitter`` is a number in [0, 1) the caller draws.
        """
        if retry_after is not None:
            return max(retry_after, 0.0) + self.base_s * jitter
        ceiling = min(self.max_s, self.base_s * 2.0 ** (failed_attempt - 1))
        return ceiling / 2 + ceiling / 2 * jitter


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delay-seconds or an HTTP date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)
