"""Detection quality: how many injected crises the detector's rules find, how fast, at what
cost in false alerts — single-channel rules against fused rules, and the national list.

    uv run --frozen python bench/detection_quality.py [--households 100000] [--days 90]
        [--seed 1] [--crisis-rate 0.1] [--out bench/results/detection_quality.json]
        [--doc docs/detection-quality.md]

The population simulator (``anbu_simulator.domain``) generates a seeded period of partner
signals with injected crises (the ground truth). The signals go, in delivery order and on
the simulated clock, through the detector's *pure domain rules* in this process — the
inactivity index (``Monitor``), channel fusion, the safety-call streak, the signal rules,
the alert lifecycle and the protocol state machine. This measures the rules, not Kafka,
the databases or the services (see ``bench/detector_throughput.py`` for those).

Per rule variant:

- **recall**: injected crises with an actionable alert (one that starts a protocol, so a
  person is sent) on the household within the crisis kind's horizon after onset;
- **time to first alert** from onset, and **time to first human contact**: the deadline of
  the first task the protocol creates (day-1 call within 8 h, emergency response within
  1 h, welfare-check call within 3 working days) — contact as the protocol's timing
  promises it, not as people keep it;
- **false alerts**: actionable alerts on households with no crisis under way, per 1,000
  households per week.

A person's contact settles an alert: a household not in crisis is found well (the alert is
resolved, a safety-call streak starts again); a household in crisis is found.

Variants: **fused** is the detector as configured (absence fused across a household's
channels: one silent channel is only "watch", all silent is "safety not confirmed");
**single-channel** treats each channel's silence as "safety not confirmed" on its own, as
a stand-alone phone-inactivity or smart-plug programme does. The other signal rules are the
same in both. **National list** is one blind-spot list every two months, nothing else.
"""

from __future__ import annotations

import argparse
import functools
import gc
import heapq
import json
import math
import multiprocessing
import os
import pickle
import platform
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from anbu_contracts import (
    AlertReason,
    ArrearsSignal,
    BlindSpotSignal,
    DeviceState,
    DeviceStatusSignal,
    DisconnectionSignal,
    HospitalAdmissionSignal,
    HospitalDischargeSignal,
    MailUncollectedSignal,
    MonitoringChannel,
    ReportCategory,
    ReportSignal,
    RuleRef,
    SafetyCallSignal,
    Severity,
    SignalKind,
    SosSignal,
    TaskAction,
    UsageDropSignal,
)
from anbu_contracts.signals import Signal
from anbu_detector.adapters.config_files import load_catalog, load_protocols
from anbu_detector.domain import alerts, protocols, safety_calls, signal_rules
from anbu_detector.domain.absence import QuietHours, SilenceScore, explain, fuse, rhythm_params
from anbu_detector.domain.alerts import Finding
from anbu_detector.domain.monitor import Monitor
from anbu_detector.domain.protocols import Context, ProtocolSpec
from anbu_detector.domain.rules import RuleSet
from anbu_detector.domain.watch import Expiry, Recovery, WatchConfig
from anbu_simulator.domain.crises import Crisis, CrisisKind
from anbu_simulator.domain.population import HouseholdProfile, synthetic_population
from anbu_simulator.domain.simulation import SEOUL, Flaw, Observation, Simulation, SimulationConfig

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 1, 5, tzinfo=SEOUL)  # a Monday; lists on 20 Feb and 20 Apr
HORIZON: dict[CrisisKind, timedelta] = {
    CrisisKind.FALL: timedelta(days=3),
    CrisisKind.ACUTE_ILLNESS: timedelta(days=7),
    CrisisKind.DISAPPEARANCE: timedelta(days=7),
    CrisisKind.DEATH: timedelta(days=7),
    CrisisKind.FINANCIAL_COLLAPSE: timedelta(days=75),
}
ABSENCE = (AlertReason.SAFETY_NOT_CONFIRMED, AlertReason.CHANNEL_SILENT)
CHECK_FIRST = "safety-check-first"
CARE = "transition-care"  # hospital discharges: care work, counted apart from false alerts
SHARDS = 16  # fixed, so that the figures do not depend on the number of cores
WARMUP_DAYS = 28  # history the detector has seen before the scored period


@dataclass
class OpenedAlert:
    household_id: str
    reason: AlertReason
    severity: Severity
    at: datetime
    protocol_id: str | None
    contact_at: datetime | None
    rule_id: str = ""
    # An automated check went first (safety-check-first): the person's task is created at
    # ``person_at`` unless the household answered before (``answered_at``).
    person_at: datetime | None = None
    answered_at: datetime | None = None
    score: float | None = None
    # An absence alert: what the household was really doing (the simulator's episodes, read
    # only to explain false alerts in the figures, never by the rules).
    situation: tuple[str, ...] = ()

    @property
    def sends_person(self) -> bool:
        return self.protocol_id is not None and self.answered_at is None


