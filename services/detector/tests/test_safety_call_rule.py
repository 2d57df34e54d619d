"""The safety-call rule and the alert lifecycle, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from anbu_contracts import (
    AlertChange,
    AlertReason,
    AlertResolution,
    AlertStatus,
    SafetyCallSignal,
    Severity,
)
from anbu_detector.domain import alerts
from anbu_detector.domain.rules import SafetyCallRule
from anbu_detector.domain.safety_calls import SafetyCallState, apply_safety_call, reset

T0 = datetime(2026, 11, 25, 9, tzinfo=UTC)
RULE = SafetyCallRule(unanswered_threshold=3)


def call(hours: float, outcome: str = "unanswered", **extra: object) -> SafetyCallSignal:
    return SafetyCallSignal(
        occurred_at=T0 + timedelta(hours=hours),
        source="ai",
        household_id="HH-AAAAAA",
        partner_id="ai",
        partner_event_id=str(uuid4()),
        outcome=outcome,
        **extra,  # type: ignore[arg-type]
    )


def fold(*signals: SafetyCallSignal) -> tuple[SafetyCallState, list[alerts.Finding]]:
    state, findings = SafetyCallState(), []
    for signal in signals:
        state, finding = apply_safety_call(state, signal, RULE, "v-test")
        if finding:
            findings.append(finding)
    return state, findings


def test_three_unanswered_calls_mean_safety_is_not_confirmed() -> None:
    signals = [call(0), call(1), call(2)]
    _, findings = fold(*signals)
    [finding] = findings
    assert finding.reason is AlertReason.SAFETY_NOT_CONFIRMED
    assert finding.severity is Severity.ALERT
    assert [e.event_id for e in finding.evidence] == [s.event_id for s in signals]
    assert finding.rule.rule_id == "safety-call.unanswered-streak"
    assert finding.rule.rule_version == "v-test"
    assert finding.rule.thresholds == {"unanswered_threshold": 3}


def test_two_unanswered_calls_are_not_enough() -> None:
    state, findings = fold(call(0), call(1))
    assert findings == [] and state.consecutive_unanswered == 2


def test_an_answered_call_breaks_the_streak() -> None:
    _, findings = fold(call(0), call(1), call(2, "answered_ok"), call(3), call(4))
    assert findings == []


def test_unreachable_counts_as_unanswered() -> None:
    _, findings = fold(call(0, "unreachable"), call(1), call(2, "unreachable"))
    assert len(findings) == 1


def test_a_concern_answer_confirms_the_person_is_alive() -> None:
    _, findings = fold(call(0), call(1), call(2, "answered_concern", concerns=["ill"]), call(3))
    assert findings == []


def test_a_late_call_cannot_change_the_streak() -> None:
    state, _ = fold(call(0), call(2))
    late_answer = call(1, "answered_ok")  # observed before the newest call, arrived after it
    after, finding = apply_safety_call(state, late_answer, RULE, "v")
    assert after == state and finding is None


def test_a_fourth_unanswered_call_is_evidence_for_the_same_finding() -> None:
    signals = [call(h) for h in range(4)]
    _, findings = fold(*signals)
    assert len(findings) == 2
    assert [e.event_id for e in findings[1].evidence] == [s.event_id for s in signals[1:]]


def test_confirmation_resets_the_streak() -> None:
    state, _ = fold(call(0), call(1), call(2))
    assert reset(state).consecutive_unanswered == 0


def test_an_open_alert_absorbs_new_evidence_instead_of_a_duplicate() -> None:
    _, findings = fold(*(call(h) for h in range(4)))
    alert = alerts.open_alert(uuid4(), "HH-AAAAAA", findings[0], T0, None)
    updated, change = alerts.absorb(alert, findings[1])
    assert change is AlertChange.EVIDENCE_ADDED
    assert len(updated.evidence) == 4
    same, nothing = alerts.absorb(updated, findings[1])
    assert nothing is None and same == updated


def test_a_worse_finding_raises_the_severity() -> None:
    _, [finding] = fold(call(0), call(1), call(2))
    alert = alerts.open_alert(uuid4(), "HH-AAAAAA", finding, T0, None)
    worse = alerts.Finding(finding.reason, Severity.CRITICAL, finding.rule, finding.evidence)
    raised, change = alerts.absorb(alert, worse)
    assert change is AlertChange.SEVERITY_RAISED and raised.severity is Severity.CRITICAL


def test_resolving_twice_changes_nothing() -> None:
    _, [finding] = fold(call(0), call(1), call(2))
    alert = alerts.open_alert(uuid4(), "HH-AAAAAA", finding, T0, None)
    resolved = alerts.resolve(alert, AlertResolution.OUTCOME, T0 + timedelta(hours=5))
    assert resolved.status is AlertStatus.RESOLVED
    assert alerts.resolve(resolved, AlertResolution.OPERATOR, T0 + timedelta(days=1)) == resolved


def test_activity_after_the_first_missed_call_holds_the_streak_back() -> None:
    rule = SafetyCallRule(unanswered_threshold=3, activity_clears=True)
    calls = [call(0), call(9), call(24)]

    def streak_with(last_activity: datetime | None) -> object:
        state, finding = SafetyCallState(), None
        for signal in calls:
            state, finding = apply_safety_call(state, signal, rule, "v", last_activity)
        return finding

    assert streak_with(T0 + timedelta(hours=12)) is None  # the phone was used after the calls
    assert streak_with(T0 - timedelta(hours=1)) is not None  # nothing since: not confirmed
    assert streak_with(None) is not None
    plain = SafetyCallRule(unanswered_threshold=3)  # the old rule ignores activity
    state, finding = SafetyCallState(), None
    for signal in calls:
        state, finding = apply_safety_call(state, signal, plain, "v", T0 + timedelta(hours=12))
    assert finding is not None
