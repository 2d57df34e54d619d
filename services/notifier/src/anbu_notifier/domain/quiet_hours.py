"""Quiet hours: routine messages that would land at night wait until morning, local time.

Only ``routine`` messages wait. ``critical`` and ``high`` go at once: in this product a
``high`` message is a protocol step (the day-1 text, a task offer to the official on
duty) whose timing the protocol already chose, and delaying it by a night would break the
protocol's clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from anbu_contracts import Urgency

from .model import DEFAULT_TIMEZONE, Recipient

WAITS_FOR_MORNING = frozenset({Urgency.ROUTINE})


def zone(name: str) -> ZoneInfo:
    """The recipient's time zone; an unknown name falls back to Asia/Seoul."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def is_quiet(local: time, start: time, end: time) -> bool:
    """Whether the local wall-clock time ``local`` falls in [start, end) (may wrap midnight)."""
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def release_at(now: datetime, urgency: Urgency, recipient: Recipient) -> datetime | None:
    """When a message to ``recipient`` may go, if it must wait; None means "now".

    ``now`` is an aware instant. The answer is the end of the recipient's quiet hours in
    their own time zone, as a UTC instant.
    """
    start, end = recipient.quiet_start, recipient.quiet_end
    if urgency not in WAITS_FOR_MORNING or start is None or end is None:
        return None
    tz = zone(recipient.timezone)
    local = now.astimezone(tz)
    wall = local.time().replace(tzinfo=None)
    if not is_quiet(wall, start, end):
        return None
    day = local.date()
    if start > end and wall >= start:  # before midnight in a window that wraps it
        day += timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz).astimezone(UTC)