@dataclass
class RuleHarness:
    """The detector's decisions, made by its pure domain code on a simulated clock."""

    mode: str  # "fused" | "single"
    rules: RuleSet
    specs: dict[str, ProtocolSpec]
    profiles: dict[str, HouseholdProfile]
    check_first: bool = True  # False: the 2026.11 protocol map (a person for every silence)
    since: datetime = START  # when watching began (the warm-up's start)
    monitor: Monitor = field(default_factory=Monitor)
    open: dict[tuple[str, str], alerts.Alert] = field(default_factory=dict)
    calls: dict[str, safety_calls.SafetyCallState] = field(default_factory=dict)
    arrears: dict[str, signal_rules.ArrearsMemory] = field(default_factory=dict)
    # In a partner hospital until (its admission or discharge notice; rules hospital_stay)
    in_hospital: dict[str, datetime] = field(default_factory=dict)
    # What carriers and vendors last said of each device: household → channel → (status,
    # since) (rules absence.rhythm.offline_at_floor)
    devices: dict[str, dict[MonitoringChannel, tuple[DeviceState, float]]] = field(
        default_factory=dict
    )
    opened: list[OpenedAlert] = field(default_factory=list)
    contacts: list[tuple[float, int, tuple[str, str], OpenedAlert]] = field(default_factory=list)
    checks: dict[str, list[tuple[tuple[str, str], OpenedAlert]]] = field(default_factory=dict)
    crisis_of: Any = None  # the world's ``crisis_of``: what a person at the door finds
    situation_of: Any = None  # the world's ``situation_of``: why a household was silent
    _ids: int = 0

    def __post_init__(self) -> None:
        absence = self.rules.absence
        quiet = QuietHours(absence.quiet_start, absence.quiet_end)
        rhythm = rhythm_params(absence) if self.mode == "fused" else None
        if self.monitor.households:
            return  # a monitor shared with a variant whose watch is the same (``_watch_key``)
        configs: dict[tuple[MonitoringChannel, ...], WatchConfig] = {}
        for profile in self.profiles.values():
            config = configs.get(profile.channels)
            if config is None:
                windows = {c: timedelta(hours=absence.window_hours(c)) for c in profile.channels}
                config = configs[profile.channels] = WatchConfig(
                    windows, quiet, SEOUL, rhythm=rhythm
                )
            self.monitor.configure(profile.household_id, 0, config, self.since)
        self.monitor.take_dirty()

    def _uuid(self) -> UUID:
        self._ids += 1
        return UUID(int=self._ids)

    def next_due(self) -> float:
        """The earliest instant (epoch s) at which ``advance`` has anything to do."""
        due = self.monitor.next_due()
        first = float("inf") if due is None else float(due)
        if self.contacts:
            first = min(first, self.contacts[0][0])
        return first

    # -- time passing: windows expire, people make contact --------------------------------

    def advance(self, now: datetime) -> None:
        self.decide(expire_due(self.monitor, now), now)
        self.contacts_until(now)

    def decide(self, expired: dict[tuple[str, MonitoringChannel], Expiry], now: datetime) -> None:
        """The variant's decisions on the channels that fell silent at ``now``."""
        if not expired:
            return
        if self.mode == "fused":
            latest = {e.household_id: e for e in expired.values()}
            for household_id, expiry in sorted(latest.items()):
                score = self.monitor.explain(household_id, now)
                fused = fuse(set(expiry.silent), set(expiry.enrolled), self.rules.absence, score)
                if fused is not None:
                    finding = self._absence(fused.reason, fused.severity, score)
                    self._conclude(household_id, finding, now, None)
        else:
            for (household_id, channel), _ in sorted(expired.items(), key=lambda kv: kv[0][0]):
                finding = self._absence(AlertReason.SAFETY_NOT_CONFIRMED, Severity.ALERT, None)
                self._conclude(household_id, finding, now, None, key_suffix=channel.value)

    def contacts_until(self, now: datetime) -> None:
        """People make the contacts due by ``now``."""
        contacts = self.contacts
        if not contacts:
            return
        stamp = now.timestamp()
        while contacts and contacts[0][0] <= stamp:
            _, _, key, opened = heapq.heappop(contacts)
            self._contact(key, opened)

    def _absence(
        self, reason: AlertReason, severity: Severity, score: SilenceScore | None
    ) -> Finding:
        thresholds = explain(score, self.rules.absence) if score is not None else {}
        rule = RuleRef(
            rule_id=self.rules.absence.rule_id,
            rule_version=self.rules.version,
            thresholds=thresholds,
        )
        return Finding(reason=reason, severity=severity, rule=rule, evidence=())

    def _contact(self, key: tuple[str, str], opened: OpenedAlert) -> None:
        """A person reaches the household (found well: resolve; or found in crisis).

        Whether the person finds a crisis is the only place the ground truth is read, and it
        only resets the safety-call streak, as an official's confirmed contact does.
        """
        if opened.answered_at is not None:
            return  # the household answered the automated check: nobody was sent
        alert = self.open.pop(key, None)
        if alert is None:
            return
        household_id = key[0]
        found_well = self.crisis_of(household_id, opened.contact_at) is None
        if found_well and household_id in self.calls:
            self.calls[household_id] = safety_calls.reset(self.calls[household_id])
        if found_well and household_id in self.arrears:  # as the detector's ``on_outcome``
            self.arrears[household_id] = signal_rules.found_well(self.arrears[household_id])

    def _answered(self, household_id: str, active_at: datetime, now: datetime) -> None:
        """Life shown after an automated check went out, before a person was due: answered."""
        pending = self.checks.get(household_id)
        if not pending:
            return
        keep = []
        for key, opened in pending:
            person_at = opened.person_at
            assert person_at is not None
            if now >= person_at:
                continue  # the person's task exists already: the check is over
            if active_at >= opened.at:
                opened.answered_at = now
                self.open.pop(key, None)
            else:
                keep.append((key, opened))
        if keep:
            self.checks[household_id] = keep
        else:
            del self.checks[household_id]

    # -- signals --------------------------------------------------------------------------

    def heartbeat(self, obs: Observation) -> bool:
        """Apply a heartbeat; True when it queued a deadline (a silent channel came back)."""
        fields = obs.fields
        recovery = self.monitor.heartbeat(
            obs.household_id,
            0,
            fields["channel"],
            fields["last_active_at"],
            obs.event_id,
            obs.partner_id,
        )
        self.heard(obs.household_id, fields["last_active_at"], obs.deliver_at, recovery)
        return recovery is not None

    def heard(
        self, hid: str, last_active: datetime, now: datetime, recovery: Recovery | None
    ) -> None:
        """The variant's part of a heartbeat its monitor has taken (``recovery``: a silent
        channel came back)."""
        if hid in self.checks:
            self._answered(hid, last_active, now)
        if recovery is None or not self.rules.absence.recovery_resolves:
            return
        if self.mode == "fused":
            reasons = (AlertReason.SAFETY_NOT_CONFIRMED,) if recovery.still_silent else ABSENCE
            for reason in reasons:
                alert = self.open.get((hid, reason.value))
                if alert is not None and alert.rule.rule_id.startswith("absence."):
                    del self.open[(hid, reason.value)]
        else:
            self.open.pop(
                (hid, f"{AlertReason.SAFETY_NOT_CONFIRMED.value}:{recovery.channel.value}"), None
            )

    def _hospital_stay(
        self, signal: HospitalAdmissionSignal | HospitalDischargeSignal, now: datetime
    ) -> None:
        """As the detector's ``handlers.signals.hospital_stay``: the absence watch rests until
        the discharge, and an absence alert the admission explains resolves (an automated
        check not yet followed by a person's task counts as nobody sent)."""
        hid = signal.household_id
        until = signal_rules.in_hospital_until(signal, self.rules.hospital_stay, SEOUL)
        if until is None or until == self.in_hospital.get(hid):
            return
        self.in_hospital[hid] = until
        watch = self.monitor.households[hid]
        assert watch.config is not None
        self.monitor.configure(hid, 0, replace(watch.config, suspended_until=until), now)
        if not isinstance(signal, HospitalAdmissionSignal) or until <= now:
            return
        for reason in ABSENCE:
            alert = self.open.get((hid, reason.value))
            if alert is not None and alert.rule.rule_id.startswith("absence."):
                del self.open[(hid, reason.value)]
        for _, opened in self.checks.pop(hid, []):
            assert opened.person_at is not None
            if now < opened.person_at and opened.rule_id.startswith("absence."):
                opened.answered_at = now

    def _device_status(self, signal: DeviceStatusSignal, now: datetime) -> None:
        """As the detector's ``handlers.signals.device_status``: an offline channel counts
        only at the floor; back online, its silence counts from the return."""
        if self.mode != "fused" or not self.rules.absence.offline_at_floor:
            return
        hid = signal.household_id
        known = self.devices.setdefault(hid, {})
        since = signal.since.timestamp()
        current = known.get(signal.channel)
        if current is not None and current[1] >= since:
            return
        known[signal.channel] = (signal.status, since)
        offline = {c: s for c, (status, s) in known.items() if status is DeviceState.OFFLINE}
        watch = self.monitor.households[hid]
        assert watch.config is not None
        self.monitor.configure(hid, 0, replace(watch.config, offline=offline), now)
        if signal.status is DeviceState.ONLINE:
            self.monitor.came_online(hid, signal.channel, signal.since)

    def signal(self, obs: Observation, signal: Signal | None = None) -> None:
        """Apply a signal (``signal``: ``obs.signal()`` when the caller parsed it already)."""
        signal = obs.signal() if signal is None else signal
        rules = self.rules
        findings: list[Finding] = []
        abuse = False
        hid = obs.household_id
        kind = SignalKind(signal.kind)  # type: ignore[attr-defined]
        if signal_rules.resting_in_hospital(kind, signal.occurred_at, self.in_hospital.get(hid)):
            return
        if isinstance(signal, HospitalAdmissionSignal | HospitalDischargeSignal):
            self._hospital_stay(signal, obs.deliver_at)
        elif isinstance(signal, DeviceStatusSignal):
            self._device_status(signal, obs.deliver_at)
        if isinstance(signal, SafetyCallSignal):
            state = self.calls.get(hid, safety_calls.SafetyCallState())
            state, streak = safety_calls.apply_safety_call(
                state, signal, rules.safety_call, rules.version, self.monitor.last_activity(hid)
            )
            self.calls[hid] = state
            concern = signal_rules.safety_call_concern(signal, rules)
            findings += [f for f in (streak, concern) if f]
        elif isinstance(signal, ArrearsSignal):
            memory, finding = signal_rules.arrears(
                self.arrears.get(hid, signal_rules.ArrearsMemory()), signal, rules
            )
            self.arrears[hid] = memory
            findings += [finding] if finding else []
        elif isinstance(signal, DisconnectionSignal):
            month = signal.occurred_at.astimezone(SEOUL).month
            findings.append(signal_rules.disconnection(signal, rules, month))
        elif isinstance(signal, UsageDropSignal):
            finding = signal_rules.usage_drop(signal, rules)
            findings += [finding] if finding else []
        elif isinstance(signal, ReportSignal):
            findings.append(signal_rules.report(signal, rules))
            abuse = signal.category is ReportCategory.ABUSE
        elif isinstance(signal, SosSignal):
            findings.append(signal_rules.sos(signal, rules))
        elif isinstance(signal, BlindSpotSignal):
            findings.append(signal_rules.blind_spot(signal, rules))
        elif isinstance(signal, HospitalDischargeSignal):
            findings.append(signal_rules.hospital_discharge(signal, rules))
        elif isinstance(signal, MailUncollectedSignal):
            finding = signal_rules.mail_uncollected(signal, rules, self.monitor.last_activity(hid))
            findings += [finding] if finding else []
        due = signal_rules.due_by(signal)
        facts = {"abuse": abuse, "signal_date": due}
        for finding in findings:
            self._conclude(hid, finding, obs.deliver_at, facts)

    # -- alerts and protocols -------------------------------------------------------------

    def _protocol(self, finding: Finding) -> str | None:
        protocol_id = self.rules.protocol_for(finding.reason, finding.severity)
        if protocol_id == CHECK_FIRST and not self.check_first:
            # the 2026.11 map: every silence and streak sent a person, mail a welfare check
            if finding.reason is AlertReason.MAIL_UNCOLLECTED:
                return "welfare-check"
            return "safety-not-confirmed"
        return protocol_id

    def _conclude(
        self,
        household_id: str,
        finding: Finding,
        now: datetime,
        facts: dict[str, Any] | None,
        key_suffix: str | None = None,
    ) -> None:
        reason_key = finding.reason.value + (f":{key_suffix}" if key_suffix else "")
        key = (household_id, reason_key)
        existing = self.open.get(key)
        if existing is not None:
            self.open[key], _ = alerts.absorb(existing, finding)
            return
        protocol_id = self._protocol(finding)
        alert = alerts.open_alert(self._uuid(), household_id, finding, now, protocol_id)
        score = finding.rule.thresholds.get("score_nats")
        opened = OpenedAlert(
            household_id,
            finding.reason,
            finding.severity,
            now,
            protocol_id,
            None,
            finding.rule.rule_id,
            score=float(score) if isinstance(score, (int, float)) else None,
        )
        if self.situation_of is not None and finding.rule.rule_id.startswith("absence."):
            opened.situation = self.situation_of(household_id, now)
        if protocol_id is not None:
            person_at, contact = self._first_contact(
                self.specs[protocol_id], alert, now, facts or {}
            )
            opened.contact_at = contact
            if person_at > now:  # an automated check goes first
                opened.person_at = person_at
                self.checks.setdefault(household_id, []).append((key, opened))
            heapq.heappush(self.contacts, (contact.timestamp(), self._ids, key, opened))
        if protocol_id is not None or finding.reason in ABSENCE:
            self.open[key] = alert  # a watch-level absence alert stays open until recovery
        self.opened.append(opened)

    def _first_contact(
        self, spec: ProtocolSpec, alert: alerts.Alert, now: datetime, facts: dict[str, Any]
    ) -> tuple[datetime, datetime]:
        """When the protocol's first task is created, and when it is due (first contact)."""
        profile = self.profiles[alert.household_id]
        signal_date = facts.get("signal_date")
        ctx = Context(
            tz=SEOUL,
            medical_aid=profile.medical_aid,
            landlord_on_file=profile.landlord_on_file,
            guardians_on_file=profile.guardians_on_file,
            abuse=bool(facts.get("abuse")),
            signal_date=signal_date,
        )
        escalation = protocols.start(spec, self._uuid(), alert.alert_id, alert.household_id, now)
        at = now
        for _ in range(len(spec.steps) + 1):
            escalation, results = protocols.run_due(spec, escalation, ctx, at)
            deadlines = [
                action.deadline
                for result in results
                for action in result.record.actions
                if isinstance(action, TaskAction)
            ]
            if deadlines:
                return at, min(deadlines)
            following = protocols.next_due(spec, escalation, ctx)
            if following is None:
                break
            at = following[1]
        return now, now


