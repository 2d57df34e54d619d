"""Absence: channel clocks that fell silent become findings; activity again resolves them.

The channel clocks live in the in-memory index (``domain/monitor.py``); heartbeats only
move them there. This module turns what the index reports — expiries after a sweep,
recoveries after a batch — into alerts, and writes the index's changes back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from uuid import uuid4

from anbu_contracts import (
    AlertReason,
    AlertResolution,
    EvidenceRef,
    MonitoringChannel,
    RuleRef,
    SignalKind,
)

from ..adapters.index_store import ChannelClockRow
from ..adapters.orm import NO_RHYTHM, rhythm_columns
from ..domain.absence import SilenceScore, explain, fuse
from ..domain.alerts import Finding
from ..domain.monitor import Monitor
from ..domain.rules import RuleSet
from ..domain.watch import ChannelClock, Expiry, Recovery
from .findings import conclude, resolve_absence
from .unit import Uow


def on_expiries(uow: Uow, expired: list[Expiry], clocks: list[ChannelClockRow]) -> None:
    """Channels fell silent: a household silent enough (fused over channels) is a finding.

    ``clocks`` (the expired households' channel clocks, silent now) are written with the
    findings; the rest of the index's changes are the flush's."""
    repos = uow.repos
    latest = {e.household_id: e for e in expired}  # the last expiry has every silent channel
    for household_id, expiry in latest.items():
        household = repos.household(household_id)
        if household is None:
            continue
        rules = repos.rules_for(household)
        # Learned rhythms: how unusual this silence is for this household (None: windows).
        score = repos.monitor.explain(household_id, uow.now)
        fused = fuse(set(expiry.silent), set(expiry.enrolled), rules.absence, score)
        if fused is None:
            continue
        finding = Finding(
            reason=fused.reason,
            severity=fused.severity,
            rule=absence_rule(repos.monitor, rules, household_id, fused.silent, score),
            evidence=absence_evidence(repos.monitor, household_id, fused.silent),
        )
        conclude(
            uow,
            household_id,
            household.partition,
            finding,
            rules,
            str(uuid4()),
            f"absence:{household_id}",
            {},
        )
    repos.upsert_channels(clocks)


def on_recovery(uow: Uow, recovery: Recovery) -> None:
    """A silent channel is active again: the person is not silent everywhere any more."""
    rules = uow.repos.rules_for(uow.repos.household(recovery.household_id))
    if not rules.absence.recovery_resolves:
        return
    if recovery.still_silent:
        resolve_absence(
            uow,
            recovery.household_id,
            AlertResolution.RECOVERY,
            reasons=(AlertReason.SAFETY_NOT_CONFIRMED,),
        )
    else:
        resolve_absence(uow, recovery.household_id, AlertResolution.RECOVERY)


def absence_rule(
    monitor: Monitor,
    rules: RuleSet,
    household_id: str,
    silent: tuple[MonitoringChannel, ...],
    score: SilenceScore | None = None,
) -> RuleRef:
    """The thresholds that decided: the windows, and with learned rhythms the model's
    factors (score, per channel its surprise, reliability and normal week) as well."""
    watch = monitor.households[household_id]
    windows = watch.config.windows if watch.config else {}
    thresholds: dict[str, float | int | str | bool] = {
        f"{c.value}_window_hours": round(windows[c].total_seconds() / 3600, 2) for c in windows
    }
    thresholds["silent_channels"] = ",".join(c.value for c in silent)
    thresholds["enrolled_channels"] = ",".join(sorted(c.value for c in windows))
    if watch.config:
        thresholds["quiet_hours"] = (
            f"{watch.config.quiet.start:%H:%M}-{watch.config.quiet.end:%H:%M}"
        )
    if score is not None:
        thresholds.update(explain(score, rules.absence))
    return RuleRef(rule_id=rules.absence.rule_id, rule_version=rules.version, thresholds=thresholds)


def absence_evidence(
    monitor: Monitor, household_id: str, silent: tuple[MonitoringChannel, ...]
) -> tuple[EvidenceRef, ...]:
    """The last heartbeat of each silent channel (a channel never heard from has none)."""
    watch = monitor.households[household_id]
    refs = []
    for channel in silent:
        clock = watch.channels.get(channel)
        if clock is not None and clock.last_event is not None and clock.last_partner:
            refs.append(
                EvidenceRef(
                    event_id=clock.last_event,
                    kind=SignalKind.HEARTBEAT,
                    partner_id=clock.last_partner,
                    occurred_at=datetime.fromtimestamp(clock.last_active, tz=UTC),
                )
            )
    return tuple(refs)


def dirty_rows(monitor: Monitor) -> list[ChannelClockRow]:
    """The index's changed channel clocks, as rows to write (taken: written once)."""
    return [row for rows in dirty_slices(monitor, None) for row in rows]


def dirty_slices(monitor: Monitor, size: int | None) -> Iterator[list[ChannelClockRow]]:
    """The index's changed channel clocks (taken at once), as rows in slices of ``size``.

    The rows of a slice are built when it is asked for, so a caller that awaits between
    slices holds the event loop for one slice at a time, not for the whole index. A clock
    that moves meanwhile is written as it is then (newer, never older) and is dirty again.
    A clock's learned week goes with it only when it learned something since it was last
    written (at most once a 4-hour block), so most rows of the hot flush carry four NULLs
    that keep what is stored.
    """
    taken = monitor.take_dirty()
    step = size or max(len(taken), 1)
    for start in range(0, len(taken), step):
        yield _rows(monitor, taken[start : start + step])


def clock_rows(monitor: Monitor, households: Iterable[str]) -> list[ChannelClockRow]:
    """Every channel clock of these households, as rows (they stay dirty for the flush)."""
    watches = [(h, monitor.households.get(h)) for h in households]
    return _rows(monitor, [(h, c, k) for h, w in watches if w for c, k in w.channels.items()])


def _rows(
    monitor: Monitor, clocks: Iterable[tuple[str, MonitoringChannel, ChannelClock]]
) -> list[ChannelClockRow]:
    households = monitor.households
    rows: list[ChannelClockRow] = []
    for household_id, channel, clock in clocks:
        watch = households.get(household_id)
        if watch is None:  # forgotten since it was taken (consent withdrawn): as take_dirty
            continue
        rhythm = clock.rhythm
        learned = (
            rhythm_columns(rhythm)
            if rhythm is not None and rhythm.changed_since_stored()
            else NO_RHYTHM
        )
        rows.append(
            (
                household_id,
                channel.value,
                watch.partition,
                clock.last_active,
                clock.silent,
                *learned,
            )
        )
    return rows
