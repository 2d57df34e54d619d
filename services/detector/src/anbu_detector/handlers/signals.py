"""Signals: each kind's rule turns a signal into findings, and every finding concludes.

``SIGNAL_HANDLERS`` maps each signal contract type to its handler; a new kind is one
``@rule_for(TheSignal)`` function here, its rule in ``domain/signal_rules.py`` and its
thresholds in ``config/rules.yaml``. What every kind shares (counting, unknown households,
households that rest) is in :func:`rule_for`, written once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import Counter as MetricCounter
from pydantic import BaseModel

from anbu_contracts import (
    AlertResolution,
    ArrearsSignal,
    BlindSpotSignal,
    DeviceState,
    DeviceStatusSignal,
    DisconnectionSignal,
    HospitalAdmissionSignal,
    HospitalDischargeSignal,
    HouseholdStatus,
    MailUncollectedSignal,
    ReportCategory,
    ReportSignal,
    SafetyCallSignal,
    Signal,
    SignalKind,
    SosSignal,
    UsageDropSignal,
    WaterMeterSignal,
)
from anbu_runtime.uow import Handler

from ..adapters.orm import HouseholdRow, watch_config
from ..domain import safety_calls, signal_rules
from ..domain.alerts import Finding
from ..domain.rules import RuleSet
from ..domain.signal_rules import ArrearsMemory
from .findings import conclude, resolve_absence
from .unit import Stores, Uow

SIGNALS = MetricCounter(
    "anbu_detector_signals_total", "Signals handled, by kind and partner.", ["kind", "partner"]
)
# Humans asking for help are heard even while a household is suspended (away, hospital),
# and what partners say of its devices (context for when the watch starts again).
HEARD_WHEN_SUSPENDED = (SignalKind.SOS, SignalKind.REPORT, SignalKind.DEVICE_STATUS)

# What a kind's rule returns: its findings, and facts for the protocol it may start.
Findings = tuple[list[Finding], dict[str, Any]]
Rule = Callable[[Any, Stores, HouseholdRow | None, RuleSet], Findings]

# Signal contract type → its handler (the consumer's table is built from this in intake.py).
SIGNAL_HANDLERS: dict[type[BaseModel], Handler[Stores]] = {}
# What a kind tells about the household's circumstances (not a finding): run before its
# findings conclude, with the unit of work (e.g. a hospital stay rests the absence watch).
Context = Callable[[Any, Uow, HouseholdRow, RuleSet], None]
CONTEXT: dict[type[Signal], Context] = {}


def processing(household: HouseholdRow, signal: Signal) -> bool:
    """Moved or closed households, and suspended ones (but for SOS and reports), rest."""
    if household.status in (HouseholdStatus.MOVED.value, HouseholdStatus.CLOSED.value):
        return False
    kind = SignalKind(signal.kind)  # type: ignore[attr-defined]
    if signal_rules.resting_in_hospital(kind, signal.occurred_at, household.hospital_until):
        return False
    if household.status == HouseholdStatus.SUSPENDED.value:
        until = household.suspended_until
        ended = until is not None and until <= signal.occurred_at
        return ended or kind in HEARD_WHEN_SUSPENDED
    return True


def rule_for(*kinds: type[Signal]) -> Callable[[Rule], Rule]:
    """Register ``rule`` as the handler of these signal types (wrapped in what all share)."""

    def register(rule: Rule) -> Rule:
        def on_signal(signal: Signal, uow: Uow) -> None:
            repos = uow.repos
            kind = signal.kind  # type: ignore[attr-defined]
            SIGNALS.labels(kind, signal.partner_id).inc()
            household = repos.household(signal.household_id)
            if household is None:
                repos.unknown[signal.household_id][kind] += 1
            elif not processing(household, signal):
                return
            rules = repos.rules_for(household)
            context = CONTEXT.get(type(signal))
            if context is not None and household is not None:
                context(signal, uow, household, rules)
            findings, facts = rule(signal, repos, household, rules)
            due = signal_rules.due_by(signal)
            if due is not None:
                facts["signal_date"] = due.isoformat()
            correlation = signal.correlation_id or str(signal.event_id)
            for finding in findings:
                conclude(
                    uow,
                    signal.household_id,
                    repos.partition,
                    finding,
                    rules,
                    correlation,
                    str(signal.event_id),
                    facts,
                )

        on_signal.__name__ = f"on_{rule.__name__}"
        for kind in kinds:
            if kind in SIGNAL_HANDLERS:
                raise ValueError(f"{kind.__name__} already has a rule")
            SIGNAL_HANDLERS[kind] = on_signal
        return rule

    return register


def found(*findings: Finding | None, **facts: Any) -> Findings:
    return [f for f in findings if f is not None], facts


@rule_for(SafetyCallSignal)
def safety_call(
    signal: SafetyCallSignal, repos: Stores, household: HouseholdRow | None, rules: RuleSet
) -> Findings:
    state = repos.safety_calls(signal.household_id)
    # Device activity after the first missed call means the person is about: held back.
    new_state, streak = safety_calls.apply_safety_call(
        state,
        signal,
        rules.safety_call,
        rules.version,
        repos.monitor.last_activity(signal.household_id),
    )
    repos.save_safety_calls(signal.household_id, new_state)
    return found(streak, signal_rules.safety_call_concern(signal, rules))


@rule_for(ArrearsSignal)
def arrears(
    signal: ArrearsSignal, repos: Stores, household: HouseholdRow | None, rules: RuleSet
) -> Findings:
    memory = ArrearsMemory.of_state(repos.rule_state(signal.household_id, "arrears"))
    memory, finding = signal_rules.arrears(memory, signal, rules)
    repos.save_rule_state(signal.household_id, "arrears", memory.to_state())
    return found(finding)


@rule_for(DisconnectionSignal)
def disconnection(
    signal: DisconnectionSignal, repos: Stores, household: HouseholdRow | None, rules: RuleSet
) -> Findings:
    tz = ZoneInfo(household.timezone) if household else ZoneInfo("Asia/Seoul")
    month = signal.occurred_at.astimezone(tz).month
    return found(signal_rules.disconnection(signal, rules, month))


@rule_for(MailUncollectedSignal)
def mail_uncollected(
    signal: MailUncollectedSignal, repos: Stores, household: HouseholdRow | None, rules: RuleSet
) -> Findings:
    # A device active lately answers "is the person there?" (the person just leaves mail).
    last = repos.monitor.last_activity(signal.household_id)
    return found(signal_rules.mail_uncollected(signal, rules, last))


@rule_for(ReportSignal)
def report(
    signal: ReportSignal, repos: Stores, household: HouseholdRow | None, rules: RuleSet
) -> Findings:
    abuse = signal.category is ReportCategory.ABUSE
    return found(signal_rules.report(signal, rules), abuse=abuse)


# Kinds whose rule needs only the signal and the thresholds (no memory, no household).
STATELESS: dict[type[Signal], Callable[[Any, RuleSet], Finding | None]] = {
    UsageDropSignal: signal_rules.usage_drop,
    SosSignal: signal_rules.sos,
    BlindSpotSignal: signal_rules.blind_spot,
    HospitalDischargeSignal: signal_rules.hospital_discharge,
    WaterMeterSignal: signal_rules.water_meter,
}


def stateless(decide: Callable[[Any, RuleSet], Finding | None]) -> Rule:
    def rule(
        signal: Signal, repos: Stores, household: HouseholdRow | None, rules: RuleSet
    ) -> Findings:
        return found(decide(signal, rules))

    rule.__name__ = decide.__name__
    return rule


for _kind, _decide in STATELESS.items():
    rule_for(_kind)(stateless(_decide))


def hospital_stay(
    signal: HospitalAdmissionSignal | HospitalDischargeSignal,
    uow: Uow,
    household: HouseholdRow,
    rules: RuleSet,
) -> None:
    """A partner hospital has the resident: the absence watch rests until the discharge.

    An absence alert already open is explained (the silence was the stay): it resolves
    and its protocol closes before anyone is sent. The learned weeks are kept; the windows
    start again when the stay ends (``Monitor.expire`` on a resting household)."""
    repos = uow.repos
    until = signal_rules.in_hospital_until(
        signal, rules.hospital_stay, ZoneInfo(household.timezone)
    )
    if until is None or until == household.hospital_until:
        return
    repos.note_hospital_stay(household, until)
    config = watch_config(household, rules.absence)
    repos.monitor.configure(household.household_id, repos.partition, config, uow.now)
    if isinstance(signal, HospitalAdmissionSignal) and until > uow.now:
        resolve_absence(uow, household.household_id, AlertResolution.HOUSEHOLD_INACTIVE)


CONTEXT[HospitalAdmissionSignal] = hospital_stay
CONTEXT[HospitalDischargeSignal] = hospital_stay


def device_status(
    signal: DeviceStatusSignal, uow: Uow, household: HouseholdRow, rules: RuleSet
) -> None:
    """A carrier or vendor says a channel's device went offline, or came back.

    Offline: the channel is blind, not silent — its silence counts only at the floor
    (``absence.rhythm.offline_at_floor``). Online: its silence counts from the return, as
    after a rest. An older notice than the one on file changes nothing."""
    repos = uow.repos
    if not repos.note_device_status(
        household, signal.channel.value, signal.status.value, signal.since
    ):
        return
    config = watch_config(household, rules.absence)
    repos.monitor.configure(household.household_id, repos.partition, config, uow.now)
    if signal.status is DeviceState.ONLINE and rules.absence.offline_at_floor:
        repos.monitor.came_online(household.household_id, signal.channel, signal.since)


CONTEXT[DeviceStatusSignal] = device_status


@rule_for(DeviceStatusSignal)
def device_status_notice(
    signal: DeviceStatusSignal, repos: Stores, household: HouseholdRow | None, rules: RuleSet
) -> Findings:
    """A device's status is context (``device_status``), not a finding."""
    return found()


@rule_for(HospitalAdmissionSignal)
def hospital_admission(
    signal: HospitalAdmissionSignal, repos: Stores, household: HouseholdRow | None, rules: RuleSet
) -> Findings:
    """An admission is context (``hospital_stay``), not a finding: nobody is sent for it."""
    return found()


@rule_for(Signal)
def no_rule(
    signal: Signal, repos: Stores, household: HouseholdRow | None, rules: RuleSet
) -> Findings:
    """A kind without a rule of its own (none today but heartbeats, which never get here)."""
    return found()