def expire_due(monitor: Monitor, now: datetime) -> dict[tuple[str, MonitoringChannel], Expiry]:
    """The channels of ``monitor`` that fell silent by ``now`` (confirmed by ``expire``)."""
    due = monitor.due(now)
    if not due:
        return {}
    due.sort(key=lambda hc: (hc[0], hc[1].value))
    expired = {}
    for household_id, channel in due:
        expiry = monitor.expire(household_id, channel, now)
        if expiry is not None:
            expired[(household_id, channel)] = expiry
    monitor.dirty.clear()  # nothing is made durable here
    return expired


VARIANTS: dict[str, tuple[str, bool, bool]] = {
    # name: (mode, learned rhythms, automated check first)
    "single_channel": ("single", False, False),
    "fused_fixed": ("fused", False, False),
    "fused": ("fused", True, True),
}


@dataclass
class Tally:
    """One variant's counts over some households: what ``score`` needs, summed over shards
    (a worker sends these, not its alerts: the parent's memory does not grow with size)."""

    evaluated: int = 0
    found: int = 0
    per_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    to_alert_h: list[float] = field(default_factory=list)  # hours, per found crisis
    to_contact_h: list[float] = field(default_factory=list)
    actionable: int = 0
    false: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    situations: Counter[str] = field(default_factory=Counter)
    care: int = 0
    checks: int = 0
    answered: int = 0
    watch: int = 0

    def add(self, other: Tally) -> None:
        """Add another shard's counts (in shard order: ties keep their first-seen order)."""
        self.evaluated += other.evaluated
        self.found += other.found
        for kind, counts in other.per_kind.items():
            mine = self.per_kind.setdefault(kind, {"evaluated": 0, "found": 0})
            mine["evaluated"] += counts["evaluated"]
            mine["found"] += counts["found"]
        self.to_alert_h += other.to_alert_h
        self.to_contact_h += other.to_contact_h
        self.actionable += other.actionable
        self.false += other.false
        self.reasons.update(other.reasons)
        self.situations.update(other.situations)
        self.care += other.care
        self.checks += other.checks
        self.answered += other.answered
        self.watch += other.watch


