"""Each signal kind's rule at its edges (domain brief §3 defaults)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from anbu_contracts import (
    AlertReason,
    ArrearsSignal,
    DisconnectionSignal,
    HospitalAdmissionSignal,
    HospitalDischargeSignal,
    MailUncollectedSignal,
    ReportSignal,
    SafetyCallSignal,
    Severity,
    SignalKind,
    SosSignal,
    UsageDropSignal,
    WaterMeterSignal,
)
from anbu_detector.adapters.config_files import load_catalog
from anbu_detector.domain import signal_rules
from anbu_detector.domain.signal_rules import ArrearsMemory

RULES = load_catalog().default
T0 = datetime(2026, 11, 25, 9, tzinfo=UTC)


def envelope(**extra: Any) -> dict[str, Any]:
    return {
        "occurred_at": T0,
        "source": "partner",
        "household_id": "HH-AAAAAA",
        "partner_id": "partner",
        "partner_event_id": str(uuid4()),
        **extra,
    }


def arrears(kind: str, months: int, as_of: date) -> ArrearsSignal:
    return ArrearsSignal(
        **envelope(arrears_type=kind, months_overdue=months, amount_krw=100_000, as_of=as_of)
    )


def test_arrears_count_from_exactly_three_months() -> None:
    assert (
        signal_rules.arrears(ArrearsMemory(), arrears("water", 2, date(2026, 11, 1)), RULES)[1]
        is None
    )
    _, finding = signal_rules.arrears(
        ArrearsMemory(), arrears("water", 3, date(2026, 11, 1)), RULES
    )
    assert finding is not None and finding.severity is Severity.CAUTION
    assert finding.rule.thresholds["min_months_overdue"] == 3


def test_two_kinds_of_arrears_within_60_days_raise_the_severity() -> None:
    memory, _ = signal_rules.arrears(
        ArrearsMemory(), arrears("electricity", 4, date(2026, 9, 1)), RULES
    )
    _, finding = signal_rules.arrears(memory, arrears("gas", 3, date(2026, 10, 31)), RULES)
    assert finding is not None and finding.severity is Severity.ALERT
    assert len(finding.evidence) == 2


def test_a_debt_found_well_alerts_again_only_when_two_months_worse() -> None:
    month = [date(2026, m, 5) for m in range(5, 12)]
    memory, first = signal_rules.arrears(ArrearsMemory(), arrears("rent", 3, month[0]), RULES)
    assert first is not None
    memory = signal_rules.found_well(memory)  # a welfare check: the household is well
    memory, same = signal_rules.arrears(memory, arrears("rent", 4, month[1]), RULES)
    assert same is None  # the debt a person has seen, one month on
    memory, other = signal_rules.arrears(memory, arrears("gas", 3, month[1]), RULES)
    assert other is not None  # a debt nobody has seen is news
    memory, worse = signal_rules.arrears(memory, arrears("rent", 5, month[2]), RULES)
    assert worse is not None  # two months worse than when checked
    restored = ArrearsMemory.of_state(memory.to_state())
    assert restored == memory  # as the rule-state row keeps it


def test_a_debt_paid_down_and_run_up_again_is_news_again() -> None:
    memory, _ = signal_rules.arrears(ArrearsMemory(), arrears("rent", 3, date(2026, 5, 5)), RULES)
    memory = signal_rules.found_well(memory)
    memory, _ = signal_rules.arrears(memory, arrears("rent", 0, date(2026, 6, 5)), RULES)
    _, again = signal_rules.arrears(memory, arrears("rent", 3, date(2026, 9, 5)), RULES)
    assert again is not None


def test_with_recheck_off_every_monthly_file_alerts_again() -> None:
    rules = RULES.with_overrides({"arrears.recheck_after_months": 0})
    memory, _ = signal_rules.arrears(ArrearsMemory(), arrears("rent", 3, date(2026, 5, 5)), rules)
    memory = signal_rules.found_well(memory)
    _, same = signal_rules.arrears(memory, arrears("rent", 4, date(2026, 6, 5)), rules)
    assert same is not None


def test_arrears_61_days_apart_are_not_a_double_check() -> None:
    memory, _ = signal_rules.arrears(
        ArrearsMemory(), arrears("electricity", 4, date(2026, 9, 1)), RULES
    )
    _, finding = signal_rules.arrears(memory, arrears("gas", 3, date(2026, 11, 1)), RULES)
    assert finding is not None and finding.severity is Severity.CAUTION


@pytest.mark.parametrize(
    ("utility", "state", "month", "severity"),
    [
        ("power", "cut", 12, Severity.CRITICAL),
        ("power", "cut", 6, Severity.ALERT),
        ("gas", "pending", 1, Severity.CAUTION),
        ("water", "cut", 1, Severity.CAUTION),
    ],
)
def test_cuts_of_power_gas_or_heating_are_worse_in_winter(
    utility: str, state: str, month: int, severity: Severity
) -> None:
    signal = DisconnectionSignal(**envelope(utility=utility, state=state))
    assert signal_rules.disconnection(signal, RULES, month).severity is severity


def test_a_usage_drop_counts_from_80_percent_below_the_baseline() -> None:
    def series(recent: float) -> UsageDropSignal:
        days = [{"day": date(2026, 10, 1) + timedelta(days=n), "value": 10.0} for n in range(28)]
        days += [{"day": date(2026, 10, 29) + timedelta(days=n), "value": recent} for n in range(7)]
        return UsageDropSignal(**envelope(utility="power", daily_usage=days))

    assert signal_rules.usage_drop(series(2.0), RULES) is not None  # exactly 80 %
    assert signal_rules.usage_drop(series(2.1), RULES) is None  # 79 %


def test_reports_of_suicide_risk_abuse_or_emergency_are_critical() -> None:
    def report(category: str, urgency: str = "normal") -> ReportSignal:
        return ReportSignal(
            **envelope(
                reporter_role="meter_reader", reporter_id="R-1", category=category, urgency=urgency
            )
        )

    assert signal_rules.report(report("abuse"), RULES).severity is Severity.CRITICAL
    assert signal_rules.report(report("odour"), RULES).severity is Severity.ALERT
    assert signal_rules.report(report("odour", "emergency"), RULES).severity is Severity.CRITICAL


def test_sos_is_critical_and_mail_counts_from_seven_days() -> None:
    assert (
        signal_rules.sos(SosSignal(**envelope(device_id="b-1")), RULES).severity
        is Severity.CRITICAL
    )
    six = MailUncollectedSignal(**envelope(days_uncollected=6))
    seven = MailUncollectedSignal(**envelope(days_uncollected=7))
    assert signal_rules.mail_uncollected(six, RULES) is None
    found = signal_rules.mail_uncollected(seven, RULES)
    assert found is not None and found.reason is AlertReason.MAIL_UNCOLLECTED


def test_a_help_answer_is_a_critical_concern() -> None:
    call = SafetyCallSignal(**envelope(outcome="answered_concern", concerns=["asks_for_help"]))
    found = signal_rules.safety_call_concern(call, RULES)
    assert found is not None and found.severity is Severity.CRITICAL


def test_programme_and_household_overrides_apply_on_top_of_the_defaults() -> None:
    catalog = load_catalog()
    assert (
        catalog.for_household("cold-wave", {}).absence.window_hours(
            next(iter(RULES.absence.windows_hours))
        )
        == 6
    )
    tighter = catalog.for_household("default", {"arrears.min_months_overdue": 2})
    assert signal_rules.arrears(ArrearsMemory(), arrears("rent", 2, date(2026, 11, 1)), tighter)[1]
    with pytest.raises(ValueError, match="unknown rule override"):
        catalog.for_household("default", {"arrears.nonsense": 1})


def water(hours_dry: float, litres: float, baseline: float | None = None) -> WaterMeterSignal:
    return WaterMeterSignal(
        **envelope(
            meter_id="wm-1",
            hours_without_flow=hours_dry,
            litres_last_24h=litres,
            baseline_litres_per_day=baseline,
        )
    )


def test_a_water_meter_without_flow_for_a_day_is_an_alert_and_a_quiet_night_is_not() -> None:
    assert signal_rules.water_meter(water(23.9, 0), RULES) is None
    finding = signal_rules.water_meter(water(24, 0), RULES)
    assert finding is not None and finding.severity is Severity.ALERT
    assert finding.reason is AlertReason.USAGE_DROP
    assert finding.rule.rule_id == "water-meter.no-flow-or-drop"
    assert finding.rule.thresholds["no_flow_hours"] == 24


def test_a_water_day_far_below_the_households_own_baseline_is_a_caution() -> None:
    assert signal_rules.water_meter(water(2, 40, baseline=120), RULES) is None  # 67 % down
    finding = signal_rules.water_meter(water(2, 30, baseline=120), RULES)  # 75 % down
    assert finding is not None and finding.severity is Severity.CAUTION
    assert finding.rule.thresholds["drop_ratio"] == 0.75
    assert signal_rules.water_meter(water(2, 0), RULES) is None  # no baseline: no judgement


# -- a partner hospital's stay --------------------------------------------------------------


def test_an_admission_rests_until_noon_on_the_planned_day_or_after_the_default_stay() -> None:
    seoul = ZoneInfo("Asia/Seoul")
    rule = RULES.hospital_stay
    planned = HospitalAdmissionSignal(
        **envelope(), admitted_on=date(2026, 11, 25), expected_discharge=date(2026, 11, 30)
    )
    unplanned = HospitalAdmissionSignal(**envelope(), admitted_on=date(2026, 11, 25))
    notice = HospitalDischargeSignal(**envelope(), discharge_date=date(2026, 11, 28))
    assert signal_rules.in_hospital_until(planned, rule, seoul) == datetime(
        2026, 11, 30, 12, tzinfo=seoul
    )
    assert signal_rules.in_hospital_until(unplanned, rule, seoul) == datetime(
        2026, 12, 9, 12, tzinfo=seoul
    )
    assert signal_rules.in_hospital_until(notice, rule, seoul) == datetime(
        2026, 11, 28, 12, tzinfo=seoul
    )
    off = rule.model_copy(update={"pause_watch": False})
    assert signal_rules.in_hospital_until(planned, off, seoul) is None
    until = datetime(2026, 11, 30, 12, tzinfo=seoul)
    assert signal_rules.resting_in_hospital(SignalKind.SAFETY_CALL, T0, until)
    assert not signal_rules.resting_in_hospital(SignalKind.SOS, T0, until)
    assert not signal_rules.resting_in_hospital(SignalKind.REPORT, T0, until)
    assert not signal_rules.resting_in_hospital(SignalKind.SAFETY_CALL, until, until)
    assert not signal_rules.resting_in_hospital(SignalKind.SAFETY_CALL, T0, None)


def test_an_admission_discharged_before_it_began_is_refused() -> None:
    with pytest.raises(ValueError, match="expected_discharge is before admitted_on"):
        HospitalAdmissionSignal(
            **envelope(), admitted_on=date(2026, 11, 25), expected_discharge=date(2026, 11, 24)
        )
