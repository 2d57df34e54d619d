"""Partner feeds: a feed that has sent nothing for longer than its threshold is stale."""

from __future__ import annotations

from datetime import datetime, timedelta


def stale_threshold(kind: str, default_hours: float, hours_by_kind: dict[str, float]) -> timedelta:
    """How long a feed of ``kind`` may be silent before it is flagged."""
    return timedelta(hours=hours_by_kind.get(kind, default_hours))


def is_stale(last_produced_at: datetime, now: datetime, threshold: timedelta) -> bool:
    """A feed is stale when its newest signal arrived longer than ``threshold`` ago."""
    return now - last_produced_at > threshold