@dataclass
class ShardResult:
    """What one shard of households produced: the ground truth and each variant's tally."""

    ground_truth: list[Crisis]
    tallies: dict[str, Tally]
    lists: list[tuple[str, datetime, str]]  # (household, delivered, round) of each list row


def _variant_rules(rules: RuleSet, current: bool, threshold: float | None) -> RuleSet:
    """The configured rules, or (``current`` False) the 2026.11 ones: fixed windows only, no
    activity context for streaks and uncollected mail, hospital admissions ignored, every
    monthly arrears file alerting again after a welfare check."""
    rhythm = rules.absence.rhythm
    update: dict[str, Any] = {"enabled": current and rhythm.enabled}
    if threshold is not None:
        update["threshold_nats"] = threshold
    absence = rules.absence.model_copy(update={"rhythm": rhythm.model_copy(update=update)})
    changes: dict[str, Any] = {"absence": absence}
    if not current:
        changes["safety_call"] = rules.safety_call.model_copy(update={"activity_clears": False})
        changes["mail_uncollected"] = rules.mail_uncollected.model_copy(
            update={"active_within_hours": 0}
        )
        changes["hospital_stay"] = rules.hospital_stay.model_copy(update={"pause_watch": False})
        changes["arrears"] = rules.arrears.model_copy(update={"recheck_after_months": 0})
    return rules.model_copy(update=changes)


def _watch_key(mode: str, rules: RuleSet) -> str | None:
    """Variants whose index of channel clocks evolves the same share one ``Monitor``: fixed
    windows (no learned week) and hospital notices that do not rest the watch — then the
    monitor sees only heartbeats and the clock, and each variant only reads it. (The
    single-channel and 2026.11 variants: a third of the benchmark's index work.)"""
    if rules.hospital_stay.pause_watch:
        return None  # its admission notices reconfigure the watch
    if mode == "fused" and rhythm_params(rules.absence) is not None:
        return None  # learned weeks: one per variant
    return rules.absence.model_dump_json()


_Group = tuple[Monitor, list[RuleHarness]]


def _group_due(group: _Group) -> float:
    """The earliest instant (epoch s) at which a monitor or its variants have work."""
    monitor, members = group
    due = monitor.next_due()
    first = float("inf") if due is None else float(due)
    for harness in members:
        if harness.contacts and harness.contacts[0][0] < first:
            first = harness.contacts[0][0]
    return first


def _advance(group: _Group, now: datetime, stamp: float) -> None:
    """Let time pass to ``now`` (``stamp``): channels fall silent, people make contact."""
    monitor, members = group
    due = monitor.next_due()
    if due is not None and due <= stamp:
        expired = expire_due(monitor, now)
        for harness in members:
            harness.decide(expired, now)
    for harness in members:
        if harness.contacts and harness.contacts[0][0] <= stamp:
            harness.contacts_until(now)


