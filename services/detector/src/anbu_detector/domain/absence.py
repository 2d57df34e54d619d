"""Absence detection: inactivity windows per channel, quiet hours, and fusion across channels.

A heartbeat resets its channel's window. A window that would end inside the household's
quiet hours (23:00–07:00 local by default) ends when they end instead: quiet hours extend a
window, never shorten it. When a channel's window runs out the channel is silent; one
enrolled channel silent while another is active is ``watch``; every enrolled channel silent
is "safety not confirmed".

With learned rhythms (``absence.rhythm.enabled``) a channel falls silent when its silence is
surprising for *this* household (``rhythm.py``) instead of after the fixed window, and the
household's score — the surprise summed over its silent channels — decides the response:
below ``person_at_nats`` an automated check first (``check_first_severity``), at or above it,
or once no channel has shown life for ``max_hours`` (the floor), a person at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from anbu_contracts import AlertReason, MonitoringChannel, Severity

from .rhythm import MODEL_VERSION, RhythmParams, params_from_rule
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


@dataclass(frozen=True)
class ChannelSilence:
    """One channel's part in a household's silence, as the alert explains it."""

    channel: MonitoringChannel
    silent_hours: float
    surprise_nats: float  # how unusual this silence is for this household's rhythm
    reliability: float  # 1: never drops out; lower for a channel with self-ended outages
    baseline_blocks_per_week: float  # its normal: active 4-hour blocks in a week (of 42)
    weeks_learned: float


@dataclass(frozen=True)
class SilenceScore:
    """The household's accumulated evidence of absence across its channels."""

    channels: tuple[ChannelSilence, ...]
    floor_hours: float

    @property
    def score(self) -> float:
        return sum(c.surprise_nats for c in self.channels)

    @property
    def at_floor(self) -> bool:
        """No channel has shown life for the floor's hours: a person goes, whatever the score."""
        return bool(self.channels) and all(
            c.silent_hours >= self.floor_hours - 0.01 for c in self.channels
        )


def rhythm_params(rule: AbsenceRule) -> dict[MonitoringChannel, RhythmParams] | None:
    """The learned-rhythm parameters per channel, or None when the rule uses fixed windows."""
    r = rule.rhythm
    if not r.enabled:
        return None
    return params_from_rule(
        r.threshold_nats, r.min_hours, r.max_hours, r.prior_weeks, r.cold_start, r.outage_weight
    )


def fuse(
    silent: set[MonitoringChannel],
    enrolled: set[MonitoringChannel],
    rule: AbsenceRule,
    score: SilenceScore | None = None,
) -> AbsenceFinding | None:
    """What the silent channels among the enrolled (consented) ones mean.

    With a ``score`` (learned rhythms), every channel silent is "safety not confirmed" at
    the rhythm's check-first severity unless the score reaches ``person_at_nats`` or the
    floor is reached; without one, at ``all_silent_severity`` as always.
    """
    relevant = silent & enrolled
    if not relevant:
        return None
    ordered = tuple(sorted(relevant, key=lambda c: c.value))
    if relevant == enrolled:
        severity = rule.all_silent_severity
        if score is not None and not score.at_floor and score.score < rule.rhythm.person_at_nats:
            severity = rule.rhythm.check_first_severity
        return AbsenceFinding(AlertReason.SAFETY_NOT_CONFIRMED, severity, ordered)
    return AbsenceFinding(AlertReason.CHANNEL_SILENT, rule.one_silent_severity, ordered)


def explain(score: SilenceScore, rule: AbsenceRule) -> dict[str, float | int | str | bool]:
    """The alert's factors, weights and baseline, for ``RuleRef.thresholds``.

    An official reads: which model, the household's score against the thresholds, and per
    channel how long it has been silent, how unusual that is for this household (its
    weight in the score), how reliable the channel is, and what its normal week looks like.
    """
    r = rule.rhythm
    factors: dict[str, float | int | str | bool] = {
        "model": MODEL_VERSION,
        "score_nats": round(score.score, 2),
        "threshold_nats": r.threshold_nats,
        "person_at_nats": r.person_at_nats,
        "floor_hours": r.max_hours,
        "at_floor": score.at_floor,
    }
    for c in score.channels:
        key = c.channel.value
        factors[f"{key}.silent_hours"] = round(c.silent_hours, 1)
        factors[f"{key}.surprise_nats"] = round(c.surprise_nats, 2)
        factors[f"{key}.reliability"] = round(c.reliability, 2)
        factors[f"{key}.baseline_blocks_per_week"] = round(c.baseline_blocks_per_week, 1)
        factors[f"{key}.weeks_learned"] = round(c.weeks_learned, 1)
    return factors
