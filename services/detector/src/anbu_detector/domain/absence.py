"""Absence detection: inactivity windows per channel, quiet hours, and fusion across channels.

A heartbeat resets its channel's window. A window that would end inside the household's
quiet hours (23:00–07:00 local by default) ends when they end instead: quiet hours extend a
window, never shorten it. When a channel's window runs out the channel is silent; one
enrolled channel silent while another is active is ``watch``; every enrolled channel silent
is "safety not confirmed".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from anbu_contracts import AlertReason, MonitoringChannel, Severity

from .rules import AbsenceRule


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # spans midnight


def window_end(
    last_active: datetime, window: timedelta, quiet: QuietHours, tz: ZoneInfo
) -> datetime:
    """When a channel last active at ``last_active`` falls silent.

    An end inside the quiet hours moves to the next end of the quiet hours.
    """
    end = last_active + window
    local = end.astimezone(tz)
    if not quiet.contains(local.time()):
        return end
    quiet_end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if quiet_end <= local:
        quiet_end += timedelta(days=1)
    return quiet_end.astimezone(end.tzinfo)


@dataclass(frozen=True)
class AbsenceFinding:
    reason: AlertReason
    severity: Severity
    silent: tuple[MonitoringChannel, ...]


def fuse(
    silent: set[MonitoringChannel], enrolled: set[MonitoringChannel], rule: AbsenceRule
) -> AbsenceFinding | None:
    """What the silent channels among the enrolled (consented) ones mean."""
    relevant = silent & enrolled
    if not relevant:
        return None
    ordered = tuple(sorted(relevant, key=lambda c: c.value))
    if relevant == enrolled:
        return AbsenceFinding(AlertReason.SAFETY_NOT_CONFIRMED, rule.all_silent_severity, ordered)
    return AbsenceFinding(AlertReason.CHANNEL_SILENT, rule.one_silent_severity, ordered)