def run_shard(
    seed: int,
    shard: int,
    population: list[HouseholdProfile],
    days: float,
    crisis_rate: float,
    curve: tuple[float, ...] = (),
    variants: tuple[str, ...] = tuple(VARIANTS),
) -> ShardResult:
    """Simulate one shard of households through every rule variant (its own derived seed).

    Without the cyclic garbage collector: a shard keeps a large, long-lived heap of small
    objects (the watched clocks, the day's records) that every full collection walks again,
    so a 6,250-household shard cost twice a small one's CPU per household; the records and
    alerts make no reference cycles (the resident size is the same with it off)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _run_shard_of(seed, shard, population, days, crisis_rate, curve, variants)
    finally:
        if enabled:
            gc.enable()


def _run_shard_of(
    seed: int,
    shard: int,
    population: list[HouseholdProfile],
    days: float,
    crisis_rate: float,
    curve: tuple[float, ...],
    variants: tuple[str, ...],
) -> ShardResult:
    # The detector has watched these households before the period: a warm-up of history
    # for the learned rhythms, not scored.
    config = SimulationConfig(
        seed=f"{seed}/{shard}",
        start=START - timedelta(days=WARMUP_DAYS),
        days=days + WARMUP_DAYS,
        crisis_rate_per_year=crisis_rate,
    )
    scored_from = START.timestamp()
    world = Simulation(population, config)
    catalog = load_catalog()
    specs = load_protocols()
    profiles = {p.household_id: p for p in population}
    harnesses: dict[str, RuleHarness] = {}
    monitors: dict[str, Monitor] = {}
    groups: list[_Group] = []

    def add(name: str, mode: str, rules: RuleSet, check_first: bool) -> None:
        key = _watch_key(mode, rules)
        monitor = monitors.get(key) if key is not None else None
        if monitor is None:
            monitor = Monitor()
            groups.append((monitor, []))
            if key is not None:
                monitors[key] = monitor
        harness = RuleHarness(
            mode, rules, specs, profiles, check_first, config.start, monitor=monitor
        )
        harness.crisis_of = world.crisis_of
        harness.situation_of = world.situation_of
        next(g for g in groups if g[0] is monitor)[1].append(harness)
        harnesses[name] = harness

    for name in variants:
        mode, learned, check_first = VARIANTS[name]
        add(name, mode, _variant_rules(catalog.default, learned, None), check_first)
    for threshold in curve:
        rules = _variant_rules(catalog.default, True, threshold)
        add(f"curve:{threshold:g}", "fused", rules, True)
    lists: list[tuple[str, datetime, str]] = []
    # The inbox drops redelivered events; duplicates come within hours, so two days of ids do.
    seen_today: set[UUID] = set()
    seen_before: set[UUID] = set()
    next_day = config.start.timestamp() + 86400
    wake = min(_group_due(g) for g in groups)
    heartbeat_kind = SignalKind.HEARTBEAT
    malformed = Flaw.MALFORMED
    for obs in world.observations():
        if obs.flaw is malformed:
            continue  # dead-lettered by the consumer
        now = obs.deliver_at
        stamp = now.timestamp()
        if stamp >= next_day:
            while stamp >= next_day:
                next_day += 86400
            seen_before, seen_today = seen_today, set()
        event_id = obs.event_id
        if event_id in seen_today or event_id in seen_before:
            continue  # the inbox drops a redelivered event
        seen_today.add(event_id)
        if stamp >= wake:  # something is due in some variant: let time pass first
            for group in groups:
                _advance(group, now, stamp)
            wake = min(_group_due(g) for g in groups)
        # A recovered channel or a new alert can queue something earlier than ``wake``.
        hid = obs.household_id
        if obs.kind is heartbeat_kind:
            fields = obs.fields
            channel, last_active = fields["channel"], fields["last_active_at"]
            for group in groups:
                monitor, members = group
                recovery = monitor.heartbeat(hid, 0, channel, last_active, event_id, obs.partner_id)
                for harness in members:
                    if recovery is not None or hid in harness.checks:
                        harness.heard(hid, last_active, now, recovery)
                if recovery is not None:
                    wake = min(wake, _group_due(group))
        else:
            if obs.kind is SignalKind.BLIND_SPOT and stamp >= scored_from:
                lists.append((hid, now, obs.fields["round_id"]))
            signal = obs.signal()  # validated once for every variant
            for group in groups:
                for harness in group[1]:
                    harness.signal(obs, signal)
                wake = min(wake, _group_due(group))
    end = config.end
    for group in groups:
        _advance(group, end, end.timestamp())
    # Only the scored period counts: crises and alerts of the warm-up are left out.
    crises = sorted(
        (c for c in world.ground_truth if c.onset >= START),
        key=lambda c: (c.onset, c.household_id),
    )
    truth = Truth(crises, START + timedelta(days=days))
    return ShardResult(
        crises,
        {
            name: tally(truth, [a for a in h.opened if a.at >= START])
            for name, h in harnesses.items()
        },
        lists,
    )


# The population, made once in the parent: forked workers find it here instead of each
# receiving its slice pickled (spawned ones make it again — it is seeded).
_POPULATION: dict[tuple[int, int], list[HouseholdProfile]] = {}


def _population(seed: int, households: int) -> list[HouseholdProfile]:
    key = (seed, households)
    if key not in _POPULATION:
        _POPULATION.clear()
        _POPULATION[key] = synthetic_population(seed, households)
    return _POPULATION[key]


def _checkpoint_path(directory: Path, job: tuple[Any, ...]) -> Path:
    seed, households, shard, _, _, days, crisis_rate, curve, variants = job
    name = f"{seed}-{households}-{days:g}-{crisis_rate:g}-{','.join(map(str, curve))}-" + (
        ",".join(variants)
    )
    return directory / f"{name}-shard{shard:02d}.pickle"


def _run_shard(
    job: tuple[Any, ...], checkpoint: Path | None = None
) -> tuple[int, int, ShardResult, bool]:
    """Run one shard: (shard, households, result, whether it came from the checkpoint)."""
    seed, households, shard, lo, hi, days, crisis_rate, curve, variants = job
    path = _checkpoint_path(checkpoint, job) if checkpoint is not None else None
    if path is not None and path.exists():
        # A shard finished by an earlier, interrupted run of the same arguments (the bench's
        # own file, read back by the bench).
        return shard, hi - lo, pickle.loads(path.read_bytes()), True
    population = _population(seed, households)[lo:hi]
    result = run_shard(seed, shard, population, days, crisis_rate, curve, variants)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(".part")
        part.write_bytes(pickle.dumps(result))
        part.replace(path)
    return shard, hi - lo, result, False


def simulate(
    households: int,
    days: float,
    seed: int,
    crisis_rate: float,
    workers: int | None = None,
    curve: tuple[float, ...] = (),
    variants: tuple[str, ...] = tuple(VARIANTS),
    progress: bool = False,
    checkpoint: Path | None = None,
) -> list[ShardResult]:
    """Run the period, sharded: a fixed number of shards, each with its own derived seed.

    The figures depend on the shard count (fixed) and not on how many processes run them.
    A worker holds one shard at a time and returns its tallies; ``progress`` reports each
    finished shard on stderr (households done, elapsed, ETA). With ``checkpoint`` (a
    directory) each finished shard is kept there, and a run with the same arguments picks
    the finished ones up instead of running them again (a long run that was stopped).
    """
    population = _population(seed, households)
    size = -(-households // SHARDS)
    jobs = [
        (
            seed,
            households,
            n,
            n * size,
            min((n + 1) * size, households),
            days,
            crisis_rate,
            curve,
            variants,
        )
        for n in range(SHARDS)
        if population[n * size : (n + 1) * size]
    ]
    workers = workers or os.cpu_count() or 1
    results: dict[int, ShardResult] = {}
    started = time.perf_counter()
    done_households = resumed = 0

    def finished(shard: int, count: int, result: ShardResult, from_checkpoint: bool) -> None:
        nonlocal done_households, resumed
        results[shard] = result
        done_households += count
        resumed += count if from_checkpoint else 0
        if progress:
            elapsed = time.perf_counter() - started
            run_here = done_households - resumed  # the ETA counts this run's pace only
            left = households - done_households
            if not left:
                eta = "ETA 0 s"
            elif run_here:
                eta = f"ETA {elapsed * left / run_here:.0f} s"
            else:
                eta = "ETA after this run's first shard"
            print(
                f"[detection_quality] {len(results)}/{len(jobs)} shards, "
                f"{done_households:,}/{households:,} households, {elapsed:.0f} s, {eta}",
                file=sys.stderr,
                flush=True,
            )

    run_job = functools.partial(_run_shard, checkpoint=checkpoint)
    if workers <= 1 or len(jobs) == 1:
        for job in jobs:
            finished(*run_job(job))
    else:
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        with context.Pool(min(workers, len(jobs))) as pool:
            for done in pool.imap_unordered(run_job, jobs, chunksize=1):
                finished(*done)
    return [results[n] for n in sorted(results)]


def _hours(values: Iterable[timedelta]) -> list[float]:
    return [v.total_seconds() / 3600 for v in values]


def _stats(hours: list[float]) -> dict[str, float | None]:
    if not hours:
        return {"median_h": None, "p90_h": None}
    ordered = sorted(hours)

    def q(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))], 2)

    return {"median_h": q(0.5), "p90_h": q(0.9)}


def wilson(found: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The 95 % Wilson score interval of a proportion (sound at 0 and n, unlike ±1.96 SE)."""
    if n == 0:
        return None
    p = found / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


