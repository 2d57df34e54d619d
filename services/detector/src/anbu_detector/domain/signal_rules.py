"""Rules for the event-like signal kinds: each a pure function of a signal, the household's
remembered state for that rule, and the rule's thresholds.

Every finding carries the rule id, the rule set version, the thresholds and the evidence
signals, so that the alert it opens can say why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from anbu_contracts import (
    AlertReason,
    ArrearsSignal,
    BlindSpotSignal,
    CallOutcome,
    DisconnectionSignal,
    DisconnectionState,
    EvidenceRef,
    HospitalAdmissionSignal,
    HospitalDischargeSignal,
    MailUncollectedSignal,
    ReportSignal,
    RuleRef,
    SafetyCallSignal,
    Severity,
    Signal,
    SignalKind,
    SosSignal,
    UsageDropSignal,
    WaterMeterSignal,
)

from .alerts import Finding
from .rules import HospitalStayRule, RuleSet

# Heard while a partner hospital reports the resident in its ward: people asking for help,
# and the hospital's own notices (a discharge ends the stay). Everything else rests, as for
# a household the registry suspended.
HEARD_IN_HOSPITAL = frozenset(
    {
        SignalKind.SOS,
        SignalKind.REPORT,
        SignalKind.HOSPITAL_ADMISSION,
        SignalKind.HOSPITAL_DISCHARGE,
        SignalKind.DEVICE_STATUS,
    }
)


def evidence_of(signal: Signal) -> EvidenceRef:
    return EvidenceRef(
        event_id=signal.event_id,
        kind=SignalKind(signal.kind),  # type: ignore[attr-defined]
        partner_id=signal.partner_id,
        occurred_at=signal.occurred_at,
    )


def _ref(rule_id: str, rules: RuleSet, **thresholds: float | int | str | bool) -> RuleRef:
    return RuleRef(rule_id=rule_id, rule_version=rules.version, thresholds=thresholds)


def _worst(*severities: Severity) -> Severity:
    return max(severities, key=lambda s: s.rank)


# -- safety-call concerns (the unanswered streak lives in safety_calls.py) -------------


def safety_call_concern(signal: SafetyCallSignal, rules: RuleSet) -> Finding | None:
    if signal.outcome is not CallOutcome.ANSWERED_CONCERN:
        return None
    rule = rules.safety_call
    severity = _worst(*(rule.concern_severity.get(c, Severity.CAUTION) for c in signal.concerns))
    return Finding(
        reason=AlertReason.SAFETY_CALL_CONCERN,
        severity=severity,
        rule=_ref(rule.concern_rule_id, rules, concerns=",".join(c.value for c in signal.concerns)),
        evidence=(evidence_of(signal),),
    )


# -- arrears -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ArrearsMemory:
    """Recent qualifying arrears: (type, as-of date, event) per type, newest kept; the months
    overdue per type as last reported (``levels``), and as they stood when a person last
    found the household well (``checked``)."""

    recent: tuple[tuple[str, date, EvidenceRef], ...] = ()
    levels: tuple[tuple[str, int], ...] = ()
    checked: tuple[tuple[str, int], ...] = ()

    def to_state(self) -> dict[str, Any]:
        """As the rule-state row stores it (JSON)."""
        return {
            "recent": [
                {"type": t, "as_of": d.isoformat(), "evidence": e.model_dump(mode="json")}
                for t, d, e in self.recent
            ],
            "levels": dict(self.levels),
            "checked": dict(self.checked),
        }

    @classmethod
    def of_state(cls, state: dict[str, Any]) -> ArrearsMemory:
        return cls(
            recent=tuple(
                (
                    r["type"],
                    date.fromisoformat(r["as_of"]),
                    EvidenceRef.model_validate(r["evidence"]),
                )
                for r in state.get("recent", [])
            ),
            levels=tuple(sorted(state.get("levels", {}).items())),
            checked=tuple(sorted(state.get("checked", {}).items())),
        )


def found_well(memory: ArrearsMemory) -> ArrearsMemory:
    """A person found the household well (or in no need): the debts as they stand now are
    known; the same debts are not news again (``ArrearsRule.recheck_after_months``)."""
    return replace(memory, checked=memory.levels)


def arrears(
    memory: ArrearsMemory, signal: ArrearsSignal, rules: RuleSet
) -> tuple[ArrearsMemory, Finding | None]:
    rule = rules.arrears
    kind, months = signal.arrears_type.value, signal.months_overdue
    levels, checked = dict(memory.levels), dict(memory.checked)
    levels[kind] = months
    if months < rule.min_months_overdue:
        checked.pop(kind, None)  # paid down: a new run of arrears is news again
    memory = replace(
        memory, levels=tuple(sorted(levels.items())), checked=tuple(sorted(checked.items()))
    )
    if months < rule.min_months_overdue or signal.arrears_type not in rule.types:
        return memory, None
    seen = checked.get(kind)
    if rule.recheck_after_months and seen is not None and months < seen + rule.recheck_after_months:
        return memory, None  # checked and found well at about this debt: only worse is news
    horizon = signal.as_of - timedelta(days=rule.double_check_window_days)
    kept = [r for r in memory.recent if r[1] >= horizon and r[0] != signal.arrears_type.value]
    kept.append((signal.arrears_type.value, signal.as_of, evidence_of(signal)))
    memory = replace(memory, recent=tuple(sorted(kept, key=lambda r: r[1])))
    types = {r[0] for r in kept}
    double = len(types) >= rule.double_check_min_types
    return memory, Finding(
        reason=AlertReason.ARREARS,
        severity=rule.double_check_severity if double else rule.severity,
        rule=_ref(
            rule.rule_id,
            rules,
            min_months_overdue=rule.min_months_overdue,
            double_check_window_days=rule.double_check_window_days,
            double_check_min_types=rule.double_check_min_types,
            types_in_window=len(types),
        ),
        evidence=tuple(r[2] for r in kept) if double else (evidence_of(signal),),
    )


# -- disconnection ----------------------------------------------------------------------


def disconnection(signal: DisconnectionSignal, rules: RuleSet, local_month: int) -> Finding:
    rule = rules.disconnection
    if signal.state is DisconnectionState.PENDING:
        severity = rule.pending_severity
    elif signal.utility in rule.high_utilities:
        severity = (
            rule.cut_severity_winter if local_month in rule.winter_months else rule.cut_severity
        )
    else:
        severity = rule.other_cut_severity
    return Finding(
        reason=AlertReason.DISCONNECTION,
        severity=severity,
        rule=_ref(
            rule.rule_id,
            rules,
            utility=signal.utility.value,
            state=signal.state.value,
            winter=local_month in rule.winter_months,
        ),
        evidence=(evidence_of(signal),),
    )


# -- usage drop ------------------------------------------------------------------------


def usage_drop_ratio(signal: UsageDropSignal, rules: RuleSet) -> float | None:
    """1 - (mean of the last window days) / (mean of the baseline days before them)."""
    if signal.daily_usage is None:
        return signal.drop_ratio
    rule = rules.usage_drop
    series = sorted(signal.daily_usage, key=lambda d: d.day)
    window = rule.window_days
    recent, baseline = series[-window:], series[-(window + rule.baseline_days) : -window]
    if len(recent) < window or len(baseline) < rule.baseline_days // 2:
        return signal.drop_ratio  # not enough history to compute one
    base = sum(d.value for d in baseline) / len(baseline)
    if base <= 0:
        return None
    return max(0.0, 1 - (sum(d.value for d in recent) / len(recent)) / base)


def usage_drop(signal: UsageDropSignal, rules: RuleSet) -> Finding | None:
    rule = rules.usage_drop
    ratio = usage_drop_ratio(signal, rules)
    if ratio is None or ratio < rule.min_drop_ratio:
        return None
    return Finding(
        reason=AlertReason.USAGE_DROP,
        severity=rule.severity,
        rule=_ref(
            rule.rule_id,
            rules,
            min_drop_ratio=rule.min_drop_ratio,
            baseline_days=rule.baseline_days,
            window_days=rule.window_days,
            drop_ratio=round(ratio, 3),
        ),
        evidence=(evidence_of(signal),),
    )


# -- the human safety net, SOS, lists, hospitals, the post -------------------------------


def report(signal: ReportSignal, rules: RuleSet) -> Finding:
    rule = rules.report
    severity = Severity.CRITICAL if signal.category in rule.critical_categories else rule.severity
    severity = _worst(severity, rule.urgency_severity.get(signal.urgency, Severity.WATCH))
    return Finding(
        reason=AlertReason.HUMAN_REPORT,
        severity=severity,
        rule=_ref(
            rule.rule_id, rules, category=signal.category.value, urgency=signal.urgency.value
        ),
        evidence=(evidence_of(signal),),
    )


def sos(signal: SosSignal, rules: RuleSet) -> Finding:
    return Finding(
        reason=AlertReason.SOS,
        severity=rules.sos.severity,
        rule=_ref(rules.sos.rule_id, rules, trigger=signal.trigger.value),
        evidence=(evidence_of(signal),),
    )


def blind_spot(signal: BlindSpotSignal, rules: RuleSet) -> Finding:
    return Finding(
        reason=AlertReason.BLIND_SPOT,
        severity=rules.blind_spot.severity,
        rule=_ref(
            rules.blind_spot.rule_id,
            rules,
            round=signal.round_id,
            due_date=signal.due_date.isoformat(),
            reasons=len(signal.reasons),
        ),
        evidence=(evidence_of(signal),),
    )


def in_hospital_until(
    signal: HospitalAdmissionSignal | HospitalDischargeSignal, rule: HospitalStayRule, tz: ZoneInfo
) -> datetime | None:
    """Until when a hospital notice says the resident is in its ward (None: the rule is off).

    An admission: until its planned discharge, or ``default_stay_days`` after admission when
    none is planned; a discharge notice: until its date. Either way the resident is taken
    to be home again at ``back_home_hour`` local time that day.
    """
    if not rule.pause_watch:
        return None
    if isinstance(signal, HospitalAdmissionSignal):
        day = signal.expected_discharge or signal.admitted_on + timedelta(
            days=rule.default_stay_days
        )
    else:
        day = signal.discharge_date
    return datetime.combine(day, time(rule.back_home_hour), tz)


def resting_in_hospital(kind: SignalKind, occurred_at: datetime, until: datetime | None) -> bool:
    """A signal the detector sets aside because the resident is in a partner hospital."""
    return until is not None and occurred_at < until and kind not in HEARD_IN_HOSPITAL


def hospital_discharge(signal: HospitalDischargeSignal, rules: RuleSet) -> Finding:
    return Finding(
        reason=AlertReason.HOSPITAL_DISCHARGE,
        severity=rules.hospital_discharge.severity,
        rule=_ref(
            rules.hospital_discharge.rule_id,
            rules,
            discharge_date=signal.discharge_date.isoformat(),
        ),
        evidence=(evidence_of(signal),),
    )


def mail_uncollected(
    signal: MailUncollectedSignal, rules: RuleSet, last_activity: datetime | None = None
) -> Finding | None:
    """Registered mail left uncollected; ``last_activity``: the latest device activity.

    Uncollected mail asks "is the person there?": a device active within
    ``active_within_hours`` answers it (the person is about, just not collecting mail).
    """
    rule = rules.mail_uncollected
    if signal.days_uncollected < rule.min_days:
        return None
    if (
        rule.active_within_hours
        and last_activity is not None
        and signal.occurred_at - last_activity <= timedelta(hours=rule.active_within_hours)
    ):
        return None
    return Finding(
        reason=AlertReason.MAIL_UNCOLLECTED,
        severity=rule.severity,
        rule=_ref(rule.rule_id, rules, min_days=rule.min_days, days=signal.days_uncollected),
        evidence=(evidence_of(signal),),
    )


# -- smart water meters (수도 원격검침) ----------------------------------------------------


def water_meter(signal: WaterMeterSignal, rules: RuleSet) -> Finding | None:
    """No flow for ``no_flow_hours`` (the stronger finding), or the last day's use below the
    household's own baseline by ``min_drop_ratio`` or more; a usage-drop alert either way."""
    rule = rules.water_meter
    if signal.hours_without_flow >= rule.no_flow_hours:
        return Finding(
            reason=AlertReason.USAGE_DROP,
            severity=rule.no_flow_severity,
            rule=_ref(
                rule.rule_id,
                rules,
                no_flow_hours=rule.no_flow_hours,
                hours_without_flow=round(signal.hours_without_flow, 1),
            ),
            evidence=(evidence_of(signal),),
        )
    baseline = signal.baseline_litres_per_day
    if baseline is None:
        return None  # no baseline to judge a drop against
    drop = max(0.0, 1 - signal.litres_last_24h / baseline)
    if drop < rule.min_drop_ratio:
        return None
    return Finding(
        reason=AlertReason.USAGE_DROP,
        severity=rule.drop_severity,
        rule=_ref(
            rule.rule_id, rules, min_drop_ratio=rule.min_drop_ratio, drop_ratio=round(drop, 3)
        ),
        evidence=(evidence_of(signal),),
    )


def due_by(signal: Signal) -> datetime | date | None:
    """A deadline the signal itself sets (a list round's due date, a discharge date)."""
    if isinstance(signal, BlindSpotSignal):
        return signal.due_date
    if isinstance(signal, HospitalDischargeSignal):
        return signal.discharge_date
    return None
