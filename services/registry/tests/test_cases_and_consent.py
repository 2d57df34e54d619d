"""Case workflow and consent rules as pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from anbu_contracts import ChannelEnrolment, MonitoringChannel
from anbu_registry.domain.cases import (
    Case,
    CaseLevel,
    CaseState,
    IllegalTransition,
    RuleViolation,
    may_grant_emergency_aid,
    transfer,
    transition,
)
from anbu_registry.domain.consent import ConsentRecord, apply_consent, current_consent

T0 = datetime(2026, 11, 25, tzinfo=UTC)


def new_case() -> Case:
    return Case("C-1", "HH-AAAAAA", "1111051500", CaseState.DISCOVERED, None, T0)


def walk(*states: CaseState, level: CaseLevel | None = CaseLevel.ORDINARY) -> Case:
    case = new_case()
    for state in states:
        case = transition(case, state, T0, level=level, reason="done")
    return case


def test_a_case_walks_the_whole_workflow_to_follow_up() -> None:
    case = walk(
        CaseState.COUNSELLING,
        CaseState.CRISIS_CONFIRMED,
        CaseState.OPENED,
        CaseState.ASSESSED,
        CaseState.PLANNED,
        CaseState.LINKED,
        CaseState.MONITORING,
        CaseState.CLOSED,
        CaseState.FOLLOW_UP,
    )
    assert case.state is CaseState.FOLLOW_UP
    assert case.level is CaseLevel.ORDINARY and case.closed_at == T0


def test_a_case_cannot_skip_the_crisis_confirmation() -> None:
    with pytest.raises(IllegalTransition, match="allowed: closed, crisis_confirmed"):
        transition(walk(CaseState.COUNSELLING), CaseState.OPENED, T0, level=CaseLevel.ORDINARY)


def test_opening_needs_a_level_and_closing_needs_a_reason() -> None:
    confirmed = walk(CaseState.COUNSELLING, CaseState.CRISIS_CONFIRMED)
    with pytest.raises(IllegalTransition, match="level"):
        transition(confirmed, CaseState.OPENED, T0)
    with pytest.raises(IllegalTransition, match="reason"):
        transition(confirmed, CaseState.CLOSED, T0)


def test_a_closed_case_only_goes_to_follow_up() -> None:
    closed = transition(new_case(), CaseState.CLOSED, T0, reason="no need")
    with pytest.raises(IllegalTransition):
        transition(closed, CaseState.COUNSELLING, T0)


def test_a_case_moves_with_the_household() -> None:
    moved = transfer(walk(CaseState.COUNSELLING), "1111053000")
    assert moved.dong_code == "1111053000" and moved.state is CaseState.COUNSELLING


def test_emergency_aid_is_not_granted_twice_for_the_same_reason_within_two_years() -> None:
    granted = [("income_loss", date(2025, 3, 1))]
    with pytest.raises(RuleViolation, match="two years"):
        may_grant_emergency_aid("income_loss", granted, date(2026, 11, 25))
    may_grant_emergency_aid("eviction", granted, date(2026, 11, 25))  # another reason
    may_grant_emergency_aid("income_loss", granted, date(2027, 3, 2))  # after two years


def record(channel: MonitoringChannel, given: bool, minutes: int) -> ConsentRecord:
    return ConsentRecord(channel, given, T0 + timedelta(minutes=minutes), "U-1", "form-1")


def test_the_newest_consent_record_decides() -> None:
    history = [
        record(MonitoringChannel.PHONE, True, 0),
        record(MonitoringChannel.SMART_PLUG, True, 1),
        record(MonitoringChannel.PHONE, False, 2),
    ]
    assert current_consent(history) == {
        MonitoringChannel.PHONE: False,
        MonitoringChannel.SMART_PLUG: True,
    }


def test_withdrawal_clears_the_channels_consent_and_new_consent_enrols() -> None:
    enrolled = [ChannelEnrolment(channel=MonitoringChannel.PHONE, consent=True, window_hours=12)]
    after = apply_consent(
        enrolled, {MonitoringChannel.PHONE: False, MonitoringChannel.MOTION_SENSOR: True}
    )
    assert after == [
        ChannelEnrolment(channel=MonitoringChannel.MOTION_SENSOR, consent=True),
        ChannelEnrolment(channel=MonitoringChannel.PHONE, consent=False, window_hours=12),
    ]