class Truth:
    """The ground truth of every shard, to score against (never shown to the rules)."""

    def __init__(self, crises: list[Crisis], end: datetime) -> None:
        self.crises = crises
        self.end = end
        self._of = {c.household_id: c for c in crises}

    def crisis_of(self, household_id: str, at: datetime) -> Crisis | None:
        crisis = self._of.get(household_id)
        return crisis if crisis is not None and crisis.onset <= at else None


def tally(truth: Truth, alerts_opened: list[OpenedAlert]) -> Tally:
    """One variant's counts against the ground truth of the same households.

    Hospital discharges (transition care) are care work, not crisis detection: they are
    counted apart (``care``) and left out of the actionable and false-alert counts.
    """
    end = truth.end
    t = Tally()
    actionable = [a for a in alerts_opened if a.sends_person and a.protocol_id != CARE]
    by_household: dict[str, list[OpenedAlert]] = defaultdict(list)
    for alert in actionable:
        by_household[alert.household_id].append(alert)
    per_kind: dict[str, dict[str, int]] = defaultdict(lambda: {"evaluated": 0, "found": 0})
    for crisis in truth.crises:
        horizon = HORIZON[crisis.kind]
        if crisis.onset + horizon > end:
            continue  # censored: the period ends before the horizon
        t.evaluated += 1
        per_kind[crisis.kind.value]["evaluated"] += 1
        hits = [
            a
            for a in by_household.get(crisis.household_id, ())
            if crisis.onset <= a.at <= crisis.onset + horizon
        ]
        if not hits:
            continue
        t.found += 1
        per_kind[crisis.kind.value]["found"] += 1
        t.to_alert_h += _hours([min(a.at for a in hits) - crisis.onset])
        contacts = [a.contact_at for a in hits if a.contact_at is not None]
        if contacts:
            t.to_contact_h += _hours([min(contacts) - crisis.onset])
    t.per_kind = dict(per_kind)
    false = [a for a in actionable if truth.crisis_of(a.household_id, a.at) is None]
    t.actionable, t.false = len(actionable), len(false)
    t.reasons = Counter(a.rule_id or a.reason.value for a in false)
    t.situations = Counter(
        "+".join(a.situation) or "none" for a in false if a.rule_id.startswith("absence.")
    )
    t.care = sum(1 for a in alerts_opened if a.protocol_id == CARE)
    checks = [a for a in alerts_opened if a.person_at is not None]
    t.checks = len(checks)
    t.answered = sum(1 for a in checks if a.answered_at is not None)
    t.watch = sum(1 for a in alerts_opened if a.protocol_id is None)
    return t


def score(
    truth: Truth,
    alerts_opened: list[OpenedAlert],
    households: int,
    days: float,
) -> dict[str, Any]:
    """Recall, delays and false alerts of one variant's alerts that send a person."""
    return figures_of(tally(truth, alerts_opened), households, days)


