"""Absence: channel clocks that fell silent become findings; activity again resolves them.

The channel clocks live in the in-memory index (``domain/monitor.py``); heartbeats only
move them there. This module turns what the index reports — expiries after a sweep,
recoveries after a batch — into alerts, and writes the index's changes back.
"""

from __future__ import annotations

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

from ..adapters.repository import ChannelClockRow
from ..domain.absence import fuse
from ..domain.alerts import Finding
from ..domain.monitor import Expiry, Monitor, Recovery
from ..domain.rules import RuleSet
from .findings import conclude, resolve_absence
from .unit import Uow


def on_expiries(uow: Uow, expired: list[Expiry]) -> None:
    """Channels fell silent: a household silent enough (fused over channels) is a finding."""
    repos = uow.repos
    latest = {e.household_id: e for e in expired}  # the last expiry has every silent channel
    for household_id, expiry in latest.items():
        household = repos.household(household_id)
        if household is None:
            continue
        rules = repos.rules_for(household)
        fused = fuse(set(expiry.silent), set(expiry.enrolled), rules.absence)
        if fused is None:
            continue
        finding = Finding(
            reason=fused.reason,
            severity=fused.severity,
            rule=absence_rule(repos.monitor, rules, household_id, fused.silent),
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
    repos.upsert_channels(dirty_rows(repos.monitor))


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
    monitor: Monitor, rules: RuleSet, household_id: str, silent: tuple[MonitoringChannel, ...]
) -> RuleRef:
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
    households = monitor.households
    return [
        (
            household_id,
            channel.value,
            households[household_id].partition,
            clock.last_active,
            clock.silent,
        )
        for household_id, channel, clock in monitor.take_dirty()
    ]
