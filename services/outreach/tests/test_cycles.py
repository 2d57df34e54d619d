"""Routine contact cycles per tier (domain brief §4): when contacts fall due and overdue."""

from __future__ import annotations

from datetime import datetime, timedelta

from anbu_contracts import ContactMode, HouseholdStatus, OutcomeResult, Role, Tier
from anbu_outreach.domain.cycles import (
    ContactHistory,
    CycleKind,
    CycleState,
    Period,
    counts_as_visit,
    cycles_due,
    made_contact,
    routine_team,
)

from .roster_builders import SEOUL, T0

TZ = "Asia/Seoul"
ENROLLED = ContactHistory(enrolled_at=T0)


def test_each_tier_has_its_cycle() -> None:
    high = cycles_due(Tier.HIGH_RISK, HouseholdStatus.ACTIVE, ENROLLED, TZ)
    assert high[CycleKind.CONTACT].due_at == T0 + timedelta(days=7)
    assert high[CycleKind.VISIT].due_at == datetime(2026, 12, 25, 10, tzinfo=SEOUL)
    caution = cycles_due(Tier.CAUTION, HouseholdStatus.ACTIVE, ENROLLED, TZ)
    assert set(caution) == {CycleKind.CONTACT}
    assert caution[CycleKind.CONTACT].due_at == datetime(2026, 12, 25, 10, tzinfo=SEOUL)
    watch = cycles_due(Tier.WATCH, HouseholdStatus.ACTIVE, ENROLLED, TZ)
    assert watch[CycleKind.CONTACT].due_at == datetime(2027, 1, 25, 10, tzinfo=SEOUL)
    closed = cycles_due(Tier.CLOSED, HouseholdStatus.ACTIVE, ENROLLED, TZ)
    assert set(closed) == {CycleKind.VISIT}
    assert closed[CycleKind.VISIT].due_at == datetime(2027, 5, 25, 10, tzinfo=SEOUL)


def test_a_cycle_opens_before_it_is_due_and_is_overdue_from_its_due_date() -> None:
    weekly = cycles_due(Tier.HIGH_RISK, HouseholdStatus.ACTIVE, ENROLLED, TZ)[CycleKind.CONTACT]
    assert weekly.opens_at == weekly.due_at - timedelta(days=2)
    assert weekly.state(T0 + timedelta(days=4)) is CycleState.OK
    assert weekly.state(T0 + timedelta(days=5)) is CycleState.DUE
    assert weekly.state(T0 + timedelta(days=7)) is CycleState.OVERDUE


def test_a_phone_contact_resets_the_weekly_cycle_but_not_the_monthly_visit() -> None:
    called = ContactHistory(enrolled_at=T0, last_contact_at=T0 + timedelta(days=6))
    cycles = cycles_due(Tier.HIGH_RISK, HouseholdStatus.ACTIVE, called, TZ)
    assert cycles[CycleKind.CONTACT].due_at == T0 + timedelta(days=13)
    assert cycles[CycleKind.VISIT].due_at == datetime(2026, 12, 25, 10, tzinfo=SEOUL)


def test_an_in_person_visit_resets_both_cycles() -> None:
    visited = ContactHistory(enrolled_at=T0, last_visit_at=T0 + timedelta(days=10))
    cycles = cycles_due(Tier.HIGH_RISK, HouseholdStatus.ACTIVE, visited, TZ)
    assert cycles[CycleKind.CONTACT].due_at == T0 + timedelta(days=17)
    assert cycles[CycleKind.VISIT].due_at == datetime(2027, 1, 5, 10, tzinfo=SEOUL)


def test_a_contact_made_for_any_reason_counts_but_an_attempt_does_not() -> None:
    assert made_contact(OutcomeResult.CONTACT_CONFIRMED)
    assert made_contact(OutcomeResult.REFUSED)
    assert not made_contact(OutcomeResult.NOT_FOUND)
    assert counts_as_visit(OutcomeResult.CONTACT_CONFIRMED, ContactMode.VISIT)
    assert not counts_as_visit(OutcomeResult.CONTACT_CONFIRMED, ContactMode.PHONE)


def test_months_are_calendar_months_in_local_time() -> None:
    end_of_january = datetime(2027, 1, 31, 9, tzinfo=SEOUL)
    assert Period(months=1).after(end_of_january, TZ) == datetime(2027, 2, 28, 9, tzinfo=SEOUL)


def test_a_suspended_or_moved_household_has_no_cycle() -> None:
    for status in (HouseholdStatus.SUSPENDED, HouseholdStatus.MOVED, HouseholdStatus.CLOSED):
        assert cycles_due(Tier.HIGH_RISK, status, ENROLLED, TZ) == {}


def test_the_matched_volunteer_makes_the_routine_call_and_the_official_the_visit() -> None:
    assert routine_team(CycleKind.CONTACT, matched_volunteer=True) == [Role.VOLUNTEER]
    assert routine_team(CycleKind.CONTACT, matched_volunteer=False) == [Role.OFFICIAL]
    assert routine_team(CycleKind.VISIT, matched_volunteer=True) == [Role.OFFICIAL]