def figures_of(t: Tally, households: int, days: float) -> dict[str, Any]:
    """The figures of a (summed) tally."""
    weeks = days / 7
    per_week = (households / 1000) * weeks
    reasons, evaluated, found = t.reasons, t.evaluated, t.found
    return {
        "crises_evaluated": evaluated,
        "crises_found": found,
        "recall": round(found / evaluated, 4) if evaluated else None,
        "recall_ci95": wilson(found, evaluated),
        "recall_by_kind": {
            k: {
                **v,
                "recall": round(v["found"] / v["evaluated"], 3) if v["evaluated"] else None,
                "ci95": wilson(v["found"], v["evaluated"]),
            }
            for k, v in sorted(t.per_kind.items())
        },
        "time_to_first_alert": _stats(t.to_alert_h),
        "time_to_first_contact": _stats(t.to_contact_h),
        "actionable_alerts": t.actionable,
        "precision": round(1 - t.false / t.actionable, 4) if t.actionable else None,
        "false_alerts": t.false,
        "false_alerts_per_1000_households_per_week": round(t.false / per_week, 3),
        "false_alerts_by_reason": dict(sorted(reasons.items())),
        "false_alerts_per_1000_households_per_week_by_reason": {
            k: round(v / per_week, 3) for k, v in sorted(reasons.items())
        },
        # False absence alerts by what the household was really doing (the simulator's
        # episodes): which context would have explained the silence.
        "false_absence_by_situation": dict(t.situations.most_common()),
        "care_tasks": t.care,
        "care_tasks_per_1000_households_per_week": round(t.care / per_week, 3),
        "automated_checks": t.checks,
        "automated_checks_answered": t.answered,
        "watch_alerts": t.watch,
    }


def national_list(
    truth: Truth,
    lists: list[tuple[str, datetime, str]],
    specs: dict[str, ProtocolSpec],
    households: int,
    days: float,
) -> dict[str, Any]:
    """The national baseline: the blind-spot list every two months, a welfare check each row."""
    spec = specs["welfare-check"]
    alerts_opened = []
    for n, (household_id, delivered, _) in enumerate(lists):
        escalation = protocols.start(
            spec, UUID(int=n + 1), UUID(int=n + 1), household_id, delivered
        )
        _, results = protocols.run_due(spec, escalation, Context(tz=SEOUL), delivered)
        deadlines = [
            a.deadline for r in results for a in r.record.actions if isinstance(a, TaskAction)
        ]
        alerts_opened.append(
            OpenedAlert(
                household_id,
                AlertReason.BLIND_SPOT,
                Severity.CAUTION,
                delivered,
                spec.id,
                min(deadlines) if deadlines else delivered,
                "national-list",
            )
        )
    result = score(truth, alerts_opened, households, days)
    result["rounds"] = sorted({round_id for _, _, round_id in lists})
    return result


def run(
    households: int,
    days: float,
    seed: int,
    crisis_rate: float = 0.1,
    workers: int | None = 1,
    curve: tuple[float, ...] = (),
    variants: tuple[str, ...] = tuple(VARIANTS),
    progress: bool = False,
    checkpoint: Path | None = None,
) -> dict[str, Any]:
    """Every figure of the benchmark (deterministic for the arguments, not ``workers``)."""
    if "fused" not in variants:
        raise ValueError("the configured rules (fused) are always measured")
    shards = simulate(
        households, days, seed, crisis_rate, workers, curve, variants, progress, checkpoint
    )
    crises = sorted(
        (c for shard in shards for c in shard.ground_truth), key=lambda c: (c.onset, c.household_id)
    )
    truth = Truth(crises, START + timedelta(days=days))
    specs = load_protocols()
    kinds = Counter(c.kind.value for c in crises)
    lists = [row for shard in shards for row in shard.lists]

    def merged(name: str) -> dict[str, Any]:
        total = Tally()
        for shard in shards:  # in shard order, as the alerts were listed before
            total.add(shard.tallies[name])
        return figures_of(total, households, days)

    figures: dict[str, Any] = {
        "households": households,
        "days": days,
        "seed": seed,
        "shards": SHARDS,
        "start": START.isoformat(),
        "crisis_rate_per_household_year": crisis_rate,
        "crises_injected": dict(sorted(kinds.items())),
        "horizons_days": {k.value: v.days for k, v in HORIZON.items()},
    }
    for name in variants:
        figures[name] = merged(name)
    figures["national_list"] = national_list(truth, lists, specs, households, days)
    if curve:
        points = []
        for threshold in curve:
            r = merged(f"curve:{threshold:g}")
            points.append(
                {
                    "threshold_nats": threshold,
                    "recall": r["recall"],
                    "precision": r["precision"],
                    "false_alerts_per_1000_households_per_week": r[
                        "false_alerts_per_1000_households_per_week"
                    ],
                }
            )
        figures["curve"] = points
    return figures


NAMES = {
    "single_channel": "single-channel, fixed windows",
    "fused_fixed": "fused, fixed windows (2026.11 rules)",
    "fused": "fused, learned rhythms + automated check first (as configured)",
    "national_list": "national list only (every 2 months)",
}


def _row(name: str, r: dict[str, Any]) -> str:
    a, c = r["time_to_first_alert"], r["time_to_first_contact"]

    def h(value: float | None) -> str:
        return "—" if value is None else f"{value:.1f} h"

    recall = "—" if r["recall"] is None else f"{r['recall']:.1%}"
    ci = r.get("recall_ci95")
    interval = f" [{ci[0]:.1%}–{ci[1]:.1%}]" if ci else ""
    return (
        f"| {name} | {recall}{interval} ({r['crises_found']}/{r['crises_evaluated']}) | "
        f"{h(a['median_h'])} / {h(a['p90_h'])} | {h(c['median_h'])} / {h(c['p90_h'])} | "
        f"{r['false_alerts_per_1000_households_per_week']:.2f} | "
        f"{r.get('care_tasks_per_1000_households_per_week', 0):.2f} |"
    )


def table(figures: dict[str, Any]) -> str:
    lines = [
        "| rules | recall [95 % CI] | onset → first alert (median / p90) "
        "| onset → first human contact (median / p90) "
        "| false alerts per 1,000 households per week | discharge care tasks (apart) |",
        "|---|---|---|---|---|---|",
    ]
    for variant in (*(v for v in VARIANTS if v in figures), "national_list"):
        lines.append(_row(NAMES[variant], figures[variant]))
    return "\n".join(lines)


def by_kind(figures: dict[str, Any]) -> str:
    kinds = sorted(figures["fused"]["recall_by_kind"])
    variants = (*(v for v in VARIANTS if v in figures), "national_list")
    lines = [
        "| crisis | horizon | " + " | ".join(NAMES[v].split(" (")[0] for v in variants) + " |",
        "|---|---|" + "---|" * len(variants),
    ]
    for kind in kinds:
        cells = []
        for variant in variants:
            v = figures[variant]["recall_by_kind"].get(kind, {"found": 0, "evaluated": 0})
            ci = v.get("ci95")
            interval = f" [{ci[0]:.0%}–{ci[1]:.0%}]" if ci and variant == "fused" else ""
            cells.append(f"{v['found']}/{v['evaluated']}{interval}")
        lines.append(f"| {kind} | {figures['horizons_days'][kind]} d | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_curve(figures: dict[str, Any], path: Path) -> None:
    """The precision–recall curve over the score threshold, the operating point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [p for p in figures["curve"] if p["recall"] is not None]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    ax.plot([p["recall"] for p in points], [p["precision"] for p in points], "o-", color="#3465a4")
    for p in points:
        ax.annotate(
            f"{p['threshold_nats']:g} nats\n"
            f"{p['false_alerts_per_1000_households_per_week']:.1f}/1k/wk",
            (p["recall"], p["precision"]),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=7,
        )
    op = figures["fused"]
    ax.plot(
        [op["recall"]],
        [op["precision"]],
        "*",
        color="#cc0000",
        markersize=16,
        label=f"operating point (as configured): recall {op['recall']:.1%}, "
        f"{op['false_alerts_per_1000_households_per_week']:.1f} false /1k/wk",
    )
    ax.set_xlabel("recall (crises with a person sent within the horizon)")
    ax.set_ylabel("precision (alerts sending a person that find a crisis)")
    ax.set_title(
        f"Fused rules over the silence threshold — {figures['households']:,} households, "
        f"{figures['days']:g} d, seed {figures['seed']}",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--crisis-rate", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--curve",
        type=lambda text: tuple(float(x) for x in text.split(",")),
        default=(),
        help="silence thresholds (nats) for the precision–recall curve, e.g. 3,4,6,8,12",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "detection_quality.json"
    )
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "detection-quality.md")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "detection-quality-pr.png")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite the doc's figures")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="keep each finished shard in this directory; a rerun of the same arguments picks"
        " them up (it does not know the code that made them: empty it when the code changes)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    figures = run(
        args.households,
        args.days,
        args.seed,
        args.crisis_rate,
        args.workers,
        args.curve,
        progress=True,
        checkpoint=args.checkpoint,
    )
    elapsed = time.perf_counter() - started
    command = "uv run --frozen python bench/detection_quality.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    result = {
        "benchmark": "detection_quality",
        "command": command.strip(),
        "figures": figures,
        "run": {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "elapsed_s": round(elapsed, 1),
            "workers": args.workers,
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table(figures))
    print()
    print(by_kind(figures))
    print("\n" + reasons_line(figures))
    if "curve" in figures:
        plot_curve(figures, args.plot)
        print(json.dumps(figures["curve"]))
    print(
        f"\n{args.households} households, {args.days:g} days, seed {args.seed}: "
        f"{elapsed:.0f} s; {args.out}"
    )
    if not args.no_doc:
        write_doc(args.doc, result)
    return 0


def reasons_line(figures: dict[str, Any]) -> str:
    parts = []
    for variant in (v for v in VARIANTS if v in figures):
        r = figures[variant]
        by = r["false_alerts_per_1000_households_per_week_by_reason"]
        listed = (
            ", ".join(
                f"{k} {figures[variant]['false_alerts_by_reason'][k]} ({v:.2f})"
                for k, v in by.items()
            )
            or "none"
        )
        parts.append(
            f"*{NAMES[variant]}*: {listed}; automated checks {r['automated_checks']} "
            f"({r['automated_checks_answered']} answered, nobody sent); watch-level alerts "
            f"{r['watch_alerts']}; discharge care tasks {r['care_tasks']} (not counted as false)"
        )
    situations = []
    for variant in (v for v in VARIANTS if v in figures):
        by_situation = figures[variant].get("false_absence_by_situation", {})
        total = sum(by_situation.values())
        alone = {k: n for k, n in by_situation.items() if "+" not in k}
        together = total - sum(alone.values())
        listed = ", ".join(
            [f"{SITUATIONS.get(k, k)} {n} ({n / total:.0%})" for k, n in alone.items()]
            + ([f"two at once {together} ({together / total:.0%})"] if together else [])
        )
        situations.append(f"*{NAMES[variant]}*: {listed or 'none'}")
    return (
        "False alerts sending a person, by rule — count (per 1,000 households per week):\n\n"
        + "\n".join(f"- {p}" for p in parts)
        + "\n\nFalse absence alerts by what the household was really doing when the alert"
        " opened (the simulator's episodes; the rules never see them):\n\n"
        + "\n".join(f"- {p}" for p in situations)
    )


SITUATIONS = {
    "none": "nothing unusual (a quiet spell)",
    "hospital": "in hospital",
    "travel": "away on a trip",
    "phone_off": "phone switched off",
    "phone_at_home": "phone left at home",
    "device_fault": "a device offline",
}


DOC_BEGIN = "<!-- figures:begin (written by bench/detection_quality.py) -->"
DOC_END = "<!-- figures:end -->"


def write_doc(path: Path, result: dict[str, Any]) -> None:
    """Put the figures between the markers of the doc (the prose around them stays)."""
    figures = result["figures"]
    block = "\n".join(
        [
            DOC_BEGIN,
            "",
            f"Command: `{result['command']}` — {figures['households']:,} households, "
            f"{figures['days']:g} simulated days from {figures['start'][:10]}, "
            f"seed {figures['seed']} ({figures.get('shards', 1)} shards), "
            f"{result['run']['elapsed_s']:.0f} s on {result['run']['machine']} "
            f"({result['run']['at'][:10]}).",
            "",
            "Crises injected: "
            + ", ".join(f"{k} {v}" for k, v in figures["crises_injected"].items())
            + ".",
            "",
            table(figures),
            "",
            "Recall by crisis kind (found / evaluated within the horizon; fused with its 95 % "
            "Wilson interval):",
            "",
            by_kind(figures),
            "",
            reasons_line(figures),
            "",
            DOC_END,
        ]
    )
    text = (
        path.read_text(encoding="utf-8")
        if path.exists()
        else f"# Detection quality\n\n{DOC_BEGIN}\n{DOC_END}\n"
    )
    if DOC_BEGIN in text and DOC_END in text:
        head, rest = text.split(DOC_BEGIN, 1)
        tail = rest.split(DOC_END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
